package main

import (
	"net/http"
	"os"
	"testing"
	"time"

	"github.com/sesame-go/sesame/bench/internal/redisproc"
	"github.com/sesame-go/sesame/bench/internal/ref"
)

// TestServers: both servers refuse GET /app without a session, and a short
// measurement of each route completes with no failed request (so the load
// test measures working logins, protected requests and refresh chains).
func TestServers(t *testing.T) {
	addr := os.Getenv("BENCH_REDIS_ADDR")
	if addr == "" {
		srv, err := redisproc.Start(10 * time.Second)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(srv.Stop)
		addr = srv.Addr
	}
	data, _, err := ref.Load()
	if err != nil {
		t.Fatal(err)
	}
	ses, err := newSesame(addr, data)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(ses.close)
	sc, err := newSCS(addr, data)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(sc.close)
	cfg := config{duration: 200 * time.Millisecond, maxRequests: 200}
	for _, s := range []target{ses, sc} {
		t.Run(s.name(), func(t *testing.T) {
			resp, err := http.Get(s.base() + "/app")
			if err != nil {
				t.Fatal(err)
			}
			drain(resp)
			if resp.StatusCode != http.StatusUnauthorized {
				t.Errorf("GET /app without a session: got status %d, want 401", resp.StatusCode)
			}
			for _, route := range []string{"protected", "refresh"} {
				res, err := measure(cfg, s, route, 2)
				if err != nil {
					t.Fatalf("%s: %v", route, err)
				}
				if res.errors != 0 || res.n == 0 {
					t.Errorf("%s: %d requests, %d failed", route, res.n, res.errors)
				}
			}
		})
	}
}
