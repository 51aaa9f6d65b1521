package main

import (
	"context"
	"fmt"
	"github.com/sesame-go/sesame/internal/redisurl"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/redis/go-redis/v9"

	"github.com/sesame-go/sesame/revocation"
)

// backend is the revocation state: a store, and the replica of its
// denylist that the request path reads.
type backend struct {
	store   revocation.Store
	replica *revocation.Replica
	redis   redis.UniversalClient // nil in memory and DynamoDB mode
	dynamo  *dynamodb.Client      // nil unless --store dynamodb://
	table   string                // the DynamoDB table
}

// kind names the backend for logs and readiness: memory, redis or dynamodb.
func (b *backend) kind() string {
	switch {
	case b.redis != nil:
		return "redis"
	case b.dynamo != nil:
		return "dynamodb"
	}
	return "memory"
}

// newBackend returns the DynamoDB backend if --store is set, the Redis one
// if --redis is, else the in-memory one (a single process: nothing is
// shared, everything ends with it).
func newBackend(c *config, log *slog.Logger, hook redis.Hook) (*backend, error) {
	// A denylist entry must outlive every token it revokes.
	entryTTL := c.accessTTL + authLeeway
	b := &backend{}
	var feed revocation.Feed
	switch {
	case c.storeURL != "":
		d, client, err := newDynamoStore(c.storeURL, entryTTL, os.Getenv)
		if err != nil {
			return nil, err
		}
		b.store, feed, b.dynamo, b.table = d, d, client, d.Table()
	case c.redisURL == "":
		m, err := revocation.NewMemory(&revocation.MemoryOptions{EntryTTL: entryTTL})
		if err != nil {
			return nil, err
		}
		b.store, feed = m, m
	default:
		client, err := newRedisClient(c.redisURL)
		if err != nil {
			return nil, fmt.Errorf("--redis: %w", err)
		}
		if hook != nil {
			client.AddHook(hook)
		}
		r, err := revocation.NewRedis(client, &revocation.RedisOptions{EntryTTL: entryTTL,
			WaitReplicas: c.waitReplicas, WaitTimeout: c.waitTimeout, NoAutoPipeline: c.noAutoPipeline})
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

// ping checks that the store answers: PING for Redis, DescribeTable for
// DynamoDB, always for memory.
func (b *backend) ping(ctx context.Context) error {
	if b.dynamo != nil {
		return pingDynamo(ctx, b.dynamo, b.table)
	}
	if b.redis == nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	return b.redis.Ping(ctx).Err()
}

// newRedisClient builds a client from a URL in one of internal/redisurl's
// forms: redis:// and rediss:// (one server), redis-sentinel:// (a
// Sentinel-managed primary), redis-cluster:// (Cluster), and go-redis' own
// ?master_name= and ?addr= query forms. Errors never hold the password.
func newRedisClient(raw string) (redis.UniversalClient, error) {
	return redisurl.NewClient(raw)
}

// redactURL drops passwords from a keyset or Redis URL, for logs and
// errors. A file keyset holds none.
func redactURL(s string) string {
	if strings.HasPrefix(s, "file:") {
		return s
	}
	return redisurl.Redact(s)
}

// redisLogger sends go-redis's own log lines (pool and reconnection
// notices) to slog.
type redisLogger struct{ log *slog.Logger }

func (l redisLogger) Printf(ctx context.Context, format string, v ...any) {
	l.log.WarnContext(ctx, fmt.Sprintf(format, v...), "component", "go-redis")
}
