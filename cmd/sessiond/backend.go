package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/sesame-go/sesame/revocation"
)

// backend is the revocation state: a store, and the replica of its
// denylist that the request path reads.
type backend struct {
	store   revocation.Store
	replica *revocation.Replica
	redis   redis.UniversalClient // nil in memory mode
}

// newBackend returns the Redis backend if --redis is set, else the in-memory
// one (a single process: nothing is shared, everything ends with it).
func newBackend(c *config, log *slog.Logger, hook redis.Hook) (*backend, error) {
	// A denylist entry must outlive every token it revokes.
	entryTTL := c.accessTTL + authLeeway
	b := &backend{}
	var feed revocation.Feed
	if c.redisURL == "" {
		m, err := revocation.NewMemory(&revocation.MemoryOptions{EntryTTL: entryTTL})
		if err != nil {
			return nil, err
		}
		b.store, feed = m, m
	} else {
		client, err := newRedisClient(c.redisURL)
		if err != nil {
			return nil, fmt.Errorf("--redis: %w", err)
		}
		if hook != nil {
			client.AddHook(hook)
		}
		r, err := revocation.NewRedis(client, &revocation.RedisOptions{EntryTTL: entryTTL})
		if err != nil {
			client.Close()
			return nil, err
		}
		b.store, feed, b.redis = r, r, client
	}
	policy := revocation.FailClosed
	if c.stalePolicy == "fail-open" {
		policy = revocation.FailOpen
	}
	rep, err := revocation.NewReplica(feed, &revocation.ReplicaOptions{
		StalenessBound: c.stalenessBound,
		Policy:         policy,
		Logger:         log,
	})
	if err != nil {
		b.close()
		return nil, err
	}
	b.replica = rep
	return b, nil
}

func (b *backend) close() {
	if b.redis != nil {
		b.redis.Close()
	}
}

// ping checks that the store answers: PING for Redis, always for memory.
func (b *backend) ping(ctx context.Context) error {
	if b.redis == nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	return b.redis.Ping(ctx).Err()
}

// newRedisClient builds a client from a URL. The query picks the topology:
// master_name=NAME means Sentinel (the host is a sentinel; more with
// addr=), addr=HOST:PORT without master_name means Cluster (seed nodes),
// anything else one server.
func newRedisClient(raw string) (redis.UniversalClient, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return nil, errors.New("invalid URL") // it may hold a password: not echoed
	}
	q := u.Query()
	switch {
	case q.Has("master_name"):
		o, err := redis.ParseFailoverURL(raw)
		if err != nil {
			return nil, fmt.Errorf("invalid Sentinel URL %s: %v", redactURL(raw), redactErr(err, raw))
		}
		return redis.NewFailoverClient(o), nil
	case q.Has("addr"):
		o, err := redis.ParseClusterURL(raw)
		if err != nil {
			return nil, fmt.Errorf("invalid Cluster URL %s: %v", redactURL(raw), redactErr(err, raw))
		}
		return redis.NewClusterClient(o), nil
	}
	o, err := redis.ParseURL(raw)
	if err != nil {
		return nil, fmt.Errorf("invalid Redis URL %s: %v", redactURL(raw), redactErr(err, raw))
	}
	return redis.NewClient(o), nil
}

// redactURL drops the user information (a password) from a URL for logs
// and errors.
func redactURL(s string) string {
	u, err := url.Parse(s)
	if err != nil || u.User == nil {
		if i := strings.LastIndex(s, "@"); i >= 0 {
			return "…" + s[i:]
		}
		return s
	}
	return u.Redacted()
}

// redactErr returns err's text with any password from raw removed.
func redactErr(err error, raw string) string {
	msg := err.Error()
	if u, perr := url.Parse(raw); perr == nil && u.User != nil {
		if pw, ok := u.User.Password(); ok && pw != "" {
			msg = strings.ReplaceAll(msg, pw, "xxxxx")
		}
	}
	return msg
}

// redisLogger sends go-redis's own log lines (pool and reconnection
// notices) to slog.
type redisLogger struct{ log *slog.Logger }

func (l redisLogger) Printf(ctx context.Context, format string, v ...any) {
	l.log.WarnContext(ctx, fmt.Sprintf(format, v...), "component", "go-redis")
}
