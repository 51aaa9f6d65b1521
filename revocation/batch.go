package revocation

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/redis/go-redis/v9"
)

// pipeliner keeps one batcher per Redis master: on a Cluster a pipeline
// waits for every node it touches, so one stalled master (dead, paused,
// failing over) must hold up only the calls for its own slots. Pipelines
// still go through the client, whose routing follows MOVED and ASK (so
// during a resharding or failover one batch may briefly reach two masters).
// NewRedis uses it only with a *redis.Client (standalone or Sentinel: one
// master) or a *redis.ClusterClient; a Ring's pipeline waits for every
// shard, so a Ring gets one command per call.
type pipeliner struct {
	rdb     redis.UniversalClient
	cluster *redis.ClusterClient // nil: one master, one batcher

	one    batcher  // standalone and Sentinel; Cluster when a key's master is unknown
	byNode sync.Map // master address -> *batcher; grows with the addresses seen
}

func newPipeliner(rdb redis.UniversalClient) *pipeliner {
	p := &pipeliner{rdb: rdb, one: batcher{rdb: rdb}}
	p.cluster, _ = rdb.(*redis.ClusterClient)
	return p
}

func (p *pipeliner) run(ctx context.Context, s *redis.Script, keys []string, args ...any) *redis.Cmd {
	return p.batcherFor(ctx, keys[0]).run(ctx, s, keys, args...)
}

func (p *pipeliner) batcherFor(ctx context.Context, key string) *batcher {
	if p.cluster == nil {
		return &p.one
	}
	// From the client's cached slot map; the pipeline itself is routed
	// again by the client, so a stale answer only groups calls less well.
	node, err := p.cluster.MasterForKey(ctx, key)
	if err != nil {
		return &p.one
	}
	addr := node.Options().Addr
	if b, ok := p.byNode.Load(addr); ok {
		return b.(*batcher)
	}
	b, _ := p.byNode.LoadOrStore(addr, &batcher{rdb: p.rdb})
	return b.(*batcher)
}

// maxQueue bounds the calls waiting behind a master's pipeline in flight.
// Past it a call fails at once with ErrUnavailable, as it would when the
// client's connection pool is exhausted: a stalled master must not collect
// an unbounded backlog of scripts (and their payloads).
const maxQueue = 4096

// errQueueFull is what a call gets past maxQueue.
var errQueueFull = errors.New("too many calls waiting for this Redis master")

// batcher sends the scripts of concurrent calls to one Redis master as one
// pipeline (auto-pipelining). A call that finds no pipeline in flight
// starts one at once with what is queued, usually only its own script, so
// an idle store adds no latency; calls that arrive while a pipeline is in
// flight queue up and all go together in the next one. Under load that
// turns N round trips — N writes and N reads on each side, N wake-ups of
// redis-server — into one, which is most of what a refresh costs besides
// its signature.
//
// Each script runs atomically and answers its own caller: a pipeline is not
// a transaction, and a script's error (NOSCRIPT, MOVED, a script error) is
// its own. A network error fails every call of its pipeline. go-redis then
// retries the whole pipeline (MaxRetries), re-running scripts whose replies
// it had already read; every script copes with running twice for one
// call: create recognises its own family, a refresh run twice is a replay
// that returns the same new token, a revocation is idempotent.
//
// Contexts: a call whose context is already done is refused before it is
// queued; a queued call whose context ends is answered with the context's
// error at once and dropped from the queue, so its script does not run.
// Once its pipeline is sent, a script may run whatever happens to the
// caller, exactly as a command whose reply was abandoned may. The pipeline
// itself runs without the callers' cancellation (one caller's deadline must
// not fail the others), under the client's read and write timeouts — as
// go-redis runs a single command unless ContextTimeoutEnabled.
type batcher struct {
	rdb redis.UniversalClient

	mu      sync.Mutex
	queue   []*batchCall
	running bool // a flush loop is sending the queue
}

type batchCall struct {
	ctx  context.Context
	s    *redis.Script
	keys []string
	args []any
	cmd  *redis.Cmd
	done chan struct{} // closed when cmd holds the answer
}

func failedCmd(ctx context.Context, err error) *redis.Cmd {
	cmd := redis.NewCmd(ctx)
	cmd.SetErr(err)
	return cmd
}

func (b *batcher) run(ctx context.Context, s *redis.Script, keys []string, args ...any) *redis.Cmd {
	if err := ctx.Err(); err != nil {
		return failedCmd(ctx, err)
	}
	c := &batchCall{ctx: ctx, s: s, keys: keys, args: args, done: make(chan struct{})}
	b.mu.Lock()
	if len(b.queue) >= maxQueue {
		b.mu.Unlock()
		return failedCmd(ctx, errQueueFull)
	}
	b.queue = append(b.queue, c)
	lead := !b.running
	b.running = true
	b.mu.Unlock()
	if lead {
		// This call's script is in the first pipeline, sent from this
		// goroutine (no hand-off on an idle store); whoever queued
		// behind it is sent by a new goroutine, so this caller does not
		// wait for them.
		if b.flush() {
			go b.loop()
		}
	}
	select {
	case <-c.done:
	case <-ctx.Done():
		// An answer that is already there wins over the context.
		select {
		case <-c.done:
		default:
			return failedCmd(ctx, ctx.Err())
		}
	}
	return c.cmd
}

// loop flushes until the queue is empty.
func (b *batcher) loop() {
	for b.flush() {
	}
}

// flush sends what is queued as one pipeline and reports whether more
// calls queued meanwhile; when none did, it ends the flush loop. Queued
// calls whose context has ended are answered with its error, not sent.
func (b *batcher) flush() (more bool) {
	b.mu.Lock()
	queued := b.queue
	b.queue = nil
	b.mu.Unlock()
	batch := queued[:0]
	for _, c := range queued {
		if err := c.ctx.Err(); err != nil {
			c.cmd = failedCmd(c.ctx, err)
			close(c.done)
			continue
		}
		batch = append(batch, c)
	}
	defer func() {
		// A panic (in a client hook, say) must not leave callers waiting,
		// nor the batcher marked running with no loop to drain it.
		if p := recover(); p != nil {
			for _, c := range batch {
				if c.cmd == nil {
					c.cmd = failedCmd(c.ctx, fmt.Errorf("revocation: redis pipeline panicked: %v", p))
					close(c.done)
				}
			}
			if b.settle() {
				go b.loop()
			}
			panic(p)
		}
	}()
	if len(batch) > 0 {
		b.exec(batch)
	}
	return b.settle()
}

// settle ends the flush loop if nothing is queued, and reports whether
// something is.
func (b *batcher) settle() (more bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if len(b.queue) == 0 {
		b.running = false
		return false
	}
	return true
}

// exec runs batch's scripts by EVALSHA in one pipeline; those that get
// NOSCRIPT (a restarted or new node) are sent again by EVAL, which also
// loads the script there, as redis.Script.Run does for one command.
func (b *batcher) exec(batch []*batchCall) {
	ctx := context.Background()
	cmds := make([]*redis.Cmd, len(batch))
	_, _ = b.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		for i, c := range batch {
			cmds[i] = c.s.EvalSha(ctx, p, c.keys, c.args...)
		}
		return nil
	})
	var retry []int
	for i, cmd := range cmds {
		if err := cmd.Err(); err != nil && redis.HasErrorPrefix(err, "NOSCRIPT") {
			retry = append(retry, i)
		}
	}
	if len(retry) > 0 {
		_, _ = b.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
			for _, i := range retry {
				c := batch[i]
				cmds[i] = c.s.Eval(ctx, p, c.keys, c.args...)
			}
			return nil
		})
	}
	for i, c := range batch {
		c.cmd = cmds[i]
		close(c.done)
	}
}
