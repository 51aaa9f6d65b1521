package revocation

import (
	"context"
	"sync"

	"github.com/redis/go-redis/v9"
)

// batcher sends the scripts of concurrent calls to Redis as one pipeline
// (auto-pipelining). A call that finds no pipeline in flight sends its own
// script at once, alone, so an idle store adds no latency; calls that
// arrive while a pipeline is in flight queue up and go together in the
// next one. Under load that turns N round trips — N writes and N reads on
// each side, N wake-ups of redis-server — into one, which is most of what a
// refresh costs besides its signature.
//
// Semantics are those of one command per call: each script runs atomically
// and answers its own caller; a pipeline is not a transaction, so one
// call's failure (NOSCRIPT, a MOVED slot, a network error) is its own.
// go-redis' retries apply to the pipeline as they do to a command, which is
// safe for the same reason: every script is idempotent for a retried
// request (a refresh retried after its rotation landed is a replay).
//
// A caller whose context ends while its script is queued or in flight gets
// the context's error at once; the script may still run, exactly as a
// command whose reply was abandoned. The pipeline itself runs without the
// callers' cancellation (one caller's deadline must not fail the others),
// under the client's read and write timeouts.
// pipeliner keeps one batcher per Redis master: on a Cluster a pipeline
// waits for every node it touches, so one stalled master (dead, paused,
// failing over) must hold up only the calls for its own slots. Pipelines
// still go through the client, whose routing follows MOVED and ASK.
type pipeliner struct {
	rdb     redis.UniversalClient
	cluster *redis.ClusterClient // nil: one master, one batcher

	one    batcher // standalone and Sentinel; Cluster when a key's master is unknown
	mu     sync.Mutex
	byNode map[string]*batcher // master address -> its batcher
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
	p.mu.Lock()
	defer p.mu.Unlock()
	b := p.byNode[addr]
	if b == nil {
		if p.byNode == nil {
			p.byNode = make(map[string]*batcher)
		}
		b = &batcher{rdb: p.rdb}
		p.byNode[addr] = b
	}
	return b
}

// maxBatch bounds one pipeline: its callers hear back only once all of its
// replies are read, so an unbounded one would make the first wait for the last.
const maxBatch = 128

type batcher struct {
	rdb redis.UniversalClient

	mu      sync.Mutex
	queue   []*batchCall
	running bool // a flush loop is sending the queue
}

type batchCall struct {
	s    *redis.Script
	keys []string
	args []any
	cmd  *redis.Cmd
	done chan struct{} // closed when cmd holds the reply
}

func (b *batcher) run(ctx context.Context, s *redis.Script, keys []string, args ...any) *redis.Cmd {
	c := &batchCall{s: s, keys: keys, args: args, done: make(chan struct{})}
	b.mu.Lock()
	b.queue = append(b.queue, c)
	lead := !b.running
	b.running = true
	b.mu.Unlock()
	if lead {
		// This call's script is in the first pipeline; whoever queued
		// behind it is sent by a goroutine, so this caller does not wait
		// for them.
		if b.flush() {
			go b.loop()
		}
	}
	select {
	case <-c.done:
		return c.cmd
	case <-ctx.Done():
		cmd := redis.NewCmd(ctx)
		cmd.SetErr(ctx.Err())
		return cmd
	}
}

// loop flushes until the queue is empty.
func (b *batcher) loop() {
	for b.flush() {
	}
}

// flush sends what is queued as one pipeline and reports whether more
// calls queued meanwhile; when none did, it ends the flush loop.
func (b *batcher) flush() (more bool) {
	b.mu.Lock()
	batch := b.queue
	if len(batch) > maxBatch {
		batch = batch[:maxBatch:maxBatch]
		b.queue = append([]*batchCall(nil), b.queue[maxBatch:]...)
	} else {
		b.queue = nil
	}
	b.mu.Unlock()
	b.exec(batch)
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
