package main

import (
	"context"
	"encoding/json"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/sesame-go/sesame/auth"
	"github.com/sesame-go/sesame/auth/authprom"
	"github.com/sesame-go/sesame/internal/redispersist"
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
	logs    *logs
	persist *redispersist.Monitor // nil without Redis
	nm      *nodeMetrics

	// metricsApart: /metrics and the readiness details are served on
	// --metrics-addr (opsRoutes), not on the main listener.
	metricsApart bool
	// proxies are --trusted-proxies: a request from one of them came from
	// somewhere else, so it never gets the readiness details.
	proxies []netip.Prefix
}

// newNode is the node of a running Manager.
func newNode(m *auth.Manager[users.Profile], backend string, ping func(context.Context) error, authn *users.Authenticator, policy keys.RotationPolicy, log *slog.Logger, nm *nodeMetrics) *node {
	p := m.Parts()
	return &node{m: m, prom: authprom.NewCollector(m), store: p.Store, replica: p.Replica, holder: p.Keys, backend: backend, ping: ping,
		users: authn, policy: policy, log: log, nm: nm}
}

func (n *node) routes() http.Handler {
	r := chi.NewRouter()
	r.Mount("/auth", n.m.Routes())
	r.Method(http.MethodGet, "/.well-known/jwks.json", keys.JWKSHandler(n.holder, n.policy))
	r.Method(http.MethodHead, "/.well-known/jwks.json", keys.JWKSHandler(n.holder, n.policy))
	r.Get("/healthz", n.healthz)
	if n.metricsApart {
		r.Get("/readyz", n.readyz(never))
	} else {
		r.Get("/readyz", n.readyz(n.fromThisMachine))
		r.Method(http.MethodGet, "/metrics", n.metrics())
	}
	r.With(n.m.Require()).Get("/api/whoami", n.whoami)
	return &front{n: n, ids: newRequestIDs(), prom: n.prom, router: r}
}

// opsRoutes are the routes of --metrics-addr: what a scraper and an
// operator need, with every readiness detail.
func (n *node) opsRoutes() http.Handler {
	r := chi.NewRouter()
	r.Get("/healthz", n.healthz)
	r.Get("/readyz", n.readyz(always))
	r.Method(http.MethodGet, "/metrics", n.metrics())
	return &front{n: n, ids: newRequestIDs(), router: r}
}

func never(*http.Request) bool  { return false }
func always(*http.Request) bool { return true }

// fromThisMachine reports whether r came straight from this machine: a
// loopback peer that is not a trusted proxy and that names no client
// behind it (a reverse proxy on the same host forwards the world's
// requests from a loopback address, and says so in one of these headers).
func (n *node) fromThisMachine(r *http.Request) bool {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return false
	}
	ip, err := netip.ParseAddr(host)
	if err != nil || !ip.Unmap().IsLoopback() {
		return false
	}
	for _, p := range n.proxies {
		if p.Contains(ip.Unmap()) {
			return false
		}
	}
	for _, h := range []string{"Forwarded", "X-Forwarded-For", "X-Real-Ip", "X-Forwarded-Host"} {
		if len(r.Header.Values(h)) > 0 {
			return false
		}
	}
	return true
}

// healthz is liveness: the process runs and serves HTTP.
func (n *node) healthz(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
}

// publicReadiness is all /readyz tells anyone: ready or not, and which
// part is not (store, replica or keyset). The details (the users file's
// path, the user count, the active kid, error texts) would help an
// attacker map the deployment and are for operators only.
type publicReadiness struct {
	Ready  bool   `json:"ready"`
	Reason string `json:"reason,omitempty"`
}

type readiness struct {
	Ready   bool         `json:"ready"`
	Reason  string       `json:"reason,omitempty"`
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
	// Persistence is what Redis keeps across a restart (Redis only): a
	// store that keeps nothing, or whose data set was reset, shows here
	// without failing readiness (the node serves; the risk is the fleet's).
	Persistence *persistenceCheck `json:"persistence,omitempty"`
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
// otherwise, with the first failing part as the reason ("store", "replica",
// "keyset"). That is the whole answer, unless the request asks for
// "?verbose" and details(r) allows it: then every part is shown.
//
//   - store: memory always answers; Redis must answer PING within 1s
//     (login, refresh and logout need it).
//   - replica: loaded and within its staleness bound. Under fail-open a
//     stale replica still serves, so it only has to be loaded.
//   - keyset: a keyset is loaded. A failed reload keeps the last good one
//     serving; its error is shown but does not fail readiness.
//   - users: shown, never failing (the last good users file stays in use).
func (n *node) readyz(details func(*http.Request) bool) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		rd := n.readiness(r.Context())
		code := http.StatusOK
		if !rd.Ready {
			code = http.StatusServiceUnavailable
		}
		if r.URL.Query().Has("verbose") && details(r) {
			writeJSON(w, code, rd)
			return
		}
		writeJSON(w, code, publicReadiness{Ready: rd.Ready, Reason: rd.Reason})
	}
}

// readiness checks every part.
func (n *node) readiness(ctx context.Context) readiness {
	var rd readiness

	rd.Store.Backend = n.backend
	rd.Store.Persistence = persistenceOf(n.persist)
	if err := n.ping(ctx); err != nil {
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
	switch {
	case !rd.Store.OK:
		rd.Reason = "store"
	case !rd.Replica.OK:
		rd.Reason = "replica"
	case !rd.Keyset.OK:
		rd.Reason = "keyset"
	}
	return rd
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
