package main

import (
	"bytes"
	"context"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestSoak runs the mixed load against two sessiond nodes for
// SESAME_SOAK (a duration, at most 30m), sampling the nodes and Redis
// every SESAME_SOAK_SAMPLE (default 10s), and fails if a request failed or
// a series is not flat after the warm-up (see tolerance). It is skipped
// without SESAME_SOAK: .ci/run runs it for two and a half minutes,
//
//	SESAME_SOAK=2m30s SESAME_SOAK_SAMPLE=5s go test -run TestSoak -count=1 ./cmd/mixload
//
// and the full soak is ten minutes by hand (BENCHMARKS.md, "Soak"):
//
//	SESAME_SOAK=10m go test -run TestSoak -count=1 -timeout 20m -v ./cmd/mixload
//
// The clients arrive over a 20 s ramp (their first logins no faster than
// the mix's steady rate of logins); the warm-up is that ramp plus the
// denylist entry TTL (--access-ttl + 30s) plus a sample: until then the
// replica's entries and Redis memory still grow by design. --access-ttl is
// a quarter of the run less 30 s, in [5s, 1m], so that at least half of a
// run of two minutes or more is measured.
func TestSoak(t *testing.T) {
	v := os.Getenv("SESAME_SOAK")
	if v == "" {
		t.Skip("SESAME_SOAK is not set: the soak runs in .ci/run and by hand")
	}
	d, err := time.ParseDuration(v)
	if err != nil || d < 2*time.Minute || d > 30*time.Minute {
		t.Fatalf("SESAME_SOAK=%q: want a duration in [2m, 30m]", v)
	}
	interval := 10 * time.Second
	if s := os.Getenv("SESAME_SOAK_SAMPLE"); s != "" {
		if interval, err = time.ParseDuration(s); err != nil || interval < time.Second {
			t.Fatalf("SESAME_SOAK_SAMPLE=%q: want a duration of at least 1s", s)
		}
	}
	ttl := min(max((d/4).Truncate(time.Second)-30*time.Second, 5*time.Second), time.Minute)
	ramp := 20 * time.Second
	warmup := ramp + ttl + 30*time.Second + interval
	clients := 64
	if n, err := strconv.Atoi(os.Getenv("SESAME_SOAK_CLIENTS")); err == nil && n > 0 {
		clients = n
	}
	c := &config{
		targets: []string{"sesame"}, nodes: 2, clients: clients, duration: d, warmup: warmup, ramp: ramp,
		accessTTL: ttl, sample: interval, maxRequests: 100_000_000, dir: t.TempDir(),
	}
	var out bytes.Buffer
	ok, err := runAll(context.Background(), c, &out)
	t.Log("\n" + out.String())
	if err != nil {
		t.Fatal(err)
	}
	if !ok {
		t.Error("the soak failed: see FAILED or **NO** above")
	}
	if !strings.Contains(out.String(), "| read |") {
		t.Error("no table")
	}
}
