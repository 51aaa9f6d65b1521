package auth_test

import (
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// scrape fetches the registry over HTTP and parses the text format, as
// Prometheus would.
func scrape(t *testing.T, reg *prometheus.Registry) map[string]*dto.MetricFamily {
	t.Helper()
	srv := httptest.NewServer(promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	defer srv.Close()
	res, err := srv.Client().Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	parser := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := parser.TextToMetricFamilies(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return fams
}

// value returns the counter (or histogram count) with the given labels.
func value(fams map[string]*dto.MetricFamily, name string, labels ...string) float64 {
	f, ok := fams[name]
	if !ok {
		return -1
	}
next:
	for _, m := range f.Metric {
		have := map[string]string{}
		for _, l := range m.Label {
			have[l.GetName()] = l.GetValue()
		}
		for i := 0; i < len(labels); i += 2 {
			if have[labels[i]] != labels[i+1] {
				continue next
			}
		}
		if m.Counter != nil {
			return m.Counter.GetValue()
		}
		if m.Histogram != nil {
			return float64(m.Histogram.GetSampleCount())
		}
	}
	return 0
}

func TestMetricsMoveAsExpected(t *testing.T) {
	e := newEnv(t, newMemoryStore(t))
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(e.m.Collector())

	tk := e.loginHeader("alice")                                                     // login success
	e.do(nil, "POST", "/auth/login", `{"username":"alice","password":"wrong"}`)      // invalid_credentials
	e.do(nil, "POST", "/auth/login", `{"username":`)                                 // bad_request
	e.do(nil, "GET", "/app", "", bearer(tk.AccessToken)...)                          // valid (miss)
	e.do(nil, "GET", "/app", "", bearer(tk.AccessToken)...)                          // valid (hit)
	e.do(nil, "GET", "/app", "", bearer("a.b.c")...)                                 // malformed
	e.do(nil, "GET", "/app", "")                                                     // unauthenticated
	_, tk2 := e.refreshHeader(tk.RefreshToken)                                       // rotated
	e.refreshHeader(tk.RefreshToken)                                                 // grace_replay
	e.refreshHeader("nope")                                                          // invalid
	e.do(nil, "POST", "/auth/logout", "", bearer(tk2.AccessToken)...)                // logout
	waitFor(t, 2*time.Second, func() bool { return e.replica.Status().Entries > 0 }) // replica saw it
	waitFor(t, 2*time.Second, func() bool {                                          // revoked
		return e.do(nil, "GET", "/app", "", bearer(tk2.AccessToken)...).status == 401
	})

	f := scrape(t, reg)
	checks := []struct {
		name    string
		labels  []string
		want    float64
		atLeast bool
	}{
		{"sesame_logins_total", []string{"outcome", "success"}, 1, false},
		{"sesame_logins_total", []string{"outcome", "invalid_credentials"}, 1, false},
		{"sesame_logins_total", []string{"outcome", "bad_request"}, 1, false},
		{"sesame_refreshes_total", []string{"outcome", "rotated"}, 1, false},
		{"sesame_refreshes_total", []string{"outcome", "grace_replay"}, 1, false},
		{"sesame_refreshes_total", []string{"outcome", "invalid"}, 1, false},
		{"sesame_refreshes_total", []string{"outcome", "reused"}, 0, false},
		{"sesame_token_verifications_total", []string{"result", "invalid", "reason", "malformed"}, 1, false},
		{"sesame_token_verifications_total", []string{"result", "invalid", "reason", "unauthenticated"}, 1, false},
		{"sesame_token_verifications_total", []string{"result", "invalid", "reason", "revoked"}, 1, false},
		{"sesame_token_verifications_total", []string{"result", "valid"}, 3, true},
		{"sesame_token_cache_hits_total", nil, 1, true},
		{"sesame_revocations_total", []string{"kind", "logout"}, 1, false},
		{"sesame_security_events_total", []string{"event", "login_failure"}, 1, false},
	}
	for _, c := range checks {
		got := value(f, c.name, c.labels...)
		if c.atLeast && got < c.want || !c.atLeast && got != c.want {
			t.Errorf("%s%v = %v, want %v", c.name, c.labels, got, c.want)
		}
	}
	// No label value is a user id, a session id or a token.
	for name, fam := range f {
		for _, m := range fam.Metric {
			for _, l := range m.Label {
				v := l.GetValue()
				if strings.Contains(v, "alice") || strings.Contains(v, tk.AccessToken[:20]) || len(v) > 40 {
					t.Errorf("%s has label %s=%q", name, l.GetName(), v)
				}
			}
		}
	}
}

func TestInstrumentUsesRoutePatterns(t *testing.T) {
	e := newEnv(t, newMemoryStore(t))
	r := chi.NewRouter()
	r.Use(e.m.Instrument)
	r.Mount("/auth", e.m.Routes())
	srv := httptest.NewServer(r)
	defer srv.Close()
	tk := e.loginHeader("alice")
	for _, p := range []string{"/auth/sessions/abc", "/auth/sessions/def", "/nowhere/123"} {
		req := httptest.NewRequest("DELETE", p, nil)
		req.Header.Set("Authorization", "Bearer "+tk.AccessToken)
		r.ServeHTTP(httptest.NewRecorder(), req)
	}
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(e.m.Collector())
	f := scrape(t, reg)
	if got := value(f, "sesame_http_request_duration_seconds", "route", "/auth/sessions/{sid}", "method", "DELETE", "status", "4xx"); got != 2 {
		t.Errorf("route-pattern histogram count = %v, want 2", got)
	}
	if got := value(f, "sesame_http_request_duration_seconds", "route", "unmatched"); got != 1 {
		t.Errorf("unmatched count = %v, want 1", got)
	}
}
