package main

import (
	"bytes"
	"context"
	"log/slog"
	"testing"
	"time"
)

// TestAccessLineMatchesSlog holds the JSON fast path of the access log to
// the bytes slog's JSONHandler writes for the same line.
func TestAccessLineMatchesSlog(t *testing.T) {
	zone := time.FixedZone("x", -(7*3600 + 30*60))
	base := accessLine{time: time.Date(2026, 12, 4, 17, 25, 3, 120_000_000, time.UTC), level: slog.LevelInfo,
		method: "GET", route: "/auth/session", status: 200, duration: 41200 * time.Microsecond, bytes: 716, id: "web-1/Ab3-000042"}
	cases := []func(a *accessLine){
		func(a *accessLine) {},
		func(a *accessLine) { a.time = time.Now() }, // with a monotonic reading
		func(a *accessLine) { a.time = a.time.In(zone) },
		func(a *accessLine) { a.time = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC) },
		func(a *accessLine) { a.time = time.Date(2026, 1, 2, 3, 4, 5, 1, time.UTC) },
		func(a *accessLine) { a.level = slog.LevelDebug; a.route = "/healthz" },
		func(a *accessLine) { a.duration = 0 },
		func(a *accessLine) { a.duration = 999 * time.Nanosecond },
		func(a *accessLine) { a.duration = time.Microsecond },
		func(a *accessLine) { a.duration = 1500 * time.Millisecond },
		func(a *accessLine) { a.duration = 123456789 * time.Microsecond },
		func(a *accessLine) { a.duration = 3 * time.Hour },
		func(a *accessLine) {
			a.status = 503
			a.bytes = 0
			a.method = "DELETE"
			a.route = "/auth/sessions/{sid}"
		},
		func(a *accessLine) { a.route = "unmatched"; a.id = "" },
		func(a *accessLine) { a.id = "host.example:8080/x_y-1" },
	}
	for i, mod := range cases {
		a := base
		mod(&a)
		got, ok := appendAccessJSON(nil, a)
		if !ok {
			t.Errorf("case %d: fast path refused %+v", i, a)
			continue
		}
		if want := slogLine(a); !bytes.Equal(got, want) {
			t.Errorf("case %d:\n got %s\nwant %s", i, got, want)
		}
	}
	for _, mod := range []func(a *accessLine){
		func(a *accessLine) { a.id = `a"b` },
		func(a *accessLine) { a.id = "é" },
		func(a *accessLine) { a.method = "G\\T" },
		func(a *accessLine) { a.route = "/a\nb" },
		func(a *accessLine) { a.time = time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC) },
	} {
		a := base
		mod(&a)
		if _, ok := appendAccessJSON(nil, a); ok {
			t.Errorf("fast path took %+v; want it left to slog", a)
		}
	}
}

func slogLine(a accessLine) []byte {
	var buf bytes.Buffer
	h := slog.NewJSONHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug})
	r := slog.NewRecord(a.time, a.level, "request", 0)
	r.AddAttrs(
		slog.String("method", a.method),
		slog.String("route", a.route),
		slog.Int("status", a.status),
		slog.Float64("duration_ms", durationMS(a.duration)),
		slog.Int64("bytes", a.bytes),
		slog.String("request_id", a.id),
	)
	h.Handle(context.Background(), r)
	return buf.Bytes()
}

// TestAccessLogLevels checks the fast path honours --log-level and the
// text format still goes through slog.
func TestAccessLogLevels(t *testing.T) {
	for _, tc := range []struct {
		level, format string
		line          accessLine
		want          string // a substring, or "" for no line
	}{
		{"info", "json", accessLine{level: slog.LevelInfo, method: "GET", route: "/x", status: 200, id: "i"}, `"msg":"request","method":"GET"`},
		{"info", "json", accessLine{level: slog.LevelDebug, method: "GET", route: "/healthz", status: 200, id: "i"}, ""},
		{"warn", "json", accessLine{level: slog.LevelInfo, method: "GET", route: "/x", status: 500, id: "i"}, ""},
		{"info", "text", accessLine{level: slog.LevelInfo, method: "GET", route: "/x", status: 401, id: "i"}, "msg=request method=GET route=/x status=401"},
		{"info", "json", accessLine{level: slog.LevelInfo, method: "GET", route: "/x", status: 200, id: `odd"id`}, `"request_id":"odd\"id"`},
	} {
		var out bytes.Buffer
		l := newLogs(&config{logLevel: tc.level, logFormat: tc.format, logSlow: time.Second}, &out)
		tc.line.time = time.Now()
		l.access(context.Background(), tc.line)
		l.Close()
		if got := out.String(); tc.want == "" && got != "" || !bytes.Contains(out.Bytes(), []byte(tc.want)) {
			t.Errorf("%s %s %+v: logged %q, want %q", tc.level, tc.format, tc.line, got, tc.want)
		}
	}
}
