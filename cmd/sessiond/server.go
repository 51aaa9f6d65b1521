package main

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/sesame-go/sesame/auth"
	"github.com/sesame-go/sesame/internal/users"
	"github.com/sesame-go/sesame/keys"
	"github.com/sesame-go/sesame/revocation"
)

// node is one running sessiond: what the handlers need.
type node struct {
	m       *auth.Manager[users.Profile]
	backend *backend
	holder  *keys.Holder
	users   *users.Authenticator
	policy  keys.RotationPolicy
	log     *slog.Logger
}

func (n *node) routes() http.Handler {
	r := chi.NewRouter()
	r.Use(n.m.Instrument)
	r.Mount("/auth", n.m.Routes())
	r.Method(http.MethodGet, "/.well-known/jwks.json", keys.JWKSHandler(n.holder, n.policy))
	r.Method(http.MethodHead, "/.well-known/jwks.json", keys.JWKSHandler(n.holder, n.policy))
	r.Get("/healthz", n.healthz)
	r.Get("/readyz", n.readyz)
	r.Method(http.MethodGet, "/metrics", n.metrics())
	r.With(n.m.Require()).Get("/api/whoami", n.whoami)
	return r
}

// metrics serves Prometheus metrics: auth's (logins, refreshes,
// verifications, request durations), the denylist replica's lag and size,
// the keyset version, and the Go runtime's.
func (n *node) metrics() http.Handler {
	reg := prometheus.NewRegistry()
	reg.MustRegister(
		n.m.Collector(),
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "sesame_replica_lag_seconds",
			Help: "Time since the denylist replica last confirmed it was current.",
		}, func() float64 { return n.backend.replica.Lag().Seconds() }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "sesame_replica_stale",
			Help: "1 while the denylist replica is past its staleness bound.",
		}, func() float64 {
			if n.backend.replica.Status().Stale {
				return 1
			}
			return 0
		}),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "sesame_replica_entries",
			Help: "Denylist entries held in memory.",
		}, func() float64 { return float64(n.backend.replica.Status().Entries) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "sesame_keyset_version",
			Help: "Version of the keyset in use.",
		}, func() float64 { return float64(n.holder.Current().Version()) }),
	)
	return promhttp.HandlerFor(reg, promhttp.HandlerOpts{})
}

// healthz is liveness: the process runs and serves HTTP.
func (n *node) healthz(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
}

type readiness struct {
	Ready   bool         `json:"ready"`
	Store   storeCheck   `json:"store"`
	Replica replicaCheck `json:"replica"`
	Keyset  keysetCheck  `json:"keyset"`
	Users   usersCheck   `json:"users"`
}

type storeCheck struct {
	OK      bool   `json:"ok"`
	Backend string `json:"backend"` // "memory" or "redis"
	Error   string `json:"error,omitempty"`
}

type replicaCheck struct {
	OK            bool    `json:"ok"`
	Loaded        bool    `json:"loaded"`
	Stale         bool    `json:"stale"`
	Policy        string  `json:"policy"`
	LagSeconds    float64 `json:"lag_seconds"`
	BoundSeconds  float64 `json:"staleness_bound_seconds"`
	Entries       int     `json:"entries"`
	LastFeedError string  `json:"last_error,omitempty"`
	FullSnapshots uint64  `json:"snapshots"`
}

type keysetCheck struct {
	OK        bool      `json:"ok"`
	Version   uint64    `json:"version"`
	ActiveKID string    `json:"active_kid,omitempty"`
	LoadedAt  time.Time `json:"loaded_at"`
	LastError string    `json:"last_error,omitempty"`
}

type usersCheck struct {
	OK        bool      `json:"ok"`
	Source    string    `json:"source"` // the users file, or "demo"
	Users     int       `json:"users"`
	LoadedAt  time.Time `json:"loaded_at"`
	LastError string    `json:"last_error,omitempty"`
}

// readyz is readiness: 200 when this node can serve sessions correctly, 503
// with the failing part otherwise.
//
//   - store: memory always answers; Redis must answer PING within 1s
//     (login, refresh and logout need it).
//   - replica: loaded and within its staleness bound. Under fail-open a
//     stale replica still serves, so it only has to be loaded.
//   - keyset: a keyset is loaded. A failed reload keeps the last good one
//     serving; its error is shown but does not fail readiness.
//   - users: shown, never failing (the last good users file stays in use).
func (n *node) readyz(w http.ResponseWriter, r *http.Request) {
	var rd readiness

	rd.Store.Backend = "memory"
	if n.backend.redis != nil {
		rd.Store.Backend = "redis"
	}
	if err := n.backend.ping(r.Context()); err != nil {
		rd.Store.Error = err.Error()
	} else {
		rd.Store.OK = true
	}

	st := n.backend.replica.Status()
	rd.Replica = replicaCheck{
		Loaded: st.Ready, Stale: st.Stale, Policy: st.Policy.String(),
		LagSeconds: st.Lag.Seconds(), BoundSeconds: st.StalenessBound.Seconds(),
		Entries: st.Entries, LastFeedError: st.LastError, FullSnapshots: st.Resyncs,
	}
	rd.Replica.OK = st.Ready && (!st.Stale || st.Policy == revocation.FailOpen)

	hs := n.holder.Status()
	rd.Keyset = keysetCheck{Version: hs.Version, LoadedAt: hs.LoadedAt}
	if ks := n.holder.Current(); ks != nil {
		if k, err := ks.Signer(); err == nil {
			rd.Keyset.OK, rd.Keyset.ActiveKID = true, k.ID()
		}
	}
	if hs.LastError != nil {
		rd.Keyset.LastError = hs.LastError.Error()
	}

	us := n.users.Status()
	rd.Users = usersCheck{OK: true, Source: us.Path, Users: us.Users, LoadedAt: us.LoadedAt}
	if us.Path == "" {
		rd.Users.Source = "demo"
	}
	if us.LastError != nil {
		rd.Users.LastError = us.LastError.Error()
	}

	rd.Ready = rd.Store.OK && rd.Replica.OK && rd.Keyset.OK
	code := http.StatusOK
	if !rd.Ready {
		code = http.StatusServiceUnavailable
	}
	writeJSON(w, code, rd)
}

// whoami is the demo protected route: who the access token says you are.
func (n *node) whoami(w http.ResponseWriter, r *http.Request) {
	s, ok := auth.FromContext[users.Profile](r.Context())
	if !ok { // Require guarantees a session; be forgiving anyway
		writeJSON(w, http.StatusUnauthorized, map[string]string{"error": auth.CodeUnauthenticated, "message": "authentication required"})
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"sub":  s.UserID,
		"name": s.Data.Name,
		"sid":  s.SessionID(),
		"exp":  s.ExpiresAt().Unix(),
	})
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(code)
	json.NewEncoder(w).Encode(v)
}

// logEvent logs auth's security events, one line each with a stable
// "event" attribute (the auth.EventKind) that alerting can match. Events
// carry ids, never tokens or passwords. The user name typed at a failed
// login is logged only if it is a well-formed user name: people sometimes
// type their password into the name field.
func logEvent(log *slog.Logger) func(context.Context, auth.Event) {
	return func(ctx context.Context, e auth.Event) {
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
			if name, err := users.CanonicalName(e.Username); err == nil {
				add("username", name)
			} else {
				attrs = append(attrs, slog.Bool("username_malformed", true))
			}
		}
		add("sid", e.SessionID)
		add("ip", e.IP)
		add("user_agent", e.UserAgent)
		add("reason", e.Reason)
		log.LogAttrs(ctx, level, "security event", attrs...)
	}
}
