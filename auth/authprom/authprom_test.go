package authprom_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"github.com/sesame-go/sesame/auth"
	"github.com/sesame-go/sesame/auth/authprom"
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
		if m.Gauge != nil {
			return m.Gauge.GetValue()
		}
	}
	return 0
}

// env is a NewLocal manager behind a chi router with one protected route.
type env struct {
	t   *testing.T
	m   *auth.Manager[profile]
	h   http.Handler
	col *authprom.Collector
}

type profile struct {
	Name string `json:"name"`
}

func newEnv(t *testing.T) *env {
	t.Helper()
	m, err := auth.NewLocal[profile](auth.AuthenticatorFunc[profile](func(_ context.Context, u, p string) (string, profile, error) {
		if u != "alice" || p != "alice-pw" {
			return "", profile{}, auth.ErrInvalidCredentials
		}
		return "uid-alice", profile{Name: "Alice"}, nil
	}), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	e := &env{t: t, m: m, col: authprom.NewCollector(m)}
	r := chi.NewRouter()
	r.Use(e.col.Instrument)
	r.Mount("/auth", m.Routes())
	r.With(m.Require()).Get("/app", func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") })
	e.h = r
	return e
}

type tokens struct {
	AccessToken  string `json:"access_token"`
	RefreshToken string `json:"refresh_token"`
}

// do serves one request in header transport (with a bearer token when
// access is not empty) and returns the status and the tokens it answered.
func (e *env) do(method, path, body, access string) (int, tokens) {
	req := httptest.NewRequest(method, "https://sesame.test"+path, strings.NewReader(body))
	req.Header.Set("X-Session-Transport", "header")
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if access != "" {
		req.Header.Set("Authorization", "Bearer "+access)
	}
	rec := httptest.NewRecorder()
	e.h.ServeHTTP(rec, req)
	var tk tokens
	json.Unmarshal(rec.Body.Bytes(), &tk)
	return rec.Code, tk
}

func TestMetricsMoveAsExpected(t *testing.T) {
	e := newEnv(t)
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(e.col)

	_, tk := e.do("POST", "/auth/login", `{"username":"alice","password":"alice-pw"}`, "") // login success
	e.do("POST", "/auth/login", `{"username":"alice","password":"wrong"}`, "")             // invalid_credentials
	e.do("POST", "/auth/login", `{"username":`, "")                                        // bad_request
	e.do("GET", "/app", "", tk.AccessToken)                                                // valid (miss)
	e.do("GET", "/app", "", tk.AccessToken)                                                // valid (hit)
	e.do("GET", "/app", "", "a.b.c")                                                       // malformed
	req := httptest.NewRequest("GET", "/app", nil)                                         // unauthenticated
	e.h.ServeHTTP(httptest.NewRecorder(), req)
	refresh := `{"refresh_token":"` + tk.RefreshToken + `"}`
	_, tk2 := e.do("POST", "/auth/refresh", refresh, "")                           // rotated
	e.do("POST", "/auth/refresh", refresh, "")                                     // grace_replay
	e.do("POST", "/auth/refresh", `{"refresh_token":"nope"}`, "")                  // invalid
	if code, _ := e.do("POST", "/auth/logout", "", tk2.AccessToken); code != 204 { // logout
		t.Fatalf("logout: %d", code)
	}
	if code, _ := e.do("GET", "/app", "", tk2.AccessToken); code != 401 { // revoked (at once on this node)
		t.Fatalf("token after logout: %d, want 401", code)
	}
	req = httptest.NewRequest("POST", "/auth/introspect", strings.NewReader("token=x")) // disabled: no clients
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	e.h.ServeHTTP(httptest.NewRecorder(), req)

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
		{"sesame_introspections_total", []string{"result", "disabled"}, 1, false},
		{"sesame_introspections_total", []string{"result", "active"}, 0, false},
	}
	// Each limit says whether it is counting alone; NewLocal's never do.
	if fb := f["sesame_limiter_fallback"]; fb == nil || len(fb.Metric) != 5 || fb.GetType() != dto.MetricType_GAUGE {
		t.Errorf("sesame_limiter_fallback: %v, want 5 gauges (the four login and refresh limits, introspection)", fb)
	}
	checks = append(checks, struct {
		name    string
		labels  []string
		want    float64
		atLeast bool
	}{"sesame_limiter_fallback", []string{"limiter", "login_user"}, 0, false})
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
	e := newEnv(t)
	_, tk := e.do("POST", "/auth/login", `{"username":"alice","password":"alice-pw"}`, "")
	for _, p := range []string{"/auth/sessions/abc", "/auth/sessions/def", "/nowhere/123"} {
		e.do("DELETE", p, "", tk.AccessToken)
	}
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(e.col)
	f := scrape(t, reg)
	if got := value(f, "sesame_http_request_duration_seconds", "route", "/auth/sessions/{sid}", "method", "DELETE", "status", "4xx"); got != 2 {
		t.Errorf("route-pattern histogram count = %v, want 2", got)
	}
	if got := value(f, "sesame_http_request_duration_seconds", "route", "unmatched"); got != 1 {
		t.Errorf("unmatched count = %v, want 1", got)
	}
}

// TestAuthLinksNoPrometheus: programs that import auth without authprom
// do not link Prometheus (nor protobuf, which it brings).
func TestAuthLinksNoPrometheus(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", "github.com/sesame-go/sesame/auth").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	for _, dep := range strings.Fields(string(out)) {
		if strings.Contains(dep, "prometheus") || strings.Contains(dep, "protobuf") {
			t.Errorf("auth depends on %s", dep)
		}
	}
	if !strings.Contains(string(out), "github.com/golang-jwt/jwt/v5") {
		t.Errorf("go list -deps printed no dependency we know auth has:\n%s", out)
	}
}

// TestRouteIsRoutePattern: Route gives chi's RoutePattern (or "unmatched")
// for every shape of route, from the cache as on the first call.
func TestRouteIsRoutePattern(t *testing.T) {
	inner := chi.NewRouter()
	inner.Get("/x/{id}", func(http.ResponseWriter, *http.Request) {})
	deep := chi.NewRouter()
	deep.Mount("/c", inner)
	mid := chi.NewRouter()
	mid.Mount("/b", deep)
	r := chi.NewRouter()
	r.Mount("/a", mid) // four patterns: past the cache's key
	r.Get("/", func(http.ResponseWriter, *http.Request) {})
	r.Get("/files/*", func(http.ResponseWriter, *http.Request) {})
	r.Get("/users/{uid}/posts/{pid}", func(http.ResponseWriter, *http.Request) {})
	r.Route("/g", func(r chi.Router) {
		r.Get("/", func(http.ResponseWriter, *http.Request) {})
		r.Get("/{k}", func(http.ResponseWriter, *http.Request) {})
	})
	var got []string
	h := func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
			next.ServeHTTP(w, req)
			rc := chi.RouteContext(req.Context())
			want := rc.RoutePattern()
			if want == "" {
				want = "unmatched"
			}
			for range 2 { // the miss, then the hit
				if g := authprom.Route(rc); g != want {
					t.Errorf("%s: Route %q, want %q", req.URL.Path, g, want)
				}
			}
			got = append(got, want)
		})
	}
	top := chi.NewRouter()
	top.Use(h)
	top.Mount("/", r)
	for _, p := range []string{"/", "/files/a/b", "/users/1/posts/2", "/users/3/posts/4", "/g", "/g/", "/g/v", "/a/b/c/x/9", "/nowhere", "/a/nowhere"} {
		top.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", p, nil))
	}
	if len(got) != 10 {
		t.Fatalf("%d requests seen, want 10", len(got))
	}
	if authprom.Route(nil) != "unmatched" {
		t.Errorf("Route(nil) = %q, want unmatched", authprom.Route(nil))
	}
}

// TestObserveLabels: Observe labels as Instrument does (method outside the
// standard set "other", status by class), and a series observed again
// accumulates in the same histogram.
func TestObserveLabels(t *testing.T) {
	col := authprom.NewCollector(noStats{})
	for _, o := range []struct {
		method string
		status int
	}{
		{"GET", 200}, {"GET", 204}, {"GET", 200}, {"PROPFIND", 200}, {"POST", 101}, {"POST", 302},
		{"DELETE", 404}, {"GET", 503}, {"GET", 599}, {"HEAD", 200},
	} {
		col.Observe("/r", o.method, o.status, 3*time.Millisecond)
	}
	col.Observe("unmatched", "GET", 404, time.Second)
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(col)
	f := scrape(t, reg)
	for _, c := range []struct {
		labels []string
		want   float64
	}{
		{[]string{"route", "/r", "method", "GET", "status", "2xx"}, 3},
		{[]string{"route", "/r", "method", "other", "status", "2xx"}, 1},
		{[]string{"route", "/r", "method", "POST", "status", "1xx"}, 1},
		{[]string{"route", "/r", "method", "POST", "status", "3xx"}, 1},
		{[]string{"route", "/r", "method", "DELETE", "status", "4xx"}, 1},
		{[]string{"route", "/r", "method", "GET", "status", "5xx"}, 2},
		{[]string{"route", "/r", "method", "HEAD", "status", "2xx"}, 1},
		{[]string{"route", "unmatched", "method", "GET", "status", "4xx"}, 1},
	} {
		if got := value(f, "sesame_http_request_duration_seconds", c.labels...); got != c.want {
			t.Errorf("%v: count %v, want %v", c.labels, got, c.want)
		}
	}
	if n := len(f["sesame_http_request_duration_seconds"].GetMetric()); n != 8 {
		t.Errorf("%d series, want 8", n)
	}
	for _, m := range f["sesame_http_request_duration_seconds"].GetMetric() {
		h := m.GetHistogram()
		if want := float64(h.GetSampleCount()) * 0.003; h.GetSampleSum() < want-1e-9 {
			t.Errorf("%v: sum %v for %d samples", m.GetLabel(), h.GetSampleSum(), h.GetSampleCount())
		}
	}
}

type noStats struct{}

func (noStats) Stats() auth.Stats { return auth.Stats{} }
