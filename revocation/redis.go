package revocation

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"
)

// Key layout (prefix P, "sesame:" by default):
//
//	{Pdl}:sid      zset  session id -> entry expiry (unix ms)
//	{Pdl}:jti      zset  token id -> entry expiry
//	{Pdl}:user     zset  user id -> entry expiry
//	{Pdl}:ubefore  hash  user id -> revoked-before (unix ms)
//	{Pdl}:events   stream of entries, the replicas' feed, trimmed by MINID
//	P{tt}:fam:F    hash  family F; tt = F's first two characters
//	P{tt}:user:U   zset  family ids of user U -> absolute expiry
//
// The denylist and its stream share one hash slot, so one script writes an
// entry and its event atomically and a snapshot pairs with a stream cursor.
// It is small (entries live EntryTTL) and most reads go to replicas, so one
// slot is not a bottleneck. A user's index and families share the slot of the
// user's 12-bit tag (the family id starts with it), which spreads users over
// the cluster while keeping one family — and one user's index — in one slot.
// No script touches two slots; the few operations that cross (theft, ending
// a family) write the denylist first, so a failure half-way is retried
// rather than lost.

//go:embed scripts/*.lua
var scriptFS embed.FS

func loadScript(name string) *redis.Script {
	b, err := scriptFS.ReadFile("scripts/" + name)
	if err != nil {
		panic("revocation: missing script " + name)
	}
	return redis.NewScript(string(b))
}

var (
	refreshScript = loadScript("refresh.lua")
	createScript  = loadScript("create.lua")
	updateScript  = loadScript("update.lua")
	revokeScript  = loadScript("revoke.lua")
)

// keyMargin is added to key TTLs, which are only garbage collection: the
// logic always compares stored times with the store's clock.
const keyMargin = time.Minute

// redisStore is a [Store] and a [Feed] kept in Redis (standalone, Sentinel or
// Cluster) through a go-redis UniversalClient. All methods may be called
// concurrently. Redis errors and timeouts are returned wrapping
// [ErrUnavailable]; the client's own timeouts and retries apply.
type redisStore struct {
	rdb    redis.UniversalClient
	c      common
	prefix string
	dl     string     // "{<prefix>dl}:"
	waitN  int        // RedisOptions.WaitReplicas
	waitMs int64      // RedisOptions.WaitTimeout
	batch  *pipeliner // nil: one command per script
}

// NewRedis returns a redisStore using client. opts may be nil.
func NewRedis(client redis.UniversalClient, opts *RedisOptions) (Backend, error) {
	s, err := newRedis(client, opts)
	if err != nil {
		return nil, err
	}
	return s, nil
}

func newRedis(client redis.UniversalClient, opts *RedisOptions) (*redisStore, error) {
	if client == nil {
		return nil, errors.New("revocation: nil redis client")
	}
	var o RedisOptions
	if opts != nil {
		o = *opts
	}
	if o.KeyPrefix == "" {
		o.KeyPrefix = "sesame:"
	}
	if err := validPrefix(o.KeyPrefix); err != nil {
		return nil, err
	}
	c, err := newCommon(o.EntryTTL, o.GraceWindow, o.ReuseLookback, o.Now)
	if err != nil {
		return nil, err
	}
	if o.WaitReplicas < 0 {
		return nil, errors.New("revocation: WaitReplicas is negative")
	}
	// WAIT and auto-pipelining need to know the client: one master
	// (*redis.Client: standalone or Sentinel) or a Cluster.
	var readTimeout time.Duration
	known := true
	switch c := client.(type) {
	case *redis.Client:
		readTimeout = c.Options().ReadTimeout
	case *redis.ClusterClient:
		readTimeout = c.Options().ReadTimeout
	default:
		known = false
	}
	if o.WaitReplicas > 0 {
		if !known {
			return nil, errors.New("revocation: WaitReplicas needs a *redis.Client or *redis.ClusterClient")
		}
		// The script and WAIT are one pipeline, read under ReadTimeout
		// (negative: none). WAIT must answer before it runs out, or a
		// refusal would look like a network failure.
		if o.WaitTimeout == 0 {
			o.WaitTimeout = time.Second
			if readTimeout > 0 && readTimeout <= 2*time.Second {
				o.WaitTimeout = readTimeout / 2
			}
		}
		if o.WaitTimeout < time.Millisecond {
			return nil, errors.New("revocation: WaitTimeout must be at least 1ms")
		}
		if readTimeout > 0 && o.WaitTimeout >= readTimeout {
			return nil, fmt.Errorf("revocation: WaitTimeout %v must be shorter than the client's ReadTimeout %v: the WAIT reply is read under it", o.WaitTimeout, readTimeout)
		}
	}
	r := &redisStore{rdb: client, c: c, prefix: o.KeyPrefix, dl: "{" + o.KeyPrefix + "dl}:",
		waitN: o.WaitReplicas, waitMs: o.WaitTimeout.Milliseconds()}
	if known && !o.NoAutoPipeline && o.WaitReplicas == 0 { // see pipeliner
		r.batch = newPipeliner(client)
	}
	return r, nil
}

// run runs a state-changing script. With WaitReplicas it sends the script
// and WAIT in one pipeline to the node owning keys[0]: WAIT counts the
// replicas that acknowledged this connection's writes, so it must follow
// the script on the same connection, and go-redis' cluster pipeline would
// route the keyless WAIT elsewhere. A MOVED reply (a failover in progress)
// is then an error like any other: nothing was written, the caller retries.
// The pipeline is read under the client's ReadTimeout, which is why NewRedis
// keeps WaitTimeout below it. (A sticky redis.Conn would let WAIT be read
// under its own timeout, but go-redis v9.23 races on the shared options when
// a Conn and its parent client open connections at once.)
func (r *redisStore) run(ctx context.Context, s *redis.Script, keys []string, args ...any) (ret *redis.Cmd) {
	if r.batch != nil {
		return r.batch.run(ctx, s, keys, args...)
	}
	if r.waitN == 0 {
		return s.Run(ctx, r.rdb, keys, args...)
	}
	failed := func(err error) *redis.Cmd {
		c := redis.NewCmd(ctx)
		c.SetErr(err)
		return c
	}
	// NewRedis allowed only these two kinds of client with WaitReplicas.
	node, _ := r.rdb.(*redis.Client)
	cluster, _ := r.rdb.(*redis.ClusterClient)
	if cluster != nil {
		m, err := cluster.MasterForKey(ctx, keys[0])
		if err != nil {
			return failed(err)
		}
		node = m
	}
	// This pipeline bypasses the cluster client's own routing, which
	// reloads the slot map on MOVED; when the pinned master fails (dead,
	// or no longer the master), ask for a reload here, or the next calls
	// keep going to it until the periodic reload. go-redis makes at most
	// one reload per 200ms however often it is asked.
	defer func() {
		if cluster != nil && ret.Err() != nil && !redis.HasErrorPrefix(ret.Err(), "NOSCRIPT") {
			cluster.ReloadState(ctx)
		}
	}()
	for attempt := 0; ; attempt++ {
		var cmd, wait *redis.Cmd
		_, _ = node.Pipelined(ctx, func(p redis.Pipeliner) error {
			cmd = s.EvalSha(ctx, p, keys, args...)
			wait = p.Do(ctx, "WAIT", r.waitN, r.waitMs)
			return nil
		})
		if err := cmd.Err(); err != nil && attempt == 0 && redis.HasErrorPrefix(err, "NOSCRIPT") {
			if err := s.Load(ctx, node).Err(); err != nil {
				return failed(err)
			}
			continue
		}
		if cmd.Err() != nil {
			return cmd
		}
		n, err := wait.Int64()
		if err == nil && n < int64(r.waitN) {
			err = errors.New("only " + strconv.FormatInt(n, 10) + " of " + strconv.Itoa(r.waitN) +
				" replicas acknowledged within " + strconv.FormatInt(r.waitMs, 10) + "ms")
		}
		if err != nil {
			return failed(err)
		}
		return cmd
	}
}

func (r *redisStore) famKey(fid string) string {
	return r.prefix + "{" + fid[:tagLen] + "}:fam:" + fid
}

func (r *redisStore) idxKey(userID string) string {
	return r.prefix + "{" + userTag(userID) + "}:user:" + userID
}

func (r *redisStore) eventsKey() string { return r.dl + "events" }

func (r *redisStore) nowMs() int64 { return r.c.now().UnixMilli() }

// pipelineErr returns the error of a pipeline's commands that is not
// redis.Nil ("not found"), or nil. Pipelined's own error is that of the
// first failed command, which may be a harmless redis.Nil in front of a
// real failure: reading only that one would turn a failed lookup into
// "not revoked".
func pipelineErr(cmds []redis.Cmder, err error) error {
	for _, c := range cmds {
		if e := c.Err(); e != nil && !errors.Is(e, redis.Nil) {
			return e
		}
	}
	if err != nil && !errors.Is(err, redis.Nil) {
		return err
	}
	return nil
}
