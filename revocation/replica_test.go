package revocation

import (
	"context"
	"errors"
	"strconv"
	"sync"
	"testing"
	"testing/synctest"
	"time"
)

// startReplica runs r until the test ends and checks that Run returns.
func startReplica(t *testing.T, r *Replica) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	})
}

// holds reports whether r is current and says s is revoked. A stale
// fail-closed replica says "revoked" too, with ErrStale: waiting for a plain
// "revoked" would not wait for the entry at all.
func holds(r *Replica, s Subject) bool {
	revoked, err := r.Check(s)
	return err == nil && revoked
}

func mustCheck(t *testing.T, r *Replica, s Subject, want bool) {
	t.Helper()
	got, err := r.Check(s)
	if err != nil {
		t.Fatalf("Check(%+v): %v", s, err)
	}
	if got != want {
		t.Fatalf("Check(%+v) = %v, want %v", s, got, want)
	}
}

// Inside a synctest bubble time is fake: time.Sleep moves it at once.

func TestReplicaMemoryFeed(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx := context.Background()
		store, err := newMemory(&MemoryOptions{EntryTTL: time.Minute})
		if err != nil {
			t.Fatal(err)
		}
		_ = store.RevokeSession(ctx, "before-start")
		r, err := NewReplica(store, nil)
		if err != nil {
			t.Fatal(err)
		}
		if ok, err := r.Check(Subject{SID: "x"}); !ok || !errors.Is(err, ErrStale) || !errors.Is(err, ErrUnavailable) {
			t.Fatalf("before the snapshot: got %v, %v; want true, ErrStale", ok, err)
		}
		startReplica(t, r)
		synctest.Wait()
		mustCheck(t, r, Subject{SID: "before-start"}, true)
		mustCheck(t, r, Subject{SID: "x"}, false)

		iat := time.Now()
		_ = store.RevokeToken(ctx, "j1")
		time.Sleep(time.Millisecond)
		_ = store.RevokeUser(ctx, "u1", time.Now())
		synctest.Wait()
		mustCheck(t, r, Subject{JTI: "j1"}, true)
		mustCheck(t, r, Subject{SID: "j1"}, false)
		mustCheck(t, r, Subject{UserID: "u1", IssuedAt: iat}, true)
		mustCheck(t, r, Subject{UserID: "u1", IssuedAt: time.Now()}, false)
		if st := r.Status(); !st.Ready || st.Stale || st.Entries != 3 || st.Policy != FailClosed {
			t.Fatalf("status %+v", st)
		}

		time.Sleep(time.Minute) // every entry expires, in the replica too
		mustCheck(t, r, Subject{SID: "before-start"}, false)
		mustCheck(t, r, Subject{JTI: "j1"}, false)
		mustCheck(t, r, Subject{UserID: "u1", IssuedAt: iat}, false)
		time.Sleep(2 * time.Minute) // a sweep drops them from memory
		if st := r.Status(); st.Entries != 0 {
			t.Fatalf("%d entries left after the sweep", st.Entries)
		}
	})
}

func TestReplicaStalenessPolicy(t *testing.T) {
	for _, tc := range []struct {
		policy      Policy
		wantRevoked bool
		wantErr     error
	}{
		{FailClosed, true, ErrStale},
		{FailOpen, false, nil},
	} {
		t.Run(tc.policy.String(), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				store, _ := newMemory(nil)
				feed := &flakyFeed{Feed: store}
				r, err := NewReplica(feed, &ReplicaOptions{Policy: tc.policy, StalenessBound: 5 * time.Second})
				if err != nil {
					t.Fatal(err)
				}
				startReplica(t, r)
				synctest.Wait()
				mustCheck(t, r, Subject{SID: "s"}, false)
				feed.setDown(true)
				time.Sleep(5 * time.Second)
				mustCheck(t, r, Subject{SID: "s"}, false) // at the bound: still fresh
				time.Sleep(2 * time.Second)
				ok, err := r.Check(Subject{SID: "s"})
				if ok != tc.wantRevoked || !errors.Is(err, tc.wantErr) || (err == nil) != (tc.wantErr == nil) {
					t.Fatalf("stale: got %v, %v; want %v, %v", ok, err, tc.wantRevoked, tc.wantErr)
				}
				st := r.Status()
				if !st.Stale || st.Lag < 6*time.Second || st.LastError == "" || st.Policy != tc.policy {
					t.Fatalf("status while down: %+v", st)
				}
				_ = store.RevokeSession(context.Background(), "s") // written while the replica is cut off
				feed.setDown(false)
				time.Sleep(3 * time.Second) // past the longest backoff
				synctest.Wait()
				mustCheck(t, r, Subject{SID: "s"}, true)
				if st := r.Status(); st.Stale || st.LastError != "" {
					t.Fatalf("status after recovery: %+v", st)
				}
			})
		})
	}
}

// flakyFeed is a Feed that can be cut off, standing for a network partition
// between a replica and a memoryStore.
type flakyFeed struct {
	Feed
	mu   sync.Mutex
	down bool
	lost bool // the next Resume reports the cursor lost
}

var errDown = errors.New("feed is down")

func (f *flakyFeed) setDown(v bool) { f.mu.Lock(); f.down = v; f.mu.Unlock() }

func (f *flakyFeed) err() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.down {
		return unavailable("test", errDown)
	}
	return nil
}

func (f *flakyFeed) Snapshot(ctx context.Context, add func(Entry)) (string, error) {
	if err := f.err(); err != nil {
		return "", err
	}
	return f.Feed.Snapshot(ctx, add)
}

func (f *flakyFeed) Resume(ctx context.Context, cursor string) error {
	if err := f.err(); err != nil {
		return err
	}
	f.mu.Lock()
	lost := f.lost
	f.lost = false
	f.mu.Unlock()
	if lost {
		return ErrCursorLost
	}
	return f.Feed.Resume(ctx, cursor)
}

func (f *flakyFeed) Read(ctx context.Context, cursor string, wait time.Duration) ([]Entry, string, error) {
	if err := f.err(); err != nil {
		time.Sleep(10 * time.Millisecond) // a failing network call takes some time
		return nil, cursor, err
	}
	return f.Feed.Read(ctx, cursor, wait)
}

func TestReplicaResyncs(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		store, _ := newMemory(nil)
		feed := &flakyFeed{Feed: store}
		r, _ := NewReplica(feed, &ReplicaOptions{ResyncInterval: time.Minute})
		startReplica(t, r)
		synctest.Wait()
		if n := r.Status().Resyncs; n != 1 {
			t.Fatalf("%d snapshots at start, want 1", n)
		}
		time.Sleep(61 * time.Second)
		synctest.Wait()
		if n := r.Status().Resyncs; n != 2 {
			t.Fatalf("%d snapshots after the resync interval, want 2", n)
		}
		// A lost cursor after a failure makes a snapshot too.
		feed.setDown(true)
		time.Sleep(2 * time.Second) // the read in flight ends, the next one fails
		feed.mu.Lock()
		feed.lost = true
		feed.mu.Unlock()
		_ = store.RevokeSession(context.Background(), "while-down")
		feed.setDown(false)
		time.Sleep(3 * time.Second)
		synctest.Wait()
		if n := r.Status().Resyncs; n != 3 {
			t.Fatalf("%d snapshots after a lost cursor, want 3", n)
		}
		mustCheck(t, r, Subject{SID: "while-down"}, true)
	})
}

func TestReplicaRunTwice(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		store, _ := newMemory(nil)
		r, _ := NewReplica(store, nil)
		startReplica(t, r)
		synctest.Wait()
		if err := r.Run(context.Background()); err == nil {
			t.Fatal("a second Run was accepted")
		}
	})
}

func TestReplicaOptions(t *testing.T) {
	store, _ := newMemory(nil)
	for _, o := range []ReplicaOptions{
		{StalenessBound: -1}, {SweepInterval: -1}, {ReadWait: -1}, {Policy: 7},
	} {
		if _, err := NewReplica(store, &o); err == nil {
			t.Errorf("NewReplica accepted %+v", o)
		}
	}
	if _, err := NewReplica(nil, nil); err == nil {
		t.Error("NewReplica accepted a nil feed")
	}
	r, err := NewReplica(store, nil)
	if err != nil {
		t.Fatal(err)
	}
	if r.bound != 5*time.Second || r.policy != FailClosed || r.wait != time.Second {
		t.Errorf("defaults: bound %v policy %v wait %v", r.bound, r.policy, r.wait)
	}
}

func TestReplicaCheckAllocs(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		store, _ := newMemory(nil)
		_ = store.RevokeSession(context.Background(), "hit")
		r, _ := NewReplica(store, nil)
		startReplica(t, r)
		synctest.Wait()
		for _, s := range []Subject{{SID: "hit"}, {SID: "miss", JTI: "miss", UserID: "u", IssuedAt: time.Now()}} {
			if n := testing.AllocsPerRun(100, func() { _, _ = r.Check(s) }); n != 0 {
				t.Errorf("Check(%+v) allocates %v times", s, n)
			}
		}
	})
}

func TestTable(t *testing.T) {
	tb := newTable(0, true)
	const n = 10000
	for i := uint64(1); i <= n; i++ {
		if !tb.put(i*0x9E3779B97F4A7C15|1, int64(i), int64(i)) {
			tb = tb.rebuilt(0, 1)
			tb.put(i*0x9E3779B97F4A7C15|1, int64(i), int64(i))
		}
	}
	for i := uint64(1); i <= n; i++ {
		exp, aux, ok := tb.get(i*0x9E3779B97F4A7C15 | 1)
		if !ok || exp != int64(i) || aux != int64(i) {
			t.Fatalf("entry %d: %v %v %v", i, exp, aux, ok)
		}
	}
	if _, _, ok := tb.get(2); ok {
		t.Fatal("found an absent key")
	}
	tb.put(1*0x9E3779B97F4A7C15|1, 0, 0) // lower values never win
	if exp, _, _ := tb.get(1*0x9E3779B97F4A7C15 | 1); exp != 1 {
		t.Fatalf("expiry lowered to %d", exp)
	}
	small := tb.rebuilt(n/2, 0) // drops entries expiring at or before n/2
	if small.used != n/2 {
		t.Fatalf("rebuilt holds %d, want %d", small.used, n/2)
	}
}

// TestReplicaConcurrentChecks runs checks while the feed applies entries and
// the tables grow and are swept; the race detector watches. It runs in real
// time: spinning readers would keep a synctest bubble from ever advancing.
func TestReplicaConcurrentChecks(t *testing.T) {
	ctx := context.Background()
	store, _ := newMemory(nil)
	// This test is about concurrent readers and writers of the tables, not
	// staleness: the four spinning readers can starve the feed goroutine on a
	// loaded machine, so the bound is long and the policy answers from memory.
	r, _ := NewReplica(store, &ReplicaOptions{SweepInterval: time.Millisecond, ReadWait: 10 * time.Millisecond,
		StalenessBound: time.Minute, Policy: FailOpen})
	startReplica(t, r)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				_, _ = r.Check(Subject{SID: "last", JTI: "j", UserID: "u"})
			}
		})
	}
	for i := range 5000 {
		_ = store.RevokeSession(ctx, strconv.Itoa(i))
	}
	_ = store.RevokeSession(ctx, "last")
	waitFor(t, 30*time.Second, func() bool { ok, err := r.Check(Subject{SID: "last"}); return ok && err == nil })
	close(stop)
	wg.Wait()
	for _, i := range []int{0, 2500, 4999} {
		mustCheck(t, r, Subject{SID: strconv.Itoa(i)}, true)
	}
}

// waitFor polls cond until it holds or the deadline passes: it waits for
// propagation, it asserts nothing about timing.
func waitFor(t *testing.T, limit time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(limit)
	tick := time.NewTicker(time.Millisecond)
	defer tick.Stop()
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("condition not met within %v", limit)
		}
		<-tick.C
	}
}

func TestReplicaReadyClosesOnFirstSnapshot(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		store, _ := newMemory(nil)
		r, _ := NewReplica(store, nil)
		select {
		case <-r.Ready():
			t.Fatal("ready before Run")
		default:
		}
		startReplica(t, r)
		<-r.Ready()
		if !r.Status().Ready {
			t.Fatal("Ready closed but Status says not ready")
		}
	})
}

// testTwoReplicas checks two stores a and b on one backend, each followed
// by its own replica: what is there before the replicas start comes with
// the snapshot; what either store writes afterwards (a token, a user, the
// end of a family through its sid, 40 sessions revoked at once, numbered in
// one order and written in another) reaches both replicas through the feed.
func testTwoReplicas(t *testing.T, a, b Backend) {
	ctx := context.Background()
	_ = a.RevokeSession(ctx, "old")
	ra, _ := NewReplica(a, &ReplicaOptions{ReadWait: 100 * time.Millisecond})
	rb, _ := NewReplica(b, &ReplicaOptions{ReadWait: 100 * time.Millisecond})
	startReplica(t, ra)
	startReplica(t, rb)
	for _, r := range []*Replica{ra, rb} {
		waitFor(t, 10*time.Second, func() bool { return r.Status().Ready })
		mustCheck(t, r, Subject{SID: "old"}, true) // from the snapshot
	}
	if err := a.RevokeToken(ctx, "j-through-a"); err != nil {
		t.Fatal(err)
	}
	if err := b.RevokeUser(ctx, "u-through-b", time.Now()); err != nil {
		t.Fatal(err)
	}
	iat := time.Now().Add(-time.Second)
	for _, r := range []*Replica{ra, rb} {
		waitFor(t, 10*time.Second, func() bool {
			return holds(r, Subject{JTI: "j-through-a"}) && holds(r, Subject{UserID: "u-through-b", IssuedAt: iat})
		})
	}
	// Ending a family reaches every replica through its sid.
	sid := newSID()
	f, _, err := b.CreateFamily(ctx, NewFamily{SessionID: sid, UserID: "u", AbsoluteExpiry: time.Now().Add(time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	if err := b.RevokeFamily(ctx, f.ID); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 10*time.Second, func() bool { return holds(ra, Subject{SID: sid}) })
	mustCheck(t, ra, Subject{SID: "other"}, false)
	// Many writers at once: their entries are numbered in one order and
	// written in another; every one reaches both replicas.
	errs := make(chan error, 40)
	for i := range 40 {
		go func() { errs <- a.RevokeSession(ctx, "burst-"+strconv.Itoa(i)) }()
	}
	for range 40 {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	for _, r := range []*Replica{ra, rb} {
		waitFor(t, 10*time.Second, func() bool {
			for i := range 40 {
				if !holds(r, Subject{SID: "burst-" + strconv.Itoa(i)}) {
					return false
				}
			}
			return true
		})
	}
}
