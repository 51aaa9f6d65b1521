package revocation

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/sesame-go/sesame/internal/redistest"
)

// The Store contract, the scripts and the replica's feed on Redis Cluster
// and Sentinel. Each topology is started once per test (a cluster takes a
// few seconds) and its subtests run in order; the failover subtest is last
// because it changes the topology.

// clusterOpts are the client settings a deployment on Cluster should use:
// go-redis reloads its slot map on MOVED or every ClusterStateReloadInterval
// (60s by default), not when a master stops answering, so without a short
// interval a client keeps dialling a dead master for up to a minute.
func clusterOpts() *redis.ClusterOptions {
	return &redis.ClusterOptions{
		ClusterStateReloadInterval: 250 * time.Millisecond,
		DialTimeout:                200 * time.Millisecond,
		ReadTimeout:                500 * time.Millisecond,
		WriteTimeout:               500 * time.Millisecond,
	}
}

// waitTimeout is the contract's WaitTimeout: long, so that a slow replica on
// a loaded machine is not a failure (its clients read for 3s).
func waitTimeout(waitReplicas int) time.Duration {
	if waitReplicas == 0 {
		return 0
	}
	return 2 * time.Second
}

func contractOn(t *testing.T, client redis.UniversalClient, waitReplicas int) {
	runContract(t, func(t *testing.T, cfg backendConfig) backend {
		s, err := newRedis(client, &RedisOptions{KeyPrefix: uniquePrefix(), EntryTTL: cfg.entryTTL,
			GraceWindow: cfg.grace, ReuseLookback: cfg.lookback, Now: cfg.clock.Now, WaitReplicas: waitReplicas,
			WaitTimeout: waitTimeout(waitReplicas)})
		if err != nil {
			t.Fatal(err)
		}
		return backend{store: s, indexLen: func(userID string) int {
			n, err := client.ZCard(context.Background(), s.idxKey(userID)).Result()
			if err != nil {
				t.Fatal(err)
			}
			return int(n)
		}}
	})
}

func TestCluster(t *testing.T) {
	t.Parallel()
	c := redistest.StartCluster(t, nil)
	client := c.ClusterClient(clusterOpts())
	t.Run("contract", func(t *testing.T) { contractOn(t, client, 0) })
	t.Run("contract with WaitReplicas", func(t *testing.T) {
		// A replica may take a while to confirm on a loaded machine: this
		// checks what WAIT does, not how fast, so it waits up to 2s.
		o := clusterOpts()
		o.ReadTimeout = 3 * time.Second
		contractOn(t, c.ClusterClient(o), 1)
	})
	t.Run("every script, no CROSSSLOT", func(t *testing.T) { everyScript(t, c, client) })
	t.Run("a stalled master holds up only its own calls", func(t *testing.T) { stalledMaster(t, c) })
	t.Run("replica follows failover", func(t *testing.T) {
		s, err := newRedis(client, &RedisOptions{KeyPrefix: uniquePrefix()})
		if err != nil {
			t.Fatal(err)
		}
		feedFollowsFailover(t, s, func() { c.KillMasterOf(s.eventsKey()) }, func() error { _, err := c.WaitFailover(0); return err })
	})
}

func TestSentinel(t *testing.T) {
	t.Parallel()
	sn := redistest.StartSentinel(t, nil)
	client := sn.FailoverClient(&redis.FailoverOptions{DialTimeout: 200 * time.Millisecond,
		ReadTimeout: 500 * time.Millisecond, WriteTimeout: 500 * time.Millisecond})
	t.Run("contract", func(t *testing.T) { contractOn(t, client, 0) })
	t.Run("contract with WaitReplicas", func(t *testing.T) {
		contractOn(t, sn.FailoverClient(&redis.FailoverOptions{DialTimeout: 200 * time.Millisecond,
			ReadTimeout: 3 * time.Second, WriteTimeout: 500 * time.Millisecond}), 1)
	})
	// The client sessiond builds from a redis-sentinel:// URL.
	t.Run("contract, failover cluster client", func(t *testing.T) {
		contractOn(t, sn.FailoverClusterClient(&redis.FailoverOptions{DialTimeout: 200 * time.Millisecond,
			ReadTimeout: 500 * time.Millisecond, WriteTimeout: 500 * time.Millisecond}), 0)
	})
	t.Run("contract with WaitReplicas, failover cluster client", func(t *testing.T) {
		contractOn(t, sn.FailoverClusterClient(&redis.FailoverOptions{DialTimeout: 200 * time.Millisecond,
			ReadTimeout: 3 * time.Second, WriteTimeout: 500 * time.Millisecond}), 1)
	})
	t.Run("replica follows failover", func(t *testing.T) {
		s, err := newRedis(client, &RedisOptions{KeyPrefix: uniquePrefix()})
		if err != nil {
			t.Fatal(err)
		}
		feedFollowsFailover(t, s, func() { sn.KillPrimary() }, func() error { _, err := sn.WaitFailover(0); return err })
	})
}

// noCrossSlot fails the test on any error, and says so plainly if it is a
// CROSSSLOT one.
func noCrossSlot(t *testing.T, what string, err error) {
	t.Helper()
	if err == nil {
		return
	}
	if strings.Contains(err.Error(), "CROSSSLOT") {
		t.Fatalf("%s: CROSSSLOT: %v", what, err)
	}
	t.Fatalf("%s: %v", what, err)
}

// everyScript runs every Lua script and every multi-key operation for users
// spread over all three masters: create.lua (CreateFamily), refresh.lua
// (rotate, replay, reuse, unknown-ancestor), update.lua (UpdateData),
// revoke.lua (sessions, tokens, users), and the pipelines and transaction of
// ListFamilies, RevokeFamily and RevokeAllFamilies. The same layout is
// checked statically by TestRedisKeysShareSlots; this proves it on a real
// cluster, where a cross-slot script fails with CROSSSLOT.
func everyScript(t *testing.T, c *redistest.Cluster, client redis.UniversalClient) {
	ctx := context.Background()
	s, err := newRedis(client, &RedisOptions{KeyPrefix: uniquePrefix()})
	if err != nil {
		t.Fatal(err)
	}
	masters := map[string]bool{}
	for i := range 48 {
		user := "user-" + string(rune('a'+i%26)) + string(rune('0'+i/26))
		masters[c.MasterOf(s.idxKey(user)).Addr()] = true
		nf := NewFamily{SessionID: newSID(), UserID: user, Data: []byte("p"),
			AbsoluteExpiry: time.Now().Add(time.Hour), IdleTimeout: time.Hour}
		f, tok0, err := s.CreateFamily(ctx, nf)
		noCrossSlot(t, "create", err)
		_, tok0b, err := s.CreateFamily(ctx, NewFamily{SessionID: newSID(), UserID: user, AbsoluteExpiry: nf.AbsoluteExpiry})
		noCrossSlot(t, "create second", err)
		r1, err := s.Refresh(ctx, tok0.Reveal())
		noCrossSlot(t, "rotate", err)
		r1b, err := s.Refresh(ctx, tok0.Reveal())
		noCrossSlot(t, "replay", err)
		if !r1b.Replayed || r1b.Token.Reveal() != r1.Token.Reveal() {
			t.Fatal("replay did not return the same token")
		}
		noCrossSlot(t, "update", s.UpdateData(ctx, f.ID, []byte("q")))
		r2, err := s.Refresh(ctx, r1.Token.Reveal())
		noCrossSlot(t, "rotate again", err)
		if _, err := s.Refresh(ctx, r2.Token.Reveal()); err != nil {
			noCrossSlot(t, "rotate third", err)
		}
		// tok0 is now three generations old and past the grace window's
		// reach: theft, which revokes the session (revoke.lua, other slot)
		// and deletes the family.
		var reuse *ReuseError
		if _, err := s.Refresh(ctx, tok0.Reveal()); !errors.As(err, &reuse) {
			noCrossSlot(t, "reuse", err)
			t.Fatalf("reuse: got %v, want a ReuseError", err)
		}
		if ok, err := s.IsRevoked(ctx, Subject{SID: nf.SessionID}); err != nil || !ok {
			t.Fatalf("after reuse: revoked %v, %v", ok, err)
		}
		noCrossSlot(t, "revoke token", s.RevokeToken(ctx, "jti-"+user))
		fams, err := s.ListFamilies(ctx, user)
		noCrossSlot(t, "list", err)
		if len(fams) != 1 {
			t.Fatalf("%d families listed, want 1", len(fams))
		}
		_, err = s.Refresh(ctx, tok0b.Reveal())
		noCrossSlot(t, "rotate second family", err)
		noCrossSlot(t, "revoke family", s.RevokeFamily(ctx, fams[0].ID))
		nf.SessionID = newSID()
		_, _, err = s.CreateFamily(ctx, nf)
		noCrossSlot(t, "create third", err)
		noCrossSlot(t, "revoke all", s.RevokeAllFamilies(ctx, user))
		ok, err := s.IsRevoked(ctx, Subject{SID: "x", JTI: "jti-" + user, UserID: user, IssuedAt: time.Now().Add(-time.Minute)})
		noCrossSlot(t, "is revoked", err)
		if !ok {
			t.Fatal("not revoked after revoke all")
		}
	}
	if len(masters) != 3 {
		t.Fatalf("users landed on %d masters, want all 3", len(masters))
	}
	n := 0
	_, err = s.Snapshot(ctx, func(Entry) { n++ })
	noCrossSlot(t, "snapshot", err)
	if n < 48*2 {
		t.Fatalf("snapshot has %d entries, want at least %d", n, 48*2)
	}
}

// feedFollowsFailover runs a replica on s, revokes a session, kills the
// master holding the denylist and its stream, waits for the failover, and
// checks that revocations written afterwards reach the replica, and that
// one acknowledged (and replicated, by WAIT) before the kill is still there.
func feedFollowsFailover(t *testing.T, s *redisStore, kill func(), waitFailover func() error) {
	ctx := context.Background()
	rep, err := NewReplica(s, &ReplicaOptions{ReadWait: 100 * time.Millisecond, StalenessBound: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	startReplica(t, rep)
	waitFor(t, 10*time.Second, func() bool { return rep.Status().Ready })
	if err := s.RevokeSession(ctx, "before"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 5*time.Second, func() bool { return holds(rep, Subject{SID: "before"}) })
	if err := waitReplicated(ctx, s); err != nil {
		t.Fatal(err)
	}
	kill()
	start := time.Now()
	if err := waitFailover(); err != nil {
		t.Fatal(err)
	}
	// Writes resume once the client has the new slot map or master.
	deadline := time.Now().Add(10 * time.Second)
	for {
		err := s.RevokeSession(ctx, "after")
		if err == nil {
			break
		}
		if !errors.Is(err, ErrUnavailable) {
			t.Fatalf("during failover: %v, want ErrUnavailable", err)
		}
		if time.Now().After(deadline) {
			t.Fatalf("writes did not resume: %v", err)
		}
	}
	t.Logf("writes resumed %v after the kill", time.Since(start))
	waitFor(t, 10*time.Second, func() bool { return holds(rep, Subject{SID: "after"}) })
	t.Logf("the replica saw a revocation written after the failover %v after the kill", time.Since(start))
	mustCheck(t, rep, Subject{SID: "before"}, true)
	ok, err := s.IsRevoked(ctx, Subject{SID: "before"})
	if err != nil || !ok {
		t.Fatalf("revocation replicated before the kill: found %v, %v", ok, err)
	}
}

// waitReplicated issues WAIT 1 on the node holding the denylist.
func waitReplicated(ctx context.Context, s *redisStore) error {
	var n int64
	var err error
	if cc, ok := s.rdb.(*redis.ClusterClient); ok {
		var m *redis.Client
		if m, err = cc.MasterForKey(ctx, s.eventsKey()); err == nil {
			n, err = m.Wait(ctx, 1, 2*time.Second).Result()
		}
	} else {
		n, err = s.rdb.Do(ctx, "WAIT", 1, 2000).Int64()
	}
	if err == nil && n < 1 {
		err = errors.New("no replica acknowledged")
	}
	return err
}

// TestRedisWaitReplicasWithoutReplica: a write that no replica acknowledged
// is ErrUnavailable, and the options are checked.
func TestRedisWaitReplicasWithoutReplica(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t, nil)
	ctx := context.Background()
	s, err := newRedis(srv.Client(), &RedisOptions{WaitReplicas: 1, WaitTimeout: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	err = s.RevokeSession(ctx, "s")
	if !errors.Is(err, ErrUnavailable) || !strings.Contains(err.Error(), "0 of 1 replicas") {
		t.Fatalf("got %v, want ErrUnavailable (0 of 1 replicas)", err)
	}
	// The write itself happened on the master; only its durability is unknown.
	if ok, err := s.IsRevoked(ctx, Subject{SID: "s"}); err != nil || !ok {
		t.Fatalf("revoked %v, %v", ok, err)
	}
	// WAIT is read under the client's ReadTimeout: a WaitTimeout that is not
	// shorter is refused, and the default fits under it, so a refusal is
	// "0 of 1", not an i/o timeout that leaves the caller unsure whether WAIT
	// ran at all.
	// (1s, not less: on a loaded machine the reply to a 500ms WAIT must
	// still arrive within the read timeout's other half.)
	short := srv.Client(&redis.Options{ReadTimeout: time.Second, MaxRetries: -1})
	if _, err := newRedis(short, &RedisOptions{WaitReplicas: 1, WaitTimeout: time.Second}); err == nil ||
		!strings.Contains(err.Error(), "shorter than the client's ReadTimeout") {
		t.Errorf("WaitTimeout = ReadTimeout: got %v, want a refusal", err)
	}
	s2, err := newRedis(short, &RedisOptions{WaitReplicas: 1})
	if err != nil {
		t.Fatal(err)
	}
	err = s2.RevokeSession(ctx, "s2")
	if !errors.Is(err, ErrUnavailable) || !strings.Contains(err.Error(), "0 of 1 replicas acknowledged within 500ms") {
		t.Fatalf("default WaitTimeout under ReadTimeout 1s: got %v, want ErrUnavailable (0 of 1 replicas within 500ms)", err)
	}
	if _, err := newRedis(srv.Client(), &RedisOptions{WaitReplicas: -1}); err == nil {
		t.Error("negative WaitReplicas accepted")
	}
	ring := redis.NewRing(&redis.RingOptions{Addrs: map[string]string{"a": srv.Addr()}})
	defer ring.Close()
	if _, err := newRedis(ring, &RedisOptions{WaitReplicas: 1}); err == nil {
		t.Error("WaitReplicas accepted on a Ring")
	}
}

// stalledMaster: auto-pipelining keeps a batcher per master, so while one
// master is stopped (SIGSTOP, shorter than the node timeout: no failover)
// the calls for families on the others still complete; with one pipeline
// for the whole cluster they would wait behind the stalled one.
func stalledMaster(t *testing.T, c *redistest.Cluster) {
	o := clusterOpts()
	o.ReadTimeout = 5 * time.Second // the stalled call waits for the resume, not for a timeout
	s, err := newRedis(c.ClusterClient(o), &RedisOptions{KeyPrefix: uniquePrefix()})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	type fam struct {
		key string
		tok RefreshToken
	}
	var stalled *redistest.Server
	var mine fam
	var others []fam
	for i := 0; len(others) < 6; i++ {
		if i == 1000 {
			t.Fatal("1000 users' families all on one master")
		}
		// The user id picks the slot: one user per family spreads them.
		_, tok, err := s.CreateFamily(ctx, NewFamily{SessionID: newSID(), UserID: fmt.Sprintf("u%d", i),
			AbsoluteExpiry: time.Now().Add(time.Hour)})
		if err != nil {
			t.Fatal(err)
		}
		// Load the refresh script on this family's master.
		res, err := s.Refresh(ctx, tok.Reveal())
		if err != nil {
			t.Fatal(err)
		}
		fid, _, _ := parseToken(res.Token.Reveal())
		f := fam{s.famKey(fid), res.Token}
		switch m := c.MasterOf(f.key); {
		case stalled == nil:
			stalled, mine = m, f
		case m != stalled:
			others = append(others, f)
		}
	}
	stalled.Pause()
	defer stalled.Resume()
	stuck := make(chan error, 1)
	go func() { _, err := s.Refresh(ctx, mine.tok.Reveal()); stuck <- err }()
	b := s.batch.batcherFor(ctx, mine.key)
	waitFor(t, 10*time.Second, func() bool { // its pipeline is in flight
		b.mu.Lock()
		defer b.mu.Unlock()
		return b.running && len(b.queue) == 0
	})
	for i, f := range others {
		if s.batch.batcherFor(ctx, f.key) == b {
			t.Fatalf("family %d on another master shares the stalled master's batcher", i)
		}
		if _, err := s.Refresh(ctx, f.tok.Reveal()); err != nil {
			t.Fatalf("family %d on another master: %v", i, err)
		}
	}
	select {
	case err := <-stuck:
		t.Fatalf("the stalled master's call ended before the others were served: %v", err)
	default:
	}
	stalled.Resume()
	if err := <-stuck; err != nil {
		t.Fatalf("the stalled master's call after resume: %v", err)
	}
}
