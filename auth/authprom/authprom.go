// Package authprom exports an auth.Manager's counters to Prometheus, and
// times HTTP requests by route. It is a package of its own so that programs
// which do not use Prometheus do not link it: auth itself keeps plain
// counters ([auth.Manager.Stats]).
//
//	c := authprom.NewCollector(m)
//	reg.MustRegister(c)
//	r.Use(c.Instrument) // on the top-level chi router
//
// The series, every label value from a fixed set (never a user id, a session
// id or a raw path):
//
//	sesame_token_verifications_total{result,reason}  valid, invalid (by reason code), unavailable
//	sesame_token_cache_hits_total, sesame_token_cache_misses_total
//	sesame_logins_total{outcome}
//	sesame_refreshes_total{outcome}
//	sesame_revocations_total{kind}
//	sesame_security_events_total{event}
//	sesame_introspections_total{result}  active, inactive, invalid_client, bad_request, rate_limited, unavailable, disabled
//	sesame_limiter_fallback{limiter}  1 while the node counts a limit alone (Redis unreachable)
//	sesame_http_request_duration_seconds{route,method,status}  (Instrument)
package authprom

import (
	"net/http"
	"sync"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/sesame-go/sesame/auth"
)

// Source is what a Collector reads: an *auth.Manager of any session type.
type Source interface{ Stats() auth.Stats }

// Collector is a prometheus.Collector of a Manager's counters, plus the
// request-duration histogram that [Collector.Instrument] fills. Nothing is
// registered globally. It is safe for concurrent use.
type Collector struct {
	src      Source
	verify   *prometheus.Desc
	hits     *prometheus.Desc
	misses   *prometheus.Desc
	logins   *prometheus.Desc
	refresh  *prometheus.Desc
	revokes  *prometheus.Desc
	events   *prometheus.Desc
	intros   *prometheus.Desc
	fallback *prometheus.Desc
	duration *prometheus.HistogramVec

	// observers caches duration's histograms by their labels: a label
	// lookup hashes the three values and takes a lock on every request.
	// Routes are chi route patterns and methods and status classes come
	// from fixed sets, so it holds one entry per series.
	observers sync.Map // seriesKey → prometheus.Observer
}

type seriesKey struct {
	route, method string
	class         uint8 // index in statusClasses
}

// NewCollector returns a Collector of src's counters.
func NewCollector(src Source) *Collector {
	return &Collector{
		src: src,
		verify: prometheus.NewDesc("sesame_token_verifications_total",
			"Access-token verifications by result (valid, invalid, unavailable) and reason code.", []string{"result", "reason"}, nil),
		hits: prometheus.NewDesc("sesame_token_cache_hits_total",
			"Access tokens served from the verified-token cache.", nil, nil),
		misses: prometheus.NewDesc("sesame_token_cache_misses_total",
			"Access tokens verified in full (not in the cache).", nil, nil),
		logins: prometheus.NewDesc("sesame_logins_total", "Login attempts by outcome.", []string{"outcome"}, nil),
		refresh: prometheus.NewDesc("sesame_refreshes_total",
			"Refresh attempts by outcome (rotated, grace_replay, reused, expired, invalid, revoked, unavailable, error).", []string{"outcome"}, nil),
		revokes: prometheus.NewDesc("sesame_revocations_total",
			"Sessions ended by kind (logout, logout_all, session_ended, session_evicted, user_inactive, theft).", []string{"kind"}, nil),
		events: prometheus.NewDesc("sesame_security_events_total", "Security events by kind.", []string{"event"}, nil),
		intros: prometheus.NewDesc("sesame_introspections_total",
			"Token introspection calls by result (active, inactive, invalid_client, bad_request, rate_limited, unavailable, disabled).", []string{"result"}, nil),
		fallback: prometheus.NewDesc("sesame_limiter_fallback",
			"1 while this node counts a login or refresh limit alone because the shared backend (Redis) cannot be asked; the fleet then allows up to N times the limit.",
			[]string{"limiter"}, nil),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "sesame_http_request_duration_seconds",
			Help:    "Duration of HTTP requests by chi route pattern, method and status class.",
			Buckets: []float64{.0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5},
		}, []string{"route", "method", "status"}),
	}
}

// Describe implements prometheus.Collector.
func (c *Collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.verify, c.hits, c.misses, c.logins, c.refresh, c.revokes, c.events, c.intros, c.fallback} {
		ch <- d
	}
	c.duration.Describe(ch)
}

// Collect implements prometheus.Collector.
func (c *Collector) Collect(ch chan<- prometheus.Metric) {
	s := c.src.Stats()
	counter := func(d *prometheus.Desc, v uint64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v), labels...)
	}
	counter(c.verify, s.Valid, "valid", "")
	for reason, v := range s.Invalid {
		counter(c.verify, v, "invalid", reason)
	}
	counter(c.verify, s.Unavailable, "unavailable", auth.CodeUnavailable)
	counter(c.hits, s.CacheHits)
	counter(c.misses, s.CacheMisses)
	for o, v := range s.Logins {
		counter(c.logins, v, o)
	}
	for o, v := range s.Refreshes {
		counter(c.refresh, v, o)
	}
	for k, v := range s.Revocations {
		counter(c.revokes, v, k)
	}
	for k, v := range s.Events {
		counter(c.events, v, string(k))
	}
	for k, v := range s.Introspections {
		counter(c.intros, v, k)
	}
	for k, v := range s.LimiterFallback {
		g := 0.0
		if v {
			g = 1
		}
		ch <- prometheus.MustNewConstMetric(c.fallback, prometheus.GaugeValue, g, k)
	}
	c.duration.Collect(ch)
}

// Instrument returns middleware that records the duration of every request
// in sesame_http_request_duration_seconds, labelled with the chi route
// pattern (never the raw path: "/auth/sessions/{sid}", not the id), the
// method and the status class. Mount it with r.Use on the top-level chi
// router; requests that match no route are labelled "unmatched".
//
// A server that already wraps its router in a handler of its own that
// records the status can call [Collector.Observe] from it instead, and save
// this middleware's ResponseWriter.
func (c *Collector) Instrument(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		sw := &statusWriter{ResponseWriter: w, status: http.StatusOK}
		next.ServeHTTP(sw, r)
		c.Observe(Route(chi.RouteContext(r.Context())), r.Method, sw.status, time.Since(start))
	})
}

// Observe records one request in sesame_http_request_duration_seconds, as
// [Collector.Instrument] does: route is its label as is (use [Route]),
// method is the request's method ("other" for one outside the standard
// set), and status the answer's status code, labelled by class ("2xx").
// route must come from a fixed set, as [Route]'s do: each value is a
// series of its own, kept for the life of the Collector.
func (c *Collector) Observe(route, method string, status int, d time.Duration) {
	k := seriesKey{route, methodLabel(method), statusClassIndex(status)}
	o, ok := c.observers.Load(k)
	if !ok {
		// WithLabelValues returns the same histogram for the same labels,
		// so two requests that race here store the same observer.
		o, _ = c.observers.LoadOrStore(k, c.duration.WithLabelValues(k.route, k.method, statusClasses[k.class]))
	}
	o.(prometheus.Observer).Observe(d.Seconds())
}

// routes caches route patterns by the patterns of the routers a request
// went through: chi's RoutePattern joins and rewrites them on every call
// (two allocations). Keys come from the route tree, never from the
// request, so the cache holds one entry per route.
var routes sync.Map // routeKey → string

type routeKey [3]string

// Route is the route label of rc's request: its chi route pattern
// ("/auth/sessions/{sid}"), or "unmatched" when it matched no route (or rc
// is nil). It is rc.RoutePattern(), cached per route. Read it once the
// router has served the request.
func Route(rc *chi.Context) string {
	if rc == nil || len(rc.RoutePatterns) == 0 {
		return "unmatched"
	}
	if len(rc.RoutePatterns) > len(routeKey{}) {
		return routeOrUnmatched(rc.RoutePattern())
	}
	var k routeKey
	copy(k[:], rc.RoutePatterns)
	if p, ok := routes.Load(k); ok {
		return p.(string)
	}
	p := routeOrUnmatched(rc.RoutePattern())
	routes.Store(k, p)
	return p
}

func routeOrUnmatched(p string) string {
	if p == "" {
		return "unmatched"
	}
	return p
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

var statusClasses = [...]string{"1xx", "2xx", "3xx", "4xx", "5xx"}

func statusClassIndex(code int) uint8 {
	switch {
	case code < 200:
		return 0
	case code < 300:
		return 1
	case code < 400:
		return 2
	case code < 500:
		return 3
	}
	return 4
}
