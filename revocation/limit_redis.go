package revocation

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
)

// limitScript is one GCRA step, atomic in Redis; see scripts/limit.lua.
//
// It is our own rather than github.com/go-redis/redis_rate's (also GCRA,
// also one key per call, so also safe on Cluster) for three reasons: it
// can give a unit back (Refund) and answer without taking (Peek), which
// auth needs to charge only failures; it takes the clock as an argument when
// one is injected, so tests step time instead of sleeping, and uses the
// server's TIME otherwise, one clock for the whole fleet; and it adds no
// dependency.
var limitScript = loadScript("limit.lua")

// newRedisLimiter is [redisStore.Limiter] on any client and prefix.
func newRedisLimiter(client redis.UniversalClient, prefix, name string, rate Rate, opts *LimiterOptions) (Limiter, error) {
	if client == nil {
		return nil, errors.New("revocation: nil redis client")
	}
	if prefix == "" {
		prefix = "sesame:"
	}
	if err := validPrefix(prefix); err != nil {
		return nil, err
	}
	if name == "" {
		return nil, errors.New("revocation: limiter name is required")
	}
	if err := validPrefix(name); err != nil {
		return nil, fmt.Errorf("revocation: limiter name %q must not contain '{' or '}'", name)
	}
	o := opts.withDefaults()
	if err := o.validate(); err != nil {
		return nil, err
	}
	if err := rate.validate(); err != nil {
		return nil, err
	}
	l := &redisLimiter{
		rdb:    client,
		prefix: prefix + "rl:" + name + ":",
		rate:   rate,
		opts:   o,
		local:  newLocal(rate, o),
		clock:  o.Now,
	}
	if l.clock == nil {
		l.clock = time.Now
	}
	if !rate.off() {
		l.interval = strconv.FormatInt(rate.interval().Microseconds(), 10)
		l.period = strconv.FormatInt(rate.Period.Microseconds(), 10)
	}
	return l, nil
}

// Limiter returns a [Limiter] whose counts live in Redis, shared by every
// node using the same key prefix and name: one key per counted key,
// "<prefix>rl:<name>:<hash>", where hash is 128 bits of SHA-256 of the key
// (so usernames and addresses are not stored in clear, and a key's length
// is bounded), expiring when its budget has refilled. Each call is one
// script run on one key, so it works on Redis Cluster.
//
// When a call fails or takes longer than opts.Timeout, the answer comes from
// a local table ([NewLocalLimiter], same rate) and the limiter stays on it
// for opts.RetryInterval before asking Redis again; [Limiter.Status] reports
// the fallback. Counts made locally are not copied to Redis afterwards, and
// a Reset during the fallback clears only the local count.
func (s *redisStore) Limiter(name string, rate Rate, opts *LimiterOptions) (Limiter, error) {
	return newRedisLimiter(s.rdb, s.prefix, name, rate, opts)
}

type redisLimiter struct {
	rdb              redis.UniversalClient
	prefix           string
	rate             Rate
	opts             LimiterOptions
	interval, period string // µs, for the script
	local            *localLimiter
	clock            func() time.Time // the fallback's and the breaker's clock

	mu      sync.Mutex
	status  LimiterStatus
	nextTry time.Time // while in fallback, when to ask Redis again
}

var _ Limiter = (*redisLimiter)(nil)

func (l *redisLimiter) key(k string) string {
	h := sha256.Sum256([]byte(k))
	return l.prefix + base64.RawURLEncoding.EncodeToString(h[:16])
}

func (l *redisLimiter) Reserve(ctx context.Context, key string) Decision {
	return l.step(ctx, "take", key, l.local.Reserve)
}

func (l *redisLimiter) Peek(ctx context.Context, key string) Decision {
	return l.step(ctx, "peek", key, l.local.Peek)
}

func (l *redisLimiter) Refund(ctx context.Context, key string) {
	l.step(ctx, "refund", key, func(ctx context.Context, key string) Decision {
		l.local.Refund(ctx, key)
		return Decision{}
	})
}

func (l *redisLimiter) Reset(ctx context.Context, key string) {
	// Both: a key counted locally during an outage is forgiven too.
	l.local.Reset(ctx, key)
	if l.rate.off() || l.skip() {
		return
	}
	l.call(ctx, func(ctx context.Context) ([]int64, error) {
		return nil, l.rdb.Del(ctx, l.key(key)).Err()
	})
}

func (l *redisLimiter) Status() LimiterStatus {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.status
}

// step runs op in Redis, or local when Redis is out of reach.
func (l *redisLimiter) step(ctx context.Context, op, key string, local func(context.Context, string) Decision) Decision {
	if l.rate.off() {
		return Decision{Allowed: true, Remaining: -1}
	}
	if l.skip() {
		return fallback(local(ctx, key))
	}
	now := ""
	if l.opts.Now != nil {
		now = strconv.FormatInt(l.opts.Now().UnixMicro(), 10)
	}
	res, ok := l.call(ctx, func(ctx context.Context) ([]int64, error) {
		return limitScript.Run(ctx, l.rdb, []string{l.key(key)}, op, l.interval, l.period, now).Int64Slice()
	})
	if !ok || len(res) != 3 {
		return fallback(local(ctx, key))
	}
	return Decision{Allowed: res[0] == 1, Remaining: int(res[1]), RetryAfter: time.Duration(res[2]) * time.Microsecond}
}

func fallback(d Decision) Decision {
	d.Local = true
	return d
}

// skip reports whether to answer locally without trying Redis.
func (l *redisLimiter) skip() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.status.Fallback || !l.clock().Before(l.nextTry) {
		if l.status.Fallback {
			l.nextTry = l.clock().Add(l.opts.RetryInterval) // one caller probes; the others stay local
		}
		return false
	}
	return true
}

// call runs f with the limiter's timeout and records the backend's health.
// go-redis applies a context deadline to the socket only when its client
// enables ContextTimeoutEnabled, so the call runs in its own goroutine and
// is abandoned (its result dropped) when the timeout passes first.
func (l *redisLimiter) call(parent context.Context, f func(context.Context) ([]int64, error)) ([]int64, bool) {
	ctx, cancel := context.WithTimeout(parent, l.opts.Timeout)
	defer cancel()
	type result struct {
		v   []int64
		err error
	}
	ch := make(chan result, 1)
	go func() {
		v, err := f(ctx)
		ch <- result{v, err}
	}()
	var r result
	select {
	case r = <-ch:
	case <-ctx.Done():
		r.err = fmt.Errorf("no answer within %v", l.opts.Timeout)
	}
	if r.err != nil && parent.Err() != nil {
		return nil, false // the caller gave up: that says nothing about Redis
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	switch {
	case r.err != nil && !l.status.Fallback:
		l.status = LimiterStatus{Fallback: true, Since: l.clock(), LastError: fmt.Errorf("revocation: limiter: %w", r.err)}
		l.nextTry = l.clock().Add(l.opts.RetryInterval)
	case r.err != nil:
		l.nextTry = l.clock().Add(l.opts.RetryInterval)
	case l.status.Fallback:
		l.status = LimiterStatus{Since: l.clock()}
	}
	return r.v, r.err == nil
}
