package main

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/sesame-go/sesame/auth"
	"github.com/sesame-go/sesame/auth/authprom"
	"github.com/sesame-go/sesame/keys"
	"github.com/sesame-go/sesame/revocation"
	"github.com/sesame-go/sesame/users"
)

// node is one running sessiond: what the handlers need.
type node struct {
	m       *auth.Manager[users.Profile]
	prom    *authprom.Collector
	store   revocation.Store
	replica *revocation.Replica
	holder  *keys.Holder
	backend string                          // memory, redis or dynamodb
	ping    func(ctx context.Context) error // does the store answer?
	users   *users.Authenticator
	policy  keys.RotationPolicy
	log     *slog.Logger
	nm      *nodeMetrics
}

// newNode is the node of a running Manager.
func newNode(m *auth.Manager[users.Profile], backend string, ping func(context.Context) error, authn *users.Authenticator, policy keys.RotationPolicy, log *slog.Logger, nm *nodeMetrics) *node {
	p := m.Parts()
	return &node{m: m, prom: authprom.NewCollector(m), store: p.Store, replica: p.Replica, holder: p.Keys, backend: backend, ping: ping,
		users: authn, policy: policy, log: log, nm: nm}
}

func (n *node) routes() http.Handler {
	r := chi.NewRouter()
	r.Use(requestID, n.accessLog, n.prom.Instrument)
	r.Mount("/auth", n.m.Routes())
	r.Method(http.MethodGet, "/.well-known/jwks.json", keys.JWKSHandler(n.holder, n.policy))
	r.Method(http.MethodHead, "/.well-known/jwks.json", keys.JWKSHandler(n.holder, n.policy))
	r.Get("/healthz", n.healthz)
	r.Get("/readyz", n.readyz)
	r.Method(http.MethodGet, "/metrics", n.metrics())
	r.With(n.m.Require()).Get("/api/whoami", n.whoami)
	return r
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
	Limits  string       `json:"limits"` // limitsState: shared, fallback or local; never fails readiness
}

type storeCheck struct {
	OK      bool   `json:"ok"`
	Backend string `json:"backend"` // "memory", "redis" or "dynamodb"
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

	rd.Store.Backend = n.backend
	if err := n.ping(r.Context()); err != nil {
		rd.Store.Error = err.Error()
	} else {
		rd.Store.OK = true
	}

	st := n.replica.Status()
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

	rd.Limits = limitsState(n.backend, n.m.Stats().LimiterFallback)

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
		"sid":  s.Claims.SessionID,
		"exp":  s.Claims.ExpiresAt.Unix(),
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
