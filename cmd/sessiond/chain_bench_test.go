package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/sesame-go/sesame/auth"
	"github.com/sesame-go/sesame/keys"
	"github.com/sesame-go/sesame/users"
)

// benchNode is a sessiond node as run wires it in memory mode, logging to
// io.Discard through the buffered access log, with one logged-in demo user.
func benchNode(b *testing.B) (n *node, access string) {
	b.Helper()
	c, err := parseConfig(nil, func(string) string { return "" }, io.Discard)
	if err != nil {
		b.Fatal(err)
	}
	logs := newLogs(c, io.Discard)
	b.Cleanup(func() { logs.Close() })
	u, err := users.NewUser(demoUser, "bench-pw", users.Params{Time: 1, MemoryKiB: 1024, Threads: 1}, time.Now())
	if err != nil {
		b.Fatal(err)
	}
	authn, err := users.Static([]users.User{u}, nil)
	if err != nil {
		b.Fatal(err)
	}
	nm := newNodeMetrics(false)
	// As sessiond builds it without Redis.
	m, err := auth.NewLocal(authn, &auth.Config[users.Profile]{
		Issuer: c.issuer, Audience: c.audience, AccessTTL: c.accessTTL, Insecure: true,
		OnEvent: logEvent(logs.log, &knownUsers{a: authn}, nm.staleTrips), Logger: logs.log,
	})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { m.Close() })
	n = newNode(m, "memory", func(context.Context) error { return nil }, authn, keys.RotationPolicy{RotateEvery: -1}, logs.log, nm)
	n.logs = logs

	req := httptest.NewRequest("POST", "/auth/login", strings.NewReader(`{"username":"demo","password":"bench-pw"}`))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set(auth.TransportHeader, "header")
	rec := httptest.NewRecorder()
	n.routes().ServeHTTP(rec, req)
	var tk struct {
		AccessToken string `json:"access_token"`
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &tk); err != nil || rec.Code != 200 {
		b.Fatalf("login: %d %s", rec.Code, rec.Body)
	}
	return n, tk.AccessToken
}

// discardWriter is the cheapest http.ResponseWriter: the benchmark measures
// the handler chain, not a recorder.
type discardWriter struct {
	h      http.Header
	status int
}

func (w *discardWriter) Header() http.Header         { return w.h }
func (w *discardWriter) Write(p []byte) (int, error) { return len(p), nil }
func (w *discardWriter) WriteHeader(code int)        { w.status = code }

// BenchmarkHandlerChain serves GET /auth/session on a verified-token cache
// hit through sessiond's handler chain, adding one layer at a time, so
// that each layer's time, bytes and allocations are the difference from
// the case before. "ceiling" is the same chi router answering a JSON body
// without any session library: the server the wrk comparison calls the
// ceiling. front is one handler, so its parts are measured as the front
// of the ops listener (request id, recovery, access log) and the main
// listener's (the same, and the request metric).
//
//	go test -run XXX -bench HandlerChain -benchmem ./cmd/sessiond
func BenchmarkHandlerChain(b *testing.B) {
	n, access := benchNode(b)
	router := func() chi.Router {
		r := chi.NewRouter()
		r.Mount("/auth", n.m.Routes())
		return r
	}
	ceiling := chi.NewRouter()
	ceiling.Get("/auth/session", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]any{"sid": "s", "sub": "demo", "iat": 1, "exp": 2, "data": map[string]string{"name": "demo"}})
	})
	cases := []struct {
		name string
		h    http.Handler
	}{
		{"ceiling", ceiling},
		{"1-auth", router()},
		{"2-+front-no-metrics", &front{n: n, ids: newRequestIDs(), router: router()}},
		{"3-+metrics", &front{n: n, ids: newRequestIDs(), prom: n.prom, router: router()}},
		{"sessiond", n.routes()},
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			req := httptest.NewRequest("GET", "/auth/session", nil)
			req.Header.Set("Authorization", "Bearer "+access)
			w := &discardWriter{h: http.Header{}}
			c.h.ServeHTTP(w, req) // fills the verified-token cache
			if w.status != 0 && w.status != http.StatusOK {
				b.Fatalf("status %d", w.status)
			}
			b.ReportAllocs()
			for b.Loop() {
				clear(w.h)
				w.status = 0
				c.h.ServeHTTP(w, req)
			}
			if w.status != 0 && w.status != http.StatusOK {
				b.Fatal(fmt.Sprintf("status %d", w.status))
			}
		})
	}
}
