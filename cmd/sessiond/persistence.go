package main

import (
	"context"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"

	"github.com/sesame-go/sesame/internal/redispersist"
	"github.com/sesame-go/sesame/revocation"
)

// eventStoreReset is the security event of a Redis data set found gone
// under the running fleet (restarted empty, flushed, failed over to a node
// that did not have it): revocations written before it are lost, and a node
// started afterwards accepts tokens that were logged out.
const eventStoreReset = "store_reset"

// watchPersistence checks at start, and then every few seconds, that the
// Redis under the store keeps revocations: on disk (AOF or RDB), without an
// eviction policy that drops them, and without its data set reset under the
// running node. A Redis that keeps nothing is logged at start (WARN) and
// shown in /readyz?verbose and in metrics; a reset is a security event
// (ERROR).
//
// After a reset the node writes back every live revocation its replica has
// seen (revocation.Journal.Republish: sound because the denylist only ever
// says "revoked"), so that nodes started afterwards refuse them too.
func watchPersistence(ctx context.Context, client redis.UniversalClient, prefix string, store revocation.Store, journal *revocation.Journal, log *slog.Logger) *redispersist.Monitor {
	mon := redispersist.New(client, prefix, &redispersist.Options{
		OnReset: func(ctx context.Context, st redispersist.Status) error {
			log.LogAttrs(ctx, slog.LevelError, securityEventMessage, slog.String("event", eventStoreReset),
				slog.Uint64("resets", st.Resets), slog.String("detail", st.Detail),
				slog.String("consequence", "refresh families are lost (their users log in again); this node writes back the revocations its replica holds"))
			if journal == nil {
				return nil
			}
			n, err := journal.Republish(ctx, store)
			if err != nil {
				log.Error("writing revocations back after the reset failed; retrying at the next check", "written", n, "err", err)
				return err
			}
			log.Info("wrote revocations back after the store's reset", "revocations", n)
			return nil
		},
	})
	cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	st, err := mon.Check(cctx)
	switch {
	case err != nil:
		log.Warn("could not check the Redis persistence settings", "err", err)
	case st.Durability == redispersist.DurabilityNone || st.Durability == redispersist.DurabilityUnknown:
		log.Warn("Redis keeps revocations on no disk: a restart empties it, and nodes started afterwards accept logged-out tokens until they expire; "+
			"turn on appendonly yes (see the README's Redis section)", "durability", string(st.Durability), "detail", st.Detail)
	default:
		log.Info("Redis persistence", "durability", string(st.Durability), "detail", st.Detail)
	}
	if st.Evicting {
		log.Warn("Redis may evict any key under memory pressure (maxmemory-policy allkeys-*), revocations included: use noeviction or a volatile-* policy", "detail", st.Detail)
	}
	return mon
}

// persistenceCheck is the store's durability in /readyz?verbose.
type persistenceCheck struct {
	Durability string    `json:"durability"`
	Evicting   bool      `json:"evicting"`
	Resets     uint64    `json:"resets"`
	LastReset  time.Time `json:"last_reset,omitzero"`
	Detail     string    `json:"detail,omitempty"`
	LastError  string    `json:"last_error,omitempty"`
}

func persistenceOf(mon *redispersist.Monitor) *persistenceCheck {
	if mon == nil {
		return nil
	}
	st := mon.Status()
	pc := &persistenceCheck{Durability: string(st.Durability), Evicting: st.Evicting, Resets: st.Resets, LastReset: st.LastReset, Detail: st.Detail}
	if st.LastError != nil {
		pc.LastError = st.LastError.Error()
	}
	return pc
}

// persistenceMetrics are the series of the monitor: durability, eviction
// and resets.
func persistenceMetrics(mon *redispersist.Monitor) []prometheus.Collector {
	if mon == nil {
		return nil
	}
	var out []prometheus.Collector
	for _, d := range []redispersist.Durability{redispersist.DurabilityAOF, redispersist.DurabilityRDB, redispersist.DurabilityNone, redispersist.DurabilityUnknown} {
		out = append(out, prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name:        "sesame_redis_durability",
			Help:        "1 for the weakest persistence of the Redis masters under the store (aof, rdb, none, unknown); with none, a restart loses revocations.",
			ConstLabels: prometheus.Labels{"durability": string(d)},
		}, func() float64 {
			if mon.Status().Durability == d {
				return 1
			}
			return 0
		}))
	}
	return append(out,
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "sesame_redis_evicting",
			Help: "1 when a Redis master's maxmemory-policy may evict any key, revocations included.",
		}, func() float64 {
			if mon.Status().Evicting {
				return 1
			}
			return 0
		}),
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "sesame_redis_resets_total",
			Help: "Times the Redis data set was found gone under this node (restarted empty, flushed, failed over to an empty node): revocations were lost.",
		}, func() float64 { return float64(mon.Status().Resets) }),
	)
}
