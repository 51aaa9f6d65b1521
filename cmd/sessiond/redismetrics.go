package main

import (
	"context"
	"errors"
	"net"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"
)

// redisCommands are the command label values of the Redis metrics: the
// commands revocation and keys send (Lua scripts run as EVALSHA, falling
// back to EVAL), plus the few a client sends on its own. Any other command
// is counted as "other", so the label set stays fixed whatever runs.
var redisCommands = []string{
	"evalsha", "eval", "evalsha_ro", "eval_ro", "script",
	"get", "set", "del", "hget", "hgetall", "hmget",
	"zrange", "zscan", "zscore", "zrem",
	"xread", "xinfo", "publish", "subscribe",
	"ping", "hello", "auth", "client", "info", "cluster", "multi", "exec", "wait",
}

const (
	otherCommand    = "other"
	pipelineCommand = "pipeline"
)

// redisMetrics observes the Redis client sessiond builds, as a go-redis
// Hook: the duration of each command by name, each pipeline as a whole
// ("pipeline"), and errors by command name.
//
// Not errors: redis.Nil and XINFO's "no such key" (a missing key, an XREAD
// that timed out: answers), NOSCRIPT (EVALSHA of a script not cached yet;
// go-redis retries with EVAL at once), replies to the CLIENT and HELLO
// commands of go-redis's connection handshake (CLIENT SETINFO is refused
// before Redis 7.2; go-redis carries on), and a context canceled by the
// caller (shutdown). A timeout is an error.
//
// The xread duration includes its BLOCK wait (up to the replica's read
// wait, at most 1s): it measures the feed's polling, not Redis latency.
type redisMetrics struct {
	duration   *prometheus.HistogramVec
	errs       *prometheus.CounterVec
	dialErrors prometheus.Counter
	known      map[string]bool
}

var _ redis.Hook = (*redisMetrics)(nil)

func newRedisMetrics() *redisMetrics {
	m := &redisMetrics{
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "sesame_redis_command_duration_seconds",
			Help:    "Duration of Redis commands by command name (a fixed set; others are \"other\"; pipelines are \"pipeline\"). xread includes its BLOCK wait.",
			Buckets: []float64{.0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5},
		}, []string{"command"}),
		errs: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "sesame_redis_command_errors_total",
			Help: "Failed Redis commands by command name (redis.Nil, NOSCRIPT and canceled contexts are not failures).",
		}, []string{"command"}),
		dialErrors: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "sesame_redis_dial_errors_total",
			Help: "Failed connection attempts to Redis.",
		}),
		known: make(map[string]bool, len(redisCommands)),
	}
	// Error counters start at zero, so rate() works from the first scrape;
	// histograms appear with their first observation.
	for _, c := range append(redisCommands, otherCommand, pipelineCommand) {
		m.errs.WithLabelValues(c)
	}
	for _, c := range redisCommands {
		m.known[c] = true
	}
	return m
}

// label is the command label of a command name: the name if it is in the
// fixed set, else "other".
func (m *redisMetrics) label(name string) string {
	if m.known[name] {
		return name
	}
	return otherCommand
}

// isError tells whether err, from command name, counts as a failure.
func isError(ctx context.Context, name string, err error) bool {
	switch {
	case err == nil, errors.Is(err, redis.Nil), errors.Is(err, redis.ErrNoScript):
		return false
	case errors.Is(err, context.Canceled) && ctx.Err() != nil:
		return false
	}
	var reply redis.Error
	if errors.As(err, &reply) {
		msg := reply.Error()
		switch {
		case strings.HasPrefix(msg, "NOSCRIPT"),
			name == "client", name == "hello",
			name == "xinfo" && msg == "ERR no such key":
			return false
		}
	}
	return true
}

func (m *redisMetrics) DialHook(next redis.DialHook) redis.DialHook {
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		conn, err := next(ctx, network, addr)
		if err != nil && ctx.Err() == nil {
			m.dialErrors.Inc()
		}
		return conn, err
	}
}

func (m *redisMetrics) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		start := time.Now()
		err := next(ctx, cmd)
		l := m.label(cmd.Name())
		m.duration.WithLabelValues(l).Observe(time.Since(start).Seconds())
		if isError(ctx, cmd.Name(), err) {
			m.errs.WithLabelValues(l).Inc()
		}
		return err
	}
}

func (m *redisMetrics) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		start := time.Now()
		err := next(ctx, cmds)
		m.duration.WithLabelValues(pipelineCommand).Observe(time.Since(start).Seconds())
		for _, cmd := range cmds {
			if isError(ctx, cmd.Name(), cmd.Err()) {
				m.errs.WithLabelValues(m.label(cmd.Name())).Inc()
			}
		}
		return err
	}
}

// Describe implements prometheus.Collector.
func (m *redisMetrics) Describe(ch chan<- *prometheus.Desc) {
	m.duration.Describe(ch)
	m.errs.Describe(ch)
	m.dialErrors.Describe(ch)
}

// Collect implements prometheus.Collector.
func (m *redisMetrics) Collect(ch chan<- prometheus.Metric) {
	m.duration.Collect(ch)
	m.errs.Collect(ch)
	m.dialErrors.Collect(ch)
}
