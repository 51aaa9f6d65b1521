package revocation

import (
	"context"
	"errors"
	"fmt"
	"net"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/sesame-go/sesame/internal/redistest"
)

// pipeGate is a go-redis hook that records the pipelines a client sends
// (their commands' names) and, while held, stops each one before it is
// sent, so a test can make calls queue up behind a pipeline in flight.
type pipeGate struct {
	mu    sync.Mutex
	pipes [][]string
	hold  chan struct{}
}

func (g *pipeGate) DialHook(next redis.DialHook) redis.DialHook { return next }

func (g *pipeGate) ProcessHook(next redis.ProcessHook) redis.ProcessHook { return next }

func (g *pipeGate) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		names := make([]string, len(cmds))
		for i, c := range cmds {
			names[i] = c.Name()
		}
		g.mu.Lock()
		g.pipes = append(g.pipes, names)
		hold := g.hold
		g.mu.Unlock()
		if hold != nil {
			<-hold
		}
		return next(ctx, cmds)
	}
}

// take returns the pipelines sent since the last call.
func (g *pipeGate) take(t *testing.T) [][]string {
	t.Helper()
	g.mu.Lock()
	defer g.mu.Unlock()
	p := g.pipes
	g.pipes = nil
	return p
}

func (g *pipeGate) holdAll() {
	g.mu.Lock()
	g.hold = make(chan struct{})
	g.mu.Unlock()
}

func (g *pipeGate) release() {
	g.mu.Lock()
	if g.hold != nil {
		close(g.hold)
		g.hold = nil
	}
	g.mu.Unlock()
}

func (g *pipeGate) sent() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return len(g.pipes)
}

func (b *batcher) queued() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(b.queue)
}

func newGatedStore(t *testing.T) (*redisStore, *pipeGate, *redis.Client) {
	t.Helper()
	srv := redistest.Start(t, nil)
	client := srv.Client()
	g := &pipeGate{}
	client.AddHook(g)
	s, err := newRedis(client, &RedisOptions{KeyPrefix: uniquePrefix()})
	if err != nil {
		t.Fatal(err)
	}
	if s.batch == nil {
		t.Fatal("auto-pipelining is off by default")
	}
	return s, g, client
}

// newFamilies creates n families and loads the refresh script (one refresh
// of a family of its own), so the pipelines a test counts meet no NOSCRIPT.
func newFamilies(t *testing.T, s Store, n int) []RefreshToken {
	t.Helper()
	_, tok, err := s.CreateFamily(context.Background(), NewFamily{SessionID: newSID(), UserID: "u",
		Data: []byte("p"), AbsoluteExpiry: time.Now().Add(time.Hour)})
	if err == nil {
		_, err = s.Refresh(context.Background(), tok.Reveal())
	}
	if err != nil {
		t.Fatal(err)
	}
	toks := make([]RefreshToken, n)
	for i := range toks {
		_, tok, err := s.CreateFamily(context.Background(), NewFamily{SessionID: newSID(), UserID: "u",
			Data: []byte("p"), AbsoluteExpiry: time.Now().Add(time.Hour)})
		if err != nil {
			t.Fatal(err)
		}
		toks[i] = tok
	}
	return toks
}

// behindOne holds the client's pipelines, refreshes lead (whose pipeline
// is then sent and held), starts calls until every one is queued behind it,
// runs whileQueued, releases the pipelines and waits for all; lead's
// refresh must succeed.
// Pipelines recorded before are dropped first.
func behindOne(t *testing.T, s *redisStore, g *pipeGate, lead RefreshToken, calls []func(), whileQueued ...func()) {
	t.Helper()
	g.take(t)
	g.holdAll()
	first := make(chan error, 1)
	go func() { _, err := s.Refresh(context.Background(), lead.Reveal()); first <- err }()
	waitFor(t, 10*time.Second, func() bool { return g.sent() == 1 })
	var wg sync.WaitGroup
	for _, c := range calls {
		wg.Go(c)
	}
	waitFor(t, 20*time.Second, func() bool { return s.batch.one.queued() == len(calls) })
	for _, f := range whileQueued {
		f()
	}
	g.release()
	wg.Wait()
	if err := <-first; err != nil {
		t.Fatalf("first refresh: %v", err)
	}
}

// refreshEach returns calls refreshing each of toks, and their errors.
func refreshEach(s *redisStore, toks []RefreshToken) ([]func(), []error) {
	errs := make([]error, len(toks))
	calls := make([]func(), len(toks))
	for i, tok := range toks {
		calls[i] = func() { _, errs[i] = s.Refresh(context.Background(), tok.Reveal()) }
	}
	return calls, errs
}

// TestAutoPipeline: calls made while a pipeline is in flight go to Redis
// together in the next one, and each hears its own answer.
func TestAutoPipeline(t *testing.T) {
	t.Parallel()
	s, g, _ := newGatedStore(t)
	ctx := context.Background()
	const n = 40
	toks := newFamilies(t, s, n+1)

	// n genuine tokens and n forged ones queue behind the first.
	type answer struct {
		res RefreshResult
		err error
	}
	good := make([]answer, n)
	bad := make([]error, n)
	var calls []func()
	for i := range n {
		calls = append(calls, func() {
			res, err := s.Refresh(ctx, toks[i+1].Reveal())
			good[i] = answer{res, err}
		}, func() {
			fid, _, _ := parseToken(toks[i+1].Reveal())
			_, bad[i] = s.Refresh(ctx, formatToken(fid, [secretLen]byte{}).Reveal())
		})
	}
	behindOne(t, s, g, toks[0], calls)
	for i := range n {
		if good[i].err != nil || good[i].res.Replayed {
			t.Fatalf("refresh %d: %+v, %v", i, good[i].res, good[i].err)
		}
		if !errors.Is(bad[i], ErrInvalidToken) {
			t.Fatalf("forged token %d in the same pipeline: %v, want ErrInvalidToken", i, bad[i])
		}
		// The new token is the family's current one.
		if _, err := s.Refresh(ctx, good[i].res.Token.Reveal()); err != nil {
			t.Fatalf("next refresh %d: %v", i, err)
		}
	}
	pipes := g.take(t)
	if len(pipes) < 2 || len(pipes[0]) != 1 || len(pipes[1]) != 2*n {
		t.Fatalf("pipelines by size: want 1 then %d, got %v", 2*n, sizes(pipes))
	}
	for _, name := range pipes[1] {
		if name != "evalsha" {
			t.Fatalf("second pipeline sent %q", name)
		}
	}
}

func sizes(pipes [][]string) []int {
	var out []int
	for _, p := range pipes {
		out = append(out, len(p))
	}
	return out
}

// TestAutoPipelineQueueBound: at most maxQueue calls wait behind a
// master's pipeline; the next fails at once with ErrUnavailable, and the
// queued ones all complete once the pipeline in flight returns.
func TestAutoPipelineQueueBound(t *testing.T) {
	t.Parallel()
	s, g, _ := newGatedStore(t)
	toks := newFamilies(t, s, 1)
	ctx := context.Background()
	errs := make([]error, maxQueue)
	calls := make([]func(), maxQueue)
	for i := range calls {
		calls[i] = func() { errs[i] = s.RevokeToken(ctx, fmt.Sprintf("jti-%d", i)) }
	}
	if err := s.RevokeToken(ctx, "load-the-script"); err != nil {
		t.Fatal(err)
	}
	refused := make(chan error, 1)
	behindOne(t, s, g, toks[0], calls, func() { refused <- s.RevokeToken(ctx, "one-too-many") })
	if err := <-refused; !errors.Is(err, ErrUnavailable) || !errors.Is(err, errQueueFull) {
		t.Fatalf("call past the bound: %v, want ErrUnavailable (queue full)", err)
	}
	for i, err := range errs {
		if err != nil {
			t.Fatalf("queued call %d: %v", i, err)
		}
	}
	if got := sizes(g.take(t)); !slices.Equal(got, []int{1, maxQueue}) {
		t.Fatalf("pipelines by size: %v, want [1 %d]", got, maxQueue)
	}
}

// TestAutoPipelineNoScript: a server that lost its script cache (restarted,
// or a new node) answers NOSCRIPT; the pipeline's scripts are sent again
// with EVAL, and every caller still gets its answer.
func TestAutoPipelineNoScript(t *testing.T) {
	t.Parallel()
	s, g, client := newGatedStore(t)
	ctx := context.Background()
	const n = 8
	toks := newFamilies(t, s, n+1)
	if err := client.ScriptFlush(ctx).Err(); err != nil {
		t.Fatal(err)
	}
	calls, errs := refreshEach(s, toks[1:])
	behindOne(t, s, g, toks[0], calls)
	for i, err := range errs {
		if err != nil {
			t.Fatalf("refresh %d after SCRIPT FLUSH: %v", i, err)
		}
	}
	// The first pipeline met NOSCRIPT and was sent again by EVAL; the
	// second then found the script loaded.
	want := [][]string{{"evalsha"}, {"eval"}, slices.Repeat([]string{"evalsha"}, n)}
	if got := g.take(t); !slices.EqualFunc(got, want, slices.Equal) {
		t.Fatalf("pipelines: %v, want %v", got, want)
	}
}

// TestAutoPipelineCallerGivesUp: a caller whose context ends while its
// script waits behind a pipeline gets ErrUnavailable at once, without
// holding up the others, and its script is dropped, not sent: the token it
// presented is still the family's current one.
func TestAutoPipelineCallerGivesUp(t *testing.T) {
	t.Parallel()
	s, g, _ := newGatedStore(t)
	toks := newFamilies(t, s, 3)
	ctx, cancel := context.WithCancel(context.Background())
	gaveUp := make(chan error, 1)
	var other error
	behindOne(t, s, g, toks[0], []func(){
		func() { _, err := s.Refresh(ctx, toks[1].Reveal()); gaveUp <- err },
		func() { _, other = s.Refresh(context.Background(), toks[2].Reveal()) },
	}, func() {
		cancel()
		err := <-gaveUp // the pipeline in flight is still held
		if !errors.Is(err, ErrUnavailable) || !errors.Is(err, context.Canceled) {
			t.Errorf("cancelled caller: %v, want ErrUnavailable wrapping context.Canceled", err)
		}
	})
	if other != nil {
		t.Fatalf("the other queued call: %v", other)
	}
	if got := sizes(g.take(t)); !slices.Equal(got, []int{1, 1}) {
		t.Fatalf("pipelines by size: %v, want [1 1] (the abandoned script not sent)", got)
	}
	res, err := s.Refresh(context.Background(), toks[1].Reveal())
	if err != nil || res.Replayed {
		t.Fatalf("the abandoned token afterwards: %+v, %v; want a rotation (its script never ran)", res, err)
	}
}

// TestAutoPipelineDoneContext: a call whose context is already done is
// refused before it is queued, and writes nothing (as go-redis does for a
// command).
func TestAutoPipelineDoneContext(t *testing.T) {
	t.Parallel()
	s, g, _ := newGatedStore(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	g.take(t)
	if err := s.RevokeSession(ctx, "sid-1"); !errors.Is(err, ErrUnavailable) || !errors.Is(err, context.Canceled) {
		t.Fatalf("RevokeSession with a cancelled context: %v", err)
	}
	if n := g.sent(); n != 0 {
		t.Fatalf("%d pipelines sent for a cancelled call", n)
	}
	if revoked, err := s.IsRevoked(context.Background(), Subject{SID: "sid-1"}); err != nil || revoked {
		t.Fatalf("after a refused revocation: revoked %v, %v", revoked, err)
	}
}

// panicOnce is a hook whose first pipeline panics.
type panicOnce struct{ done atomic.Bool }

func (h *panicOnce) DialHook(next redis.DialHook) redis.DialHook          { return next }
func (h *panicOnce) ProcessHook(next redis.ProcessHook) redis.ProcessHook { return next }
func (h *panicOnce) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		if h.done.CompareAndSwap(false, true) {
			panic("hook panic")
		}
		return next(ctx, cmds)
	}
}

// TestAutoPipelineClients: auto-pipelining is on for a *redis.Client and a
// *redis.ClusterClient, and off for a Ring, whose pipelines wait for every
// shard (one stalled shard would hold up all calls).
func TestAutoPipelineClients(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t, nil)
	ring := redis.NewRing(&redis.RingOptions{Addrs: map[string]string{"a": srv.Addr()}})
	defer ring.Close()
	s, err := newRedis(ring, nil)
	if err != nil {
		t.Fatal(err)
	}
	if s.batch != nil {
		t.Error("a Ring got auto-pipelining")
	}
	if s, _ := newRedis(srv.Client(), nil); s.batch == nil || s.batch.cluster != nil {
		t.Error("a *redis.Client did not get one batcher")
	}
}

// TestAutoPipelineHookPanic: a panic while sending a pipeline reaches the
// caller that sent it (net/http recovers a handler's), and the store keeps
// working: the batcher is not left marked busy with nobody to drain it.
func TestAutoPipelineHookPanic(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t, nil)
	client := srv.Client()
	s, err := newRedis(client, &RedisOptions{KeyPrefix: uniquePrefix()})
	if err != nil {
		t.Fatal(err)
	}
	client.AddHook(&panicOnce{})
	func() {
		defer func() {
			if recover() == nil {
				t.Error("the hook's panic did not reach the caller")
			}
		}()
		s.RevokeToken(context.Background(), "j1")
	}()
	done := make(chan error, 1)
	go func() { done <- s.RevokeToken(context.Background(), "j2") }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("after the panic: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("a call after the panic was never sent")
	}
}

// TestCreateScriptRunTwice: go-redis retries a pipeline whose connection
// failed as a whole, replies already read included, so a create can run
// twice for one call; the second run must still answer "created", and a
// different create of the same session must not.
func TestCreateScriptRunTwice(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t, nil)
	s, err := newRedis(srv.Client(), &RedisOptions{KeyPrefix: uniquePrefix(), NoAutoPipeline: true})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	sid := newSID()
	fid, _ := DeriveFamilyID("u", sid)
	create := func(secret [secretLen]byte) int64 {
		h := hashSecret(secret)
		n, err := s.run(ctx, createScript, []string{s.famKey(fid), s.idxKey("u")},
			fid, sid, "u", "p", time.Now().UnixMilli(), time.Now().Add(time.Hour).UnixMilli(), 0, "ua", "ip",
			h[:], keyMargin.Milliseconds()).Int64()
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	mine, other := newSecret(), newSecret()
	if create(mine) != 1 || create(mine) != 1 {
		t.Fatal("the same create, run twice, did not answer created both times")
	}
	if create(other) != 0 {
		t.Fatal("another create of the same session was answered created")
	}
}

// TestAutoPipelineServerDown: every caller of a failed pipeline gets
// ErrUnavailable, and the store works again once the server is back.
func TestAutoPipelineServerDown(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t, nil)
	client := srv.Client(&redis.Options{MaxRetries: -1, DialerRetries: 1, DialTimeout: 100 * time.Millisecond,
		ReadTimeout: 100 * time.Millisecond, WriteTimeout: 100 * time.Millisecond})
	s, err := newRedis(client, &RedisOptions{KeyPrefix: uniquePrefix()})
	if err != nil {
		t.Fatal(err)
	}
	toks := newFamilies(t, s, 16)
	srv.Pause()
	errs := make([]error, len(toks))
	var wg sync.WaitGroup
	for i, tok := range toks {
		wg.Go(func() { _, errs[i] = s.Refresh(context.Background(), tok.Reveal()) })
	}
	wg.Wait()
	srv.Resume()
	for i, err := range errs {
		var ne net.Error
		if !errors.Is(err, ErrUnavailable) || !errors.As(err, &ne) {
			t.Fatalf("refresh %d with the server paused: %v, want ErrUnavailable wrapping a network error", i, err)
		}
	}
	// Paused, not killed: the scripts may have run once it resumed, so each
	// token now either rotates or replays; none is refused.
	for i, tok := range toks {
		if _, err := s.Refresh(context.Background(), tok.Reveal()); err != nil {
			t.Fatalf("refresh %d after resume: %v", i, err)
		}
	}
}
