package revocation

import (
	"context"
	"errors"
	"strconv"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/sesame-go/sesame/internal/redistest"
)

// fastClient fails fast while the server is down, so lag tests do not wait
// on dial retries.
func fastClient(srv *redistest.Server) *redis.Client {
	return srv.Client(&redis.Options{MaxRetries: -1, DialerRetries: 1, DialTimeout: 200 * time.Millisecond,
		ReadTimeout: 500 * time.Millisecond, WriteTimeout: 500 * time.Millisecond})
}

func TestRedisTwoReplicas(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t, nil)
	prefix := uniquePrefix()
	a, _ := newRedis(srv.Client(), &RedisOptions{KeyPrefix: prefix})
	b, _ := newRedis(srv.Client(), &RedisOptions{KeyPrefix: prefix})
	testTwoReplicas(t, a, b)
}

// TestRedisReplicaSurvivesRestart kills Redis under a running replica: while
// it is down the lag grows and the policy applies; revocations written
// during the gap (after the restart, before the replica reconnects, through
// another client) and after it are all seen.
func TestRedisReplicaSurvivesRestart(t *testing.T) {
	for _, persist := range []bool{true, false} {
		t.Run("persistence="+strconv.FormatBool(persist), func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			srv := redistest.Start(t, &redistest.Options{Persistence: persist})
			prefix := uniquePrefix()
			feedStore, _ := newRedis(fastClient(srv), &RedisOptions{KeyPrefix: prefix})
			writer, _ := newRedis(srv.Client(), &RedisOptions{KeyPrefix: prefix})
			const bound = 300 * time.Millisecond
			closed, _ := NewReplica(feedStore, &ReplicaOptions{StalenessBound: bound, ReadWait: 50 * time.Millisecond})
			open, _ := NewReplica(feedStore, &ReplicaOptions{StalenessBound: bound, ReadWait: 50 * time.Millisecond, Policy: FailOpen})
			startReplica(t, closed)
			startReplica(t, open)
			for i := range 10 {
				_ = writer.RevokeSession(ctx, "before-"+strconv.Itoa(i))
			}
			for _, r := range []*Replica{closed, open} {
				waitFor(t, 10*time.Second, func() bool { return holds(r, Subject{SID: "before-9"}) })
			}

			srv.Kill()
			waitFor(t, 10*time.Second, func() bool { return closed.Status().Stale })
			if ok, err := closed.Check(Subject{SID: "nobody"}); !ok || !errors.Is(err, ErrStale) {
				t.Fatalf("fail-closed while down: got %v, %v", ok, err)
			}
			waitFor(t, 10*time.Second, func() bool { return open.Status().Stale })
			if ok, err := open.Check(Subject{SID: "nobody"}); ok || err != nil {
				t.Fatalf("fail-open while down: got %v, %v", ok, err)
			}
			if ok, err := open.Check(Subject{SID: "before-3"}); !ok || err != nil {
				t.Fatalf("fail-open keeps what it knows: got %v, %v", ok, err)
			}
			st := closed.Status()
			if !st.Stale || st.Lag <= bound || st.LastError == "" {
				t.Fatalf("status while down: %+v", st)
			}

			srv.Restart()
			for i := range 10 {
				if err := writer.RevokeSession(ctx, "gap-"+strconv.Itoa(i)); err != nil {
					t.Fatal(err)
				}
			}
			for _, r := range []*Replica{closed, open} {
				waitFor(t, 15*time.Second, func() bool {
					ok, err := r.Check(Subject{SID: "gap-9"})
					return ok && err == nil
				})
			}
			_ = writer.RevokeToken(ctx, "after")
			for _, r := range []*Replica{closed, open} {
				waitFor(t, 10*time.Second, func() bool { ok, err := r.Check(Subject{JTI: "after"}); return ok && err == nil })
				for i := range 10 {
					mustCheck(t, r, Subject{SID: "gap-" + strconv.Itoa(i)}, true)
					// Entries from before the crash stay (with persistence
					// Redis has them too; without, the replica keeps them).
					mustCheck(t, r, Subject{SID: "before-" + strconv.Itoa(i)}, true)
				}
			}
			if st := closed.Status(); st.Stale || st.LastError != "" {
				t.Fatalf("status after recovery: %+v", st)
			}
		})
	}
}

// TestRedisReplicaPaused freezes Redis (a hung server, not a refused
// connection): reads time out, the replica goes stale and recovers.
func TestRedisReplicaPaused(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t, nil)
	store, _ := newRedis(fastClient(srv), &RedisOptions{KeyPrefix: uniquePrefix()})
	const bound = 300 * time.Millisecond
	r, _ := NewReplica(store, &ReplicaOptions{StalenessBound: bound, ReadWait: 50 * time.Millisecond})
	startReplica(t, r)
	waitFor(t, 10*time.Second, func() bool { return r.Status().Ready })
	srv.Pause()
	waitFor(t, 10*time.Second, func() bool { return r.Status().Stale })
	srv.Resume()
	_ = store.RevokeSession(context.Background(), "s")
	waitFor(t, 10*time.Second, func() bool { ok, err := r.Check(Subject{SID: "s"}); return ok && err == nil })
}

func TestRedisReplicaEntriesExpire(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t, nil)
	clk := newFakeClock()
	store, _ := newRedis(srv.Client(), &RedisOptions{KeyPrefix: uniquePrefix(), EntryTTL: time.Minute, Now: clk.Now})
	checkReplicaEntriesExpire(t, store, clk, "")
}

// checkReplicaEntriesExpire revokes a session through store and moves clk
// past the store's one-minute EntryTTL: the replica and the strict check
// must both forget the entry then. why, added to the failure, says how a
// backend could keep it too long.
func checkReplicaEntriesExpire(t *testing.T, store interface {
	Store
	Feed
}, clk *fakeClock, why string) {
	t.Helper()
	ctx := context.Background()
	r, _ := NewReplica(store, &ReplicaOptions{Now: clk.Now, ReadWait: 20 * time.Millisecond})
	startReplica(t, r)
	_ = store.RevokeSession(ctx, "s")
	waitFor(t, 10*time.Second, func() bool { ok, err := r.Check(Subject{SID: "s"}); return ok && err == nil })
	clk.Advance(time.Minute)
	// The jump makes the replica look stale until its next read confirms it.
	waitFor(t, 10*time.Second, func() bool { return r.lag() < time.Second })
	mustCheck(t, r, Subject{SID: "s"}, false)
	if ok, _ := store.IsRevoked(ctx, Subject{SID: "s"}); ok {
		t.Fatal("entry outlived its TTL in the strict check" + why)
	}
}

func TestRedisResumeDetectsLostEvents(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	srv := redistest.Start(t, nil)
	store, _ := newRedis(srv.Client(), &RedisOptions{KeyPrefix: uniquePrefix()})
	if err := store.Resume(ctx, "0-0"); err != nil {
		t.Fatalf("empty stream, zero cursor: %v", err)
	}
	if err := store.Resume(ctx, "5-0"); !errors.Is(err, ErrCursorLost) {
		t.Fatalf("no stream, cursor 5-0: got %v", err)
	}
	_ = store.RevokeSession(ctx, "a")
	cursor, err := store.Snapshot(ctx, func(Entry) {})
	if err != nil {
		t.Fatal(err)
	}
	if err := store.Resume(ctx, cursor); err != nil {
		t.Fatalf("current cursor: %v", err)
	}
	_ = store.RevokeSession(ctx, "b")
	if err := store.Resume(ctx, cursor); err != nil {
		t.Fatalf("cursor one event behind: %v", err)
	}
	// Trim everything: the event after the cursor is gone.
	if err := srv.Client().XTrimMaxLen(ctx, store.eventsKey(), 0).Err(); err != nil {
		t.Fatal(err)
	}
	if err := store.Resume(ctx, cursor); !errors.Is(err, ErrCursorLost) {
		t.Fatalf("trimmed past the cursor: got %v", err)
	}
	if err := store.Resume(ctx, "99999999999999-0"); !errors.Is(err, ErrCursorLost) {
		t.Fatalf("cursor ahead of the stream: got %v", err)
	}
	if err := store.Resume(ctx, "junk"); !errors.Is(err, ErrCursorLost) {
		t.Fatalf("junk cursor: got %v", err)
	}
}
