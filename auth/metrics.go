package auth

import (
	"net/http"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/sesame-go/sesame/token"
)

// metrics are the manager's Prometheus series. Every label value comes from
// a fixed set (reason codes, outcomes, route patterns), never from user
// input: no user ids, session ids or raw paths.
type metrics struct {
	verify    *prometheus.CounterVec
	verifyBy  map[string]prometheus.Counter // reason → child, resolved once
	verifyOK  prometheus.Counter
	cacheHit  prometheus.Counter
	cacheMiss prometheus.Counter
	logins    *prometheus.CounterVec
	refreshes *prometheus.CounterVec
	revokes   *prometheus.CounterVec
	events    *prometheus.CounterVec
	duration  *prometheus.HistogramVec
}

// Outcome label values.
const (
	refreshRotated     = "rotated"
	refreshReplayed    = "grace_replay"
	refreshReused      = "reused"
	refreshExpired     = "expired"
	refreshInvalid     = "invalid"
	refreshRevoked     = "revoked" // the user may no longer have sessions (UserChecker)
	refreshUnavailable = "unavailable"
	refreshError       = "error"
)

func newMetrics() *metrics {
	m := &metrics{
		verify: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "sesame_token_verifications_total",
			Help: "Access-token verifications by result (valid, invalid, unavailable) and reason code.",
		}, []string{"result", "reason"}),
		logins: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "sesame_logins_total",
			Help: "Login attempts by outcome.",
		}, []string{"outcome"}),
		refreshes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "sesame_refreshes_total",
			Help: "Refresh attempts by outcome (rotated, grace_replay, reused, expired, invalid, revoked, unavailable, error).",
		}, []string{"outcome"}),
		revokes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "sesame_revocations_total",
			Help: "Sessions ended by kind (logout, logout_all, session_ended, session_evicted, theft).",
		}, []string{"kind"}),
		events: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "sesame_security_events_total",
			Help: "Security events by kind.",
		}, []string{"event"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "sesame_http_request_duration_seconds",
			Help:    "Duration of HTTP requests by chi route pattern, method and status class.",
			Buckets: []float64{.0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5},
		}, []string{"route", "method", "status"}),
		cacheHit: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "sesame_token_cache_hits_total",
			Help: "Access tokens served from the verified-token cache.",
		}),
		cacheMiss: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "sesame_token_cache_misses_total",
			Help: "Access tokens verified in full (not in the cache).",
		}),
		verifyBy: make(map[string]prometheus.Counter),
	}
	m.verifyOK = m.verify.WithLabelValues("valid", "")
	for _, r := range append(token.Reasons(), CodeRevoked, CodeUnauthenticated, CodeTransport, CodeForbidden) {
		m.verifyBy[r] = m.verify.WithLabelValues("invalid", r)
	}
	m.verifyBy[CodeUnavailable] = m.verify.WithLabelValues("unavailable", CodeUnavailable)
	for _, o := range []string{"success", CodeInvalidCredentials, CodeRateLimited, CodeSessionLimit, CodeUnavailable, CodeBadRequest, CodeInternal} {
		m.logins.WithLabelValues(o)
	}
	for _, o := range []string{refreshRotated, refreshReplayed, refreshReused, refreshExpired, refreshInvalid, refreshRevoked, refreshUnavailable, refreshError} {
		m.refreshes.WithLabelValues(o)
	}
	return m
}

func (m *metrics) verified(e *Error) {
	if e == nil {
		m.verifyOK.Inc()
		return
	}
	if c, ok := m.verifyBy[e.Code]; ok {
		c.Inc()
		return
	}
	m.verifyBy["invalid_token"].Inc()
}

// Describe implements prometheus.Collector.
func (m *metrics) Describe(ch chan<- *prometheus.Desc) {
	for _, c := range m.collectors() {
		c.Describe(ch)
	}
}

// Collect implements prometheus.Collector.
func (m *metrics) Collect(ch chan<- prometheus.Metric) {
	for _, c := range m.collectors() {
		c.Collect(ch)
	}
}

func (m *metrics) collectors() []prometheus.Collector {
	return []prometheus.Collector{m.verify, m.cacheHit, m.cacheMiss, m.logins, m.refreshes, m.revokes, m.events, m.duration}
}

// Collector returns the manager's metrics as a prometheus.Collector, for the
// caller to register where it likes (nothing is registered globally):
//
//	reg.MustRegister(m.Collector())
func (m *Manager[T]) Collector() prometheus.Collector { return m.metrics }

// Instrument returns middleware that records the duration of every request
// in sesame_http_request_duration_seconds, labelled with the chi route
// pattern (never the raw path: "/auth/sessions/{sid}", not the id), the
// method and the status class. Mount it with r.Use on the top-level chi
// router; requests that match no route are labelled "unmatched".
func (m *Manager[T]) Instrument(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		sw := &statusWriter{ResponseWriter: w, status: http.StatusOK}
		next.ServeHTTP(sw, r)
		route := "unmatched"
		if rc := chi.RouteContext(r.Context()); rc != nil {
			if p := rc.RoutePattern(); p != "" {
				route = p
			}
		}
		m.metrics.duration.WithLabelValues(route, methodLabel(r.Method), statusClass(sw.status)).Observe(time.Since(start).Seconds())
	})
}

type statusWriter struct {
	http.ResponseWriter
	status      int
	wroteHeader bool
}

func (w *statusWriter) WriteHeader(code int) {
	if !w.wroteHeader {
		w.status, w.wroteHeader = code, true
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

func methodLabel(m string) string {
	switch m {
	case http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete, http.MethodOptions:
		return m
	}
	return "other"
}

func statusClass(code int) string {
	switch {
	case code < 200:
		return "1xx"
	case code < 300:
		return "2xx"
	case code < 400:
		return "3xx"
	case code < 500:
		return "4xx"
	}
	return "5xx"
}

// outcomeWriter remembers the error code or status a login or refresh
// handler answered with, so the outcome is counted in one place.
type outcomeWriter struct {
	http.ResponseWriter
	status   int
	code     string
	replayed bool
}

func (w *outcomeWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *outcomeWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

func (w *outcomeWriter) loginOutcome() string {
	switch {
	case w.status == http.StatusOK:
		return "success"
	case w.code == CodeInvalidCredentials, w.code == CodeRateLimited, w.code == CodeSessionLimit, w.code == CodeUnavailable:
		return w.code
	case w.status >= 500:
		return CodeInternal
	}
	return CodeBadRequest
}

func (w *outcomeWriter) refreshOutcome() string {
	switch {
	case w.status == http.StatusOK && w.replayed:
		return refreshReplayed
	case w.status == http.StatusOK:
		return refreshRotated
	case w.code == CodeRefreshReused:
		return refreshReused
	case w.code == CodeRefreshExpired:
		return refreshExpired
	case w.code == CodeRevoked:
		return refreshRevoked
	case w.code == CodeUnavailable:
		return refreshUnavailable
	case w.status >= 500:
		return refreshError
	}
	return refreshInvalid
}
