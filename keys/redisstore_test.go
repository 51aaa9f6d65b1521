package keys

import (
	"context"
	"errors"
	"log/slog"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/sesame-go/sesame/internal/redistest"
)

// waitFor polls cond until it holds or deadline passes, for propagation
// across real connections, and returns how long it took.
func waitFor(t *testing.T, deadline time.Duration, cond func() bool) (time.Duration, bool) {
	t.Helper()
	start := time.Now()
	tick := time.NewTicker(100 * time.Microsecond)
	defer tick.Stop()
	for !cond() {
		if time.Since(start) > deadline {
			return time.Since(start), false
		}
		<-tick.C
	}
	return time.Since(start), true
}

var quiet = slog.New(slog.DiscardHandler)

// redisBackend is one Redis topology for the storage tests: standalone
// here, Cluster and Sentinel in topology_test.go.
type redisBackend struct {
	// client returns a new client, as each node of a fleet has its own.
	client func() redis.UniversalClient
	// fastClient returns a client that fails at once while Redis is down.
	fastClient func() redis.UniversalClient
	// kill stops every data server.
	kill func()
}

func standalone(t *testing.T) redisBackend {
	srv := redistest.Start(t, nil)
	return redisBackend{
		client:     func() redis.UniversalClient { return srv.Client() },
		fastClient: func() redis.UniversalClient { return srv.Client(&redis.Options{MaxRetries: -1, DialerRetries: 1}) },
		kill:       srv.Kill,
	}
}

// TestRedisTwoNodePropagation has two nodes, each with its own client,
// holder and store value, share one Redis keyset. A rotation written through
// node A must be in use on node B within 2s. Polling is off on both, so this
// measures the pub/sub notice path alone; the figures are logged.
func TestRedisTwoNodePropagation(t *testing.T) { testTwoNodePropagation(t, standalone(t)) }

func testTwoNodePropagation(t *testing.T, rb redisBackend) {
	mk := testMasterKey(t, 1)
	ctx := t.Context()
	storeA := NewRedisStore(rb.client(), mk, nil)
	if err := storeA.CompareAndSwap(ctx, 0, mustInit(t)); err != nil {
		t.Fatal(err)
	}
	opts := &HolderOptions{PollInterval: -1, Logger: quiet}
	nodeA, err := NewHolder(ctx, storeA, opts)
	if err != nil {
		t.Fatal(err)
	}
	nodeB, err := NewHolder(ctx, NewRedisStore(rb.client(), mk, nil), opts)
	if err != nil {
		t.Fatal(err)
	}
	go nodeA.Run(ctx)
	go nodeB.Run(ctx)

	const rounds = 20
	var lat []time.Duration
	for i := range rounds + 1 {
		next := rotateIn(t, storeA)
		d, ok := waitFor(t, 2*time.Second, func() bool {
			return nodeB.Current().Version() == next.Version() && nodeA.Current().Version() == next.Version()
		})
		if !ok {
			t.Fatalf("round %d: version %d not in use on both nodes after %v (A at %d, B at %d)",
				i, next.Version(), d, nodeA.Current().Version(), nodeB.Current().Version())
		}
		if i > 0 { // round 0 may race the subscription; it is caught by the post-subscribe reload
			lat = append(lat, d)
		}
		if s, _ := nodeB.Current().Signer(); s.ID() != must(next.Signer()).ID() {
			t.Fatalf("node B signs with %v, want %v", s, must(next.Signer()))
		}
	}
	slices.Sort(lat)
	t.Logf("rotation on node A in use on node B (pub/sub only, %d rounds): median %v, p95 %v, max %v",
		len(lat), lat[len(lat)/2], lat[len(lat)*95/100], lat[len(lat)-1])
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

// TestRedisMissedNoticeCaughtByPoll gives node B no notices at all (its
// store hides the Watcher, as if every notice were missed): it must catch up
// by polling, within the default 1s interval.
func TestRedisMissedNoticeCaughtByPoll(t *testing.T) {
	t.Parallel()
	testMissedNoticeCaughtByPoll(t, standalone(t))
}

func testMissedNoticeCaughtByPoll(t *testing.T, rb redisBackend) {
	mk := testMasterKey(t, 1)
	ctx := t.Context()
	storeA := NewRedisStore(rb.client(), mk, nil)
	if err := storeA.CompareAndSwap(ctx, 0, mustInit(t)); err != nil {
		t.Fatal(err)
	}
	deaf := struct{ Store }{NewRedisStore(rb.client(), mk, nil)}
	nodeB, err := NewHolder(ctx, deaf, &HolderOptions{Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	go nodeB.Run(ctx)
	next := rotateIn(t, storeA)
	d, ok := waitFor(t, 2*time.Second, func() bool { return nodeB.Current().Version() == next.Version() })
	if !ok {
		t.Fatalf("not picked up by polling within %v", d)
	}
	t.Logf("picked up by polling after %v", d)
}

// TestRedisOutageKeepsLastGood stops Redis under a running node: the node
// keeps its keyset and reports the error; Run still returns on cancel.
func TestRedisOutageKeepsLastGood(t *testing.T) {
	t.Parallel()
	testOutageKeepsLastGood(t, standalone(t))
}

func testOutageKeepsLastGood(t *testing.T, rb redisBackend) {
	mk := testMasterKey(t, 1)
	st := NewRedisStore(rb.fastClient(), mk, nil)
	if err := st.CompareAndSwap(t.Context(), 0, mustInit(t)); err != nil {
		t.Fatal(err)
	}
	h, err := NewHolder(t.Context(), st, &HolderOptions{Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error)
	go func() { done <- h.Run(ctx) }()
	good := h.Current()
	rb.kill()
	if err := h.Reload(t.Context()); err == nil {
		t.Fatal("Reload succeeded with Redis down")
	}
	if h.Current() != good || h.Status().LastError == nil {
		t.Fatalf("status %+v", h.Status())
	}
	// Writes fail cleanly too.
	next, _ := good.Rotate(noDelay, t0)
	if err := st.CompareAndSwap(t.Context(), good.Version(), next); err == nil || errors.Is(err, ErrConflict) {
		t.Fatalf("CAS with Redis down: %v", err)
	}
	cancel()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not return after cancel with Redis down")
	}
}

// TestRedisRotatorsRace has two nodes' rotators check the same due keyset at
// the same instant, each with its own client: exactly one rotates.
func TestRedisRotatorsRace(t *testing.T) { testRotatorsRace(t, standalone(t)) }

func testRotatorsRace(t *testing.T, rb redisBackend) {
	mk := testMasterKey(t, 1)
	ctx := t.Context()
	p := RotationPolicy{PublishDelay: 10 * time.Minute, RotateEvery: time.Hour}
	if err := NewRedisStore(rb.client(), mk, nil).CompareAndSwap(ctx, 0, mustInit(t)); err != nil {
		t.Fatal(err)
	}
	for round := 1; round <= 5; round++ {
		now := t0.Add(time.Duration(round) * time.Hour)
		results := make(chan bool, 2)
		var rs []*Rotator
		for range 2 {
			r, err := NewRotator(NewRedisStore(rb.client(), mk, nil), p,
				&RotatorOptions{Now: func() time.Time { return now }, Logger: quiet})
			if err != nil {
				t.Fatal(err)
			}
			rs = append(rs, r)
		}
		for _, r := range rs {
			go func() {
				rotated, err := r.rotateIfDue(ctx)
				if err != nil {
					t.Error(err)
				}
				results <- rotated
			}()
		}
		if a, b := <-results, <-results; a == b {
			t.Fatalf("round %d: rotated %v and %v, want exactly one", round, a, b)
		}
	}
	final, err := NewRedisStore(rb.client(), mk, nil).Load(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if s, _ := final.Signer(); !s.Activated().Equal(t0.Add(5 * time.Hour)) {
		t.Fatalf("active key activated at %v, want %v", s.Activated(), t0.Add(5*time.Hour))
	}
}

// TestFilePropagationRealTime measures, with the real clock, how long a
// rotation written by one process takes to be in use by a node polling the
// same file with the default options.
func TestFilePropagationRealTime(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "keyset.json")
	mk := testMasterKey(t, 1)
	st := NewFileStore(path, mk)
	if err := st.CompareAndSwap(t.Context(), 0, mustInit(t)); err != nil {
		t.Fatal(err)
	}
	node, err := NewHolder(t.Context(), NewFileStore(path, mk), &HolderOptions{Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	go node.Run(t.Context())
	next := rotateIn(t, st)
	d, ok := waitFor(t, 2*time.Second, func() bool { return node.Current().Version() == next.Version() })
	if !ok {
		t.Fatalf("file change not in use after %v", d)
	}
	t.Logf("file rotation in use by a polling node after %v", d)
}

// TestRedisResubscribesAfterRestart restarts Redis under a node that does not
// poll: the node must subscribe again and follow the next change by notice.
func TestRedisResubscribesAfterRestart(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t, &redistest.Options{Persistence: true})
	mk := testMasterKey(t, 1)
	ctx := t.Context()
	writer := NewRedisStore(srv.Client(), mk, nil)
	if err := writer.CompareAndSwap(ctx, 0, mustInit(t)); err != nil {
		t.Fatal(err)
	}
	node, err := NewHolder(ctx, NewRedisStore(srv.Client(), mk, nil), &HolderOptions{PollInterval: -1, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	go node.Run(ctx)
	srv.Kill()
	srv.Restart()
	next := rotateIn(t, writer)
	d, ok := waitFor(t, 5*time.Second, func() bool { return node.Current().Version() == next.Version() })
	if !ok {
		t.Fatalf("change after a Redis restart not followed within %v", d)
	}
	t.Logf("after a Redis restart, change in use after %v (resubscribe backoff included)", d)
}
