package revocation

import (
	"context"
	"errors"
	"net"
	"slices"
	"sync"
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

func newGatedStore(t *testing.T) (*RedisStore, *pipeGate, *redis.Client) {
	t.Helper()
	srv := redistest.Start(t, nil)
	client := srv.Client()
	g := &pipeGate{}
	client.AddHook(g)
	s, err := NewRedis(client, &RedisOptions{KeyPrefix: uniquePrefix()})
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
		Payload: []byte("p"), AbsoluteExpiry: time.Now().Add(time.Hour)})
	if err == nil {
		_, err = s.Refresh(context.Background(), tok.Reveal())
	}
	if err != nil {
		t.Fatal(err)
	}
	toks := make([]RefreshToken, n)
	for i := range toks {
		_, tok, err := s.CreateFamily(context.Background(), NewFamily{SessionID: newSID(), UserID: "u",
			Payload: []byte("p"), AbsoluteExpiry: time.Now().Add(time.Hour)})
		if err != nil {
			t.Fatal(err)
		}
		toks[i] = tok
	}
	return toks
}

// behindOne holds the client's pipelines, refreshes lead (whose pipeline
// is then sent and held), starts calls until every one is queued behind it,
// releases the pipelines and waits for all; lead's refresh must succeed.
// Pipelines recorded before are dropped first.
func behindOne(t *testing.T, s *RedisStore, g *pipeGate, lead RefreshToken, calls []func()) {
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
	waitFor(t, 10*time.Second, func() bool { return s.batch.one.queued() == len(calls) })
	g.release()
	wg.Wait()
	if err := <-first; err != nil {
		t.Fatalf("first refresh: %v", err)
	}
}

// refreshEach returns calls refreshing each of toks, and their errors.
func refreshEach(s *RedisStore, toks []RefreshToken) ([]func(), []error) {
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

// TestAutoPipelineBounded: a pipeline carries at most maxBatch scripts; the
// rest go in the next one.
func TestAutoPipelineBounded(t *testing.T) {
	t.Parallel()
	s, g, _ := newGatedStore(t)
	toks := newFamilies(t, s, maxBatch+11)
	calls, errs := refreshEach(s, toks[1:])
	behindOne(t, s, g, toks[0], calls)
	for i, err := range errs {
		if err != nil {
			t.Fatalf("refresh %d: %v", i, err)
		}
	}
	if got := sizes(g.take(t)); !slices.Equal(got, []int{1, maxBatch, 10}) {
		t.Fatalf("pipelines by size: %v, want [1 %d 10]", got, maxBatch)
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
// holding up the others. Its script may still run, as a command whose reply
// was abandoned may: presenting the same token again within the grace
// window is then a replay that returns the same new token.
func TestAutoPipelineCallerGivesUp(t *testing.T) {
	t.Parallel()
	s, g, _ := newGatedStore(t)
	toks := newFamilies(t, s, 2)
	g.take(t)
	g.holdAll()
	first := make(chan error, 1)
	go func() { _, err := s.Refresh(context.Background(), toks[0].Reveal()); first <- err }()
	waitFor(t, 10*time.Second, func() bool { return g.sent() == 1 })

	ctx, cancel := context.WithCancel(context.Background())
	gaveUp := make(chan error, 1)
	go func() { _, err := s.Refresh(ctx, toks[1].Reveal()); gaveUp <- err }()
	waitFor(t, 10*time.Second, func() bool { return s.batch.one.queued() == 1 })
	cancel()
	err := <-gaveUp // the pipeline in flight is still held
	if !errors.Is(err, ErrUnavailable) || !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled caller: %v, want ErrUnavailable wrapping context.Canceled", err)
	}
	g.release()
	if err := <-first; err != nil {
		t.Fatal(err)
	}
	waitFor(t, 10*time.Second, func() bool { return g.sent() == 2 })
	res, err := s.Refresh(context.Background(), toks[1].Reveal())
	if err != nil {
		t.Fatalf("retry of the abandoned refresh: %v", err)
	}
	// The abandoned script may have run before the retry (a replay) or
	// not (a rotation); either way the holder has a working token.
	if _, err := s.Refresh(context.Background(), res.Token.Reveal()); err != nil {
		t.Fatalf("refresh after the retry: %v", err)
	}
}

// TestAutoPipelineServerDown: every caller of a failed pipeline gets
// ErrUnavailable, and the store works again once the server is back.
func TestAutoPipelineServerDown(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t, nil)
	client := srv.Client(&redis.Options{MaxRetries: -1, DialerRetries: 1, DialTimeout: 100 * time.Millisecond,
		ReadTimeout: 100 * time.Millisecond, WriteTimeout: 100 * time.Millisecond})
	s, err := NewRedis(client, &RedisOptions{KeyPrefix: uniquePrefix()})
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
