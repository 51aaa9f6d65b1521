package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/go-chi/chi/v5/middleware"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/sesame-go/sesame/auth"
	"github.com/sesame-go/sesame/auth/authprom"
)

type noStats struct{}

func (noStats) Stats() auth.Stats { return auth.Stats{} }

// frontRouter is a router with the shapes of route front must see through:
// a URL parameter, a mounted sub-router, a wildcard, and handlers that
// panic before and after answering, or abort. mw are the router's
// middlewares (none under front).
func frontRouter(t *testing.T, mw ...func(http.Handler) http.Handler) chi.Router {
	underFront := len(mw) == 0
	sub := chi.NewRouter()
	sub.Get("/x/{k}", func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "sub "+chi.URLParam(r, "k")) })
	r := chi.NewRouter()
	r.Use(mw...)
	r.Get("/ok/{id}", func(w http.ResponseWriter, r *http.Request) {
		// chi's routing context and request id, and sessiond's, are those
		// of this request.
		if chi.URLParam(r, "id") != "7" || chi.RouteContext(r.Context()).Routes == nil {
			t.Errorf("chi routing context: id %q", chi.URLParam(r, "id"))
		}
		if id := middleware.GetReqID(r.Context()); underFront && id == "" || id != requestIDFrom(r.Context()) || id != w.Header().Get(requestIDHeader) {
			t.Errorf("request id %q, %q, header %q", id, requestIDFrom(r.Context()), w.Header().Get(requestIDHeader))
		}
		w.Header().Set("Content-Type", "text/plain")
		io.WriteString(w, "ok")
	})
	r.Mount("/sub", sub)
	r.Get("/files/*", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusNoContent) })
	r.Get("/healthz", func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "{}") })
	r.Get("/boom", func(http.ResponseWriter, *http.Request) { panic("boom") })
	r.Get("/late", func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(http.StatusAccepted)
		panic("late")
	})
	r.Post("/abort", func(http.ResponseWriter, *http.Request) { panic(http.ErrAbortHandler) })
	return r
}

type frontReq struct {
	method, path, id string
	status           int
	route            string
	level            string
	body             string
}

var frontReqs = []frontReq{
	{"GET", "/ok/7", "lb-1", 200, "/ok/{id}", "INFO", "ok"},
	{"GET", "/ok/7", "", 200, "/ok/{id}", "INFO", "ok"},
	{"GET", "/sub/x/a", "bad id!", 200, "/sub/x/{k}", "INFO", "sub a"},
	{"GET", "/files/a/b", "", 204, "/files/*", "INFO", ""},
	{"GET", "/healthz", "", 200, "/healthz", "DEBUG", "{}"},
	{"GET", "/nowhere", "", 404, "unmatched", "INFO", "404 page not found\n"},
	{"PUT", "/ok/7", "", 405, "unmatched", "INFO", ""},
	{"PROPFIND", "/ok/7", "", 405, "unmatched", "INFO", ""},
	{"GET", "/boom", "p-1", 500, "/boom", "INFO", `{"error":"internal_error","message":"internal error"}` + "\n"},
	{"GET", "/late", "", 202, "/late", "INFO", ""},
}

// TestFront: one handler gives each request its id, its answer, its access
// line (route pattern, status, bytes, level, id), its request metric, and
// recovers panics, as the middlewares it replaced did.
func TestFront(t *testing.T) {
	var out, errs bytes.Buffer
	n := &node{log: slog.New(slog.NewJSONHandler(&errs, nil)), logs: newLogs(&config{logLevel: "debug", logFormat: "json", logSlow: time.Hour}, &out)}
	col := authprom.NewCollector(noStats{})
	f := &front{n: n, ids: newRequestIDs(), prom: col, router: frontRouter(t)}

	for _, q := range frontReqs {
		req := httptest.NewRequest(q.method, q.path, nil)
		if q.id != "" {
			req.Header.Set(requestIDHeader, q.id)
		}
		rec := httptest.NewRecorder()
		f.ServeHTTP(rec, req)
		if rec.Code != q.status || rec.Body.String() != q.body {
			t.Errorf("%s %s: %d %q, want %d %q", q.method, q.path, rec.Code, rec.Body, q.status, q.body)
		}
		id := rec.Header().Get(requestIDHeader)
		if q.id != "" && safeRequestID(q.id) && id != q.id || id == "" || strings.Contains(id, " ") {
			t.Errorf("%s: X-Request-Id %q (client's %q)", q.path, id, q.id)
		}
		line := map[string]any{}
		if err := json.Unmarshal(out.Bytes(), &line); err != nil {
			t.Fatalf("%s: access line %q: %v", q.path, out.String(), err)
		}
		out.Reset()
		if line["msg"] != "request" || line["method"] != q.method || line["route"] != q.route || line["status"] != float64(q.status) ||
			line["bytes"] != float64(rec.Body.Len()) || line["level"] != q.level || line["request_id"] != id {
			t.Errorf("%s %s: access line %v", q.method, q.path, line)
		}
	}
	if l := errs.String(); strings.Count(l, `"msg":"panic serving a request"`) != 2 || !strings.Contains(l, `"panic":"boom"`) ||
		!strings.Contains(l, "front_test.go") {
		t.Errorf("panic log %q: want the two panics, with their stacks", l)
	}

	// http.ErrAbortHandler goes on to net/http: no answer, no line, no metric.
	func() {
		defer func() {
			if v := recover(); v != http.ErrAbortHandler {
				t.Errorf("recovered %v, want http.ErrAbortHandler passed on", v)
			}
		}()
		f.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("POST", "/abort", nil))
	}()
	if out.Len() != 0 {
		t.Errorf("aborted request logged %q", out.String())
	}

	// The request metric: the series authprom's Instrument (outside the
	// recovery, as sessiond had it) records for the same requests.
	inst := authprom.NewCollector(noStats{})
	r := frontRouter(t, inst.Instrument, n.recoverPanics)
	for _, q := range frontReqs {
		r.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(q.method, q.path, nil))
	}
	if got, want := histograms(t, col), histograms(t, inst); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("front's series:\n%s\nInstrument's:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// histograms lists c's request-duration series: labels and count.
func histograms(t *testing.T, c *authprom.Collector) []string {
	t.Helper()
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(c)
	fams, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var s []string
	for _, f := range fams {
		if f.GetName() != "sesame_http_request_duration_seconds" {
			continue
		}
		for _, m := range f.GetMetric() {
			var b strings.Builder
			for _, l := range m.GetLabel() {
				b.WriteString(l.GetName() + "=" + l.GetValue() + " ")
			}
			s = append(s, fmt.Sprintf("%scount=%d", b.String(), m.GetHistogram().GetSampleCount()))
		}
	}
	sort.Strings(s)
	if len(s) == 0 {
		t.Fatal("no request-duration series")
	}
	return s
}
