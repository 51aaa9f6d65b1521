package main

import (
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/redis/go-redis/v9"

	"github.com/sesame-go/sesame/keys"
)

// nodeMetrics are the series sessiond adds to auth's. Every label value
// comes from a fixed set: event names, policy names, Redis command names.
type nodeMetrics struct {
	staleTrips prometheus.Counter
	keyEvents  *prometheus.CounterVec
	redis      *redisMetrics // nil in memory mode
}

func newNodeMetrics(withRedis bool) *nodeMetrics {
	nm := &nodeMetrics{
		staleTrips: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "sesame_replica_staleness_trips_total",
			Help: "Times the denylist replica went past its staleness bound, so that the staleness policy applied.",
		}),
		keyEvents: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "sesame_keyset_events_total",
			Help: "Keyset changes this node loaded, by event (key_rotated, key_revoked).",
		}, []string{"event"}),
	}
	nm.keyEvents.WithLabelValues(eventKeyRotated)
	nm.keyEvents.WithLabelValues(eventKeyRevoked)
	if withRedis {
		nm.redis = newRedisMetrics()
	}
	return nm
}

// redisHook is the hook for the Redis clients sessiond builds; nil without
// Redis.
func (nm *nodeMetrics) redisHook() redis.Hook {
	if nm.redis == nil {
		return nil
	}
	return nm.redis
}

// metrics serves Prometheus metrics from a registry of its own (nothing is
// registered globally):
//
//   - auth's: token verifications, logins, refreshes, revocations, security
//     events, cache, and HTTP request durations by chi route pattern;
//   - the denylist replica's lag, staleness, trips, refusals, entries and
//     policy;
//   - the keyset's version, the active key's age, the time to the next
//     automatic rotation, and the key events loaded;
//   - Redis command durations and errors (with --redis);
//   - access log lines dropped under overload;
//   - the Go runtime's and the process's.
func (n *node) metrics() http.Handler {
	reg := prometheus.NewRegistry()
	reg.MustRegister(
		n.prom,
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		n.nm.staleTrips,
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "sesame_replica_stale_refusals_total",
			Help: "Denylist checks refused because the replica was stale under fail-closed (each a 503).",
		}, func() float64 { return float64(n.m.Stats().Unavailable) }),
		n.nm.keyEvents,
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "sesame_replica_lag_seconds",
			Help: "Time since the denylist replica last confirmed it was current.",
		}, func() float64 { return n.replica.Status().Lag.Seconds() }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "sesame_replica_stale",
			Help: "1 while the denylist replica is past its staleness bound.",
		}, func() float64 {
			if n.replica.Status().Stale {
				return 1
			}
			return 0
		}),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "sesame_replica_staleness_bound_seconds",
			Help: "The staleness bound (--staleness-bound).",
		}, func() float64 { return n.replica.Status().StalenessBound.Seconds() }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name:        "sesame_replica_policy",
			Help:        "The staleness policy in force (--stale-policy): always 1; the policy label is fail-closed or fail-open.",
			ConstLabels: prometheus.Labels{"policy": n.replica.Status().Policy.String()},
		}, func() float64 { return 1 }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "sesame_replica_entries",
			Help: "Denylist entries held in memory.",
		}, func() float64 { return float64(n.replica.Status().Entries) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "sesame_log_lines_dropped_total",
			Help: "Access log lines of successful, fast requests dropped because the log output could not keep up (--log-buffer full). Errors, slow requests and security events are never dropped.",
		}, func() float64 { return float64(n.logs.dropped()) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "sesame_keyset_version",
			Help: "Version of the keyset in use.",
		}, func() float64 { return float64(n.holder.Current().Version()) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "sesame_keys_active_key_age_seconds",
			Help: "Time since the active signing key started signing.",
		}, func() float64 { return time.Since(activeSince(n.holder.Current())).Seconds() }),
	)
	if n.policy.RotateEvery > 0 {
		reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "sesame_keys_next_rotation_seconds",
			Help: "Time until the active key is due for automatic rotation (--rotate-every after it started signing). " +
				"Negative when overdue: a rotation postponed or failing. Absent when automatic rotation is off.",
		}, func() float64 {
			due := activeSince(n.holder.Current()).Add(n.policy.RotateEvery)
			return time.Until(due).Seconds()
		}))
	}
	reg.MustRegister(persistenceMetrics(n.persist)...)
	if n.nm.redis != nil {
		reg.MustRegister(n.nm.redis)
	}
	return promhttp.HandlerFor(reg, promhttp.HandlerOpts{})
}

// activeSince is when the keyset's active key started signing (its creation
// for a key that never recorded an activation), as keys' Rotator counts it.
func activeSince(ks *keys.Keyset) time.Time {
	if ks == nil {
		return time.Now()
	}
	k, err := ks.Signer()
	if err != nil {
		return time.Now()
	}
	if t := k.Activated(); !t.IsZero() {
		return t
	}
	return k.Created()
}
