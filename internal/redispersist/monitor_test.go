package redispersist

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/sesame-go/sesame/internal/redistest"
	"github.com/sesame-go/sesame/internal/sesametest"
	"github.com/sesame-go/sesame/revocation"
)

func TestPersistenceDurability(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		opts   *redistest.Options
		want   Durability
		detail string
	}{
		{"nothing on disk", nil, DurabilityNone, `appendonly=no save=""`},
		{"aof", &redistest.Options{Persistence: true}, DurabilityAOF, "appendonly=yes"},
		{"rdb snapshots", &redistest.Options{Args: []string{"--save", "3600 1"}}, DurabilityRDB, `save="3600 1"`},
		{"CONFIG disabled, no aof", &redistest.Options{Args: []string{"--rename-command", "CONFIG", ""}}, DurabilityUnknown, "CONFIG refused"},
		{"CONFIG disabled, aof", &redistest.Options{Persistence: true, Args: []string{"--rename-command", "CONFIG", ""}}, DurabilityAOF, "INFO aof_enabled:1"},
		{"evicting", &redistest.Options{Persistence: true, Args: []string{"--maxmemory-policy", "allkeys-lru"}}, DurabilityAOF, "maxmemory-policy=allkeys-lru"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			srv := redistest.Start(t, tc.opts)
			s, err := newStore(srv.Client())
			if err != nil {
				t.Fatal(err)
			}
			st, err := newMonitor(s, nil).Check(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			if st.Durability != tc.want || !strings.Contains(st.Detail, tc.detail) {
				t.Fatalf("got %s (%s), want %s (%s)", st.Durability, st.Detail, tc.want, tc.detail)
			}
			if want := strings.Contains(tc.detail, "allkeys"); st.Evicting != want {
				t.Fatalf("Evicting %v, want %v", st.Evicting, want)
			}
		})
	}
}

// TestResetDetectedAndRepublished is the probe's W6: Redis without
// persistence restarts empty under a running fleet. Before, nothing noticed,
// and a revoked session passed every check that asks Redis (strict routes,
// nodes started afterwards). Now the monitor sees the reset, and the
// journal writes the live revocations back.
func TestResetDetectedAndRepublished(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	srv := redistest.Start(t, nil)
	s, err := newStore(srv.Client())
	if err != nil {
		t.Fatal(err)
	}
	j := revocation.NewJournal(s, nil)
	rep := sesametest.StartReplica(t, j, &revocation.ReplicaOptions{StalenessBound: 2 * time.Second})

	var republished atomic.Int64
	mon := newMonitor(s, &Options{OnReset: func(ctx context.Context, _ Status) error {
		n, err := j.Republish(ctx, s)
		republished.Add(int64(n))
		return err
	}})
	if st, err := mon.Check(ctx); err != nil || st.Resets != 0 || st.Durability != DurabilityNone {
		t.Fatalf("first check: %+v, %v", st, err)
	}

	before := time.Now().Add(-time.Minute).Truncate(time.Millisecond)
	for _, err := range []error{
		s.RevokeSession(ctx, "sid-1"),
		s.RevokeToken(ctx, "jti-1"),
		s.RevokeUser(ctx, "user-1", before),
	} {
		if err != nil {
			t.Fatal(err)
		}
	}
	subjects := []revocation.Subject{{SID: "sid-1"}, {JTI: "jti-1"}, {UserID: "user-1", IssuedAt: before.Add(-time.Second)}}
	// A stale replica answers "revoked" with ErrStale (fail closed): only
	// an answer without error says it holds the entry, and so that the
	// journal, which sees every entry before the replica, holds it too.
	holdsAll := func() bool {
		for _, sub := range subjects {
			if revoked, err := rep.Check(sub); err != nil || !revoked {
				return false
			}
		}
		return true
	}
	sesametest.WaitFor(t, time.Millisecond, 10*time.Second, "the replica holds every revocation", holdsAll)
	if n := j.Len(); n != 3 {
		t.Fatalf("the journal holds %d entries, want 3", n)
	}
	if st, _ := mon.Check(ctx); st.Resets != 0 {
		t.Fatalf("a reset without one: %+v", st)
	}

	srv.Restart() // no persistence: empty
	for _, sub := range subjects {
		if revoked, err := s.IsRevoked(ctx, sub); err != nil || revoked {
			t.Fatalf("setup: after the empty restart, %+v is revoked=%v (%v): the loss did not happen", sub, revoked, err)
		}
	}
	// The replica keeps what it held (it only ever merges).
	if !holdsAll() {
		t.Fatal("after the empty restart, the replica lost a revocation")
	}
	st, err := mon.Check(ctx)
	if err != nil || st.Resets != 1 || st.LastReset.IsZero() {
		t.Fatalf("check after the reset: %+v, %v", st, err)
	}
	if n := republished.Load(); n != 3 {
		t.Fatalf("republished %d entries, want 3 (last error %v)", n, mon.Status().LastError)
	}
	for _, sub := range subjects {
		if revoked, err := s.IsRevoked(ctx, sub); err != nil || !revoked {
			t.Fatalf("after republishing, %+v is revoked=%v (%v)", sub, revoked, err)
		}
	}
	if revoked, _ := s.IsRevoked(ctx, revocation.Subject{UserID: "user-1", IssuedAt: before.Add(time.Second)}); revoked {
		t.Fatal("republishing moved the user's revoked-before later")
	}
	if st, _ := mon.Check(ctx); st.Resets != 1 || republished.Load() != 3 {
		t.Fatalf("a second check counted the reset again: %+v", st)
	}
	// The replica still holds every entry.
	for _, sub := range subjects {
		if revoked, err := rep.Check(sub); err != nil || !revoked {
			t.Fatalf("the replica says %+v is revoked=%v (%v)", sub, revoked, err)
		}
	}

	// FLUSHALL is a reset too.
	if err := srv.Client().FlushAll(ctx).Err(); err != nil {
		t.Fatal(err)
	}
	if st, _ := mon.Check(ctx); st.Resets != 2 {
		t.Fatalf("after FLUSHALL: %+v", st)
	}
}

func TestRestartWithPersistenceIsNoReset(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	srv := redistest.Start(t, &redistest.Options{Persistence: true})
	s, err := newStore(srv.Client())
	if err != nil {
		t.Fatal(err)
	}
	mon := newMonitor(s, nil)
	if _, err := mon.Check(ctx); err != nil {
		t.Fatal(err)
	}
	srv.Restart()
	if st, err := mon.Check(ctx); err != nil || st.Resets != 0 || st.Durability != DurabilityAOF {
		t.Fatalf("after a restart with AOF: %+v, %v", st, err)
	}
	srv.Kill()
	st, err := mon.Check(ctx)
	if !errors.Is(err, revocation.ErrUnavailable) || !errors.Is(st.LastError, revocation.ErrUnavailable) || st.Resets != 0 {
		t.Fatalf("Redis down: %+v, %v; want revocation.ErrUnavailable", st, err)
	}
}

// TestResetOnClusterMaster: one marker per master, so losing any one
// master's data set is seen.
func TestResetOnClusterMaster(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	c := redistest.StartCluster(t, nil)
	client := c.ClusterClient(&redis.ClusterOptions{ClusterStateReloadInterval: 250 * time.Millisecond,
		DialTimeout: 200 * time.Millisecond, ReadTimeout: 500 * time.Millisecond, WriteTimeout: 500 * time.Millisecond})
	s, err := newStore(client)
	if err != nil {
		t.Fatal(err)
	}
	mon := newMonitor(s, nil)
	st, err := mon.Check(ctx)
	if err != nil || st.Durability != DurabilityNone || strings.Count(st.Detail, ";") != 2 {
		t.Fatalf("first check: %+v, %v", st, err)
	}
	masters := map[*redistest.Server]string{}
	for k := range mon.markers {
		masters[c.MasterOf(k)] = k
	}
	if len(masters) != 3 {
		t.Fatalf("markers %v are on %d masters, want 3", mon.markers, len(masters))
	}
	for m, key := range masters {
		// Lose one master's data set only.
		if err := m.Client().FlushAll(ctx).Err(); err != nil {
			t.Fatal(err)
		}
		if st, err := mon.Check(ctx); err != nil || st.Resets != 1 {
			t.Fatalf("after flushing the master of %q: %+v, %v", key, st, err)
		}
		break
	}
}

var prefixSeq atomic.Int64

// store is a Redis revocation store with the client and key prefix a
// Monitor beside it is given.
type store struct {
	revocation.Backend
	client redis.UniversalClient
	prefix string
}

func newStore(client redis.UniversalClient) (*store, error) {
	p := fmt.Sprintf("t%d:", prefixSeq.Add(1))
	b, err := revocation.NewRedis(client, &revocation.RedisOptions{KeyPrefix: p})
	return &store{Backend: b, client: client, prefix: p}, err
}

func newMonitor(s *store, opts *Options) *Monitor { return New(s.client, s.prefix, opts) }
