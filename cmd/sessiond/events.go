package main

import (
	"context"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/sesame-go/sesame/auth"
	"github.com/sesame-go/sesame/keys"
	"github.com/sesame-go/sesame/users"
)

// Security events that sessiond detects itself, besides auth's
// (auth.EventKind). The names are stable: alerting rules match on them.
const (
	eventKeyRotated      = "key_rotated"
	eventKeyRevoked      = "key_revoked"
	securityEventMessage = "security event"
	keyWatchInterval     = time.Second
)

// logEvent logs auth's security events, one line each with a stable
// "event" attribute (the auth.EventKind) that alerting can match. Events
// carry ids, never tokens or passwords.
//
// The user name typed at a failed login is logged only when it names an
// existing user: people sometimes type their password into the name field,
// and such a "name" must not reach the logs. A name that is not a user's is
// logged as username_known=false.
//
// The staleness trips auth reports (auth.EventStale) are counted in
// sesame_replica_staleness_trips_total.
func logEvent(log *slog.Logger, known *knownUsers, trips prometheus.Counter) func(context.Context, auth.Event) {
	return func(ctx context.Context, e auth.Event) {
		if e.Kind == auth.EventStale {
			trips.Inc()
		}
		level := slog.LevelInfo
		switch e.Kind {
		case auth.EventLoginFailure, auth.EventLoginThrottled, auth.EventRefreshReused, auth.EventStale:
			level = slog.LevelWarn
		}
		attrs := []slog.Attr{slog.String("event", string(e.Kind))}
		add := func(k, v string) {
			if v != "" {
				attrs = append(attrs, slog.String(k, v))
			}
		}
		add("user_id", e.UserID)
		if e.Username != "" {
			if name, err := users.CanonicalName(e.Username); err == nil && (e.UserID == name || known.has(name)) {
				add("username", name)
			} else {
				attrs = append(attrs, slog.Bool("username_known", false))
			}
		}
		add("sid", e.SessionID)
		add("ip", e.IP)
		add("user_agent", e.UserAgent)
		add("reason", e.Reason)
		log.LogAttrs(ctx, level, securityEventMessage, attrs...)
	}
}

// watchKeys logs key_rotated and key_revoked when this node's keyset
// changes, and counts them. Every node logs the change it loads (the node
// that rotated also logs "keys: rotated"), so one rotation is one line per
// node.
func watchKeys(ctx context.Context, holder *keys.Holder, log *slog.Logger, events *prometheus.CounterVec) {
	prev := holder.Current()
	t := time.NewTicker(keyWatchInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		cur := holder.Current()
		if cur == nil || cur == prev || prev != nil && cur.Version() == prev.Version() {
			continue
		}
		keysetEvents(prev, cur, log, events)
		prev = cur
	}
}

// keysetEvents logs what changed from prev to cur: a new active key
// (key_rotated, INFO), and each key newly revoked (key_revoked, WARN). A
// forced revocation of the active key logs both. Key ids are public (they
// are in the JWKS); secrets are never logged.
func keysetEvents(prev, cur *keys.Keyset, log *slog.Logger, events *prometheus.CounterVec) {
	var before *keys.Key
	if prev != nil {
		before, _ = prev.Signer()
	}
	for _, k := range cur.Keys() {
		if k.State() != keys.Revoked {
			continue
		}
		if prev != nil {
			if old, ok := prev.Key(k.ID()); ok && old.State() == keys.Revoked {
				continue
			}
		}
		events.WithLabelValues(eventKeyRevoked).Inc()
		log.LogAttrs(context.Background(), slog.LevelWarn, securityEventMessage,
			slog.String("event", eventKeyRevoked), slog.String("kid", k.ID()), slog.Uint64("version", cur.Version()))
	}
	after, err := cur.Signer()
	if err != nil || before == nil || after.ID() == before.ID() {
		return
	}
	events.WithLabelValues(eventKeyRotated).Inc()
	log.LogAttrs(context.Background(), slog.LevelInfo, securityEventMessage,
		slog.String("event", eventKeyRotated), slog.String("active", after.ID()),
		slog.String("previous", before.ID()), slog.Uint64("version", cur.Version()))
}
