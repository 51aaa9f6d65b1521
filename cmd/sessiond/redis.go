package main

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/sesame-go/sesame/internal/redisurl"
)

// newRedisClient builds a client from a URL in one of internal/redisurl's
// forms: redis:// and rediss:// (one server), redis-sentinel:// (a
// Sentinel-managed primary), redis-cluster:// (Cluster), and go-redis' own
// ?master_name= and ?addr= query forms. Errors never hold the password.
func newRedisClient(raw string) (redis.UniversalClient, error) {
	return redisurl.NewClient(raw)
}

// pingRedis checks that Redis answers PING within a second.
func pingRedis(ctx context.Context, client redis.UniversalClient) error {
	ctx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	return client.Ping(ctx).Err()
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
