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
func (c *Collector) Instrument(next http.Handler) http.Handler {
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
		c.duration.WithLabelValues(route, methodLabel(r.Method), statusClass(sw.status)).Observe(time.Since(start).Seconds())
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
