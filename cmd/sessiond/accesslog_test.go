package main

import (
	"fmt"
	"strings"
	"syscall"
	"testing"
)

// TestAccessLogFlushedAtSIGTERM runs the real binary with a flush interval
// no test will reach, so that the access log lines stay buffered, and checks
// that SIGTERM writes every one of them, with every field.
func TestAccessLogFlushedAtSIGTERM(t *testing.T) {
	t.Parallel()
	p := startSessiond(t, "sessiond", t.TempDir(), []string{"SESAME_LOG_FLUSH_INTERVAL=1h"})
	const n = 200
	want := map[string]int{} // request id → status
	for i := range n {
		id := fmt.Sprintf("flush-test-%03d", i)
		path := "/.well-known/jwks.json" // 200: a line that could be shed
		if i%2 == 1 {
			path = "/auth/session" // 401: a line that is never shed
		}
		r := p.do("GET", path, "", "X-Request-Id", id)
		want[id] = r.status
	}

	if r := p.do("GET", "/metrics", ""); !strings.Contains(string(r.body), "\nsesame_log_lines_dropped_total 0\n") {
		t.Errorf("/metrics has no sesame_log_lines_dropped_total 0")
	}

	// Nothing urgent was logged since start-up: every line is still in
	// memory, none written.
	if l := p.logLine("request"); l != nil {
		t.Fatalf("an access log line was written before the flush interval or shutdown: %v", l)
	}

	if code := p.stop(syscall.SIGTERM); code != 0 {
		t.Fatalf("SIGTERM: exit code %d, want 0", code)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	got := 0
	for _, l := range p.logs {
		id, _ := l["request_id"].(string)
		status, ok := want[id]
		if l["msg"] != "request" || !ok {
			continue
		}
		got++
		for _, k := range []string{"method", "route", "status", "duration_ms", "bytes"} {
			if _, ok := l[k]; !ok {
				t.Errorf("access log line without %s: %v", k, l)
			}
		}
		if s, _ := l["status"].(float64); int(s) != status {
			t.Errorf("request %s logged status %v, answered %d", id, l["status"], status)
		}
	}
	if got != n {
		t.Errorf("%d access log lines after SIGTERM, want %d", got, n)
	}
}
