package main

import (
	"context"
	"log/slog"
	"net/http"
	"strconv"
	"sync"
	"time"
)

// probes are the routes that load balancers and Prometheus call every few
// seconds: their successful requests are logged at DEBUG only.
var probes = map[string]bool{"/healthz": true, "/readyz": true, "/metrics": true}

// The access log: one line per request, after it is served (front):
// method, chi route pattern, status, duration, bytes and request id.
//
// It deliberately logs neither the raw path nor the query string (a sid in
// /auth/sessions/{sid}, anything a client puts in a query) nor any header:
// Authorization and Cookie carry tokens.
//
// Lines are buffered (see logWriter). The line of a request that failed
// (status 400 and up) or took --log-slow or longer is never dropped; the
// line of a successful, fast one may be, when the log output cannot keep
// up, and is then counted in sesame_log_lines_dropped_total.

// accessLine is one access log line.
type accessLine struct {
	time     time.Time
	level    slog.Level
	method   string
	route    string
	status   int
	duration time.Duration
	bytes    int64
	id       string
}

// access writes an access log line. In JSON (the default) it writes the
// bytes slog's JSONHandler would write, without slog: a sixth attribute
// costs slog an allocation, its float encoding goes through encoding/json,
// and the Logger takes a stack trace for the source position it does not
// print. TestAccessLineMatchesSlog holds the two to the same bytes.
func (l *logs) access(ctx context.Context, a accessLine) {
	keep := a.status >= 400 || a.duration >= l.slow
	lg := l.shedLog
	if keep {
		lg = l.keepLog
	}
	if !lg.Enabled(ctx, a.level) {
		return
	}
	if l.json {
		bp := lineBufs.Get().(*[]byte)
		b, ok := appendAccessJSON((*bp)[:0], a)
		if ok {
			w := l.shed
			if keep {
				w = l.keep
			}
			w.Write(b)
			*bp = b
			lineBufs.Put(bp)
			return
		}
		lineBufs.Put(bp)
	}
	lg.LogAttrs(ctx, a.level, "request",
		slog.String("method", a.method),
		slog.String("route", a.route),
		slog.Int("status", a.status),
		slog.Float64("duration_ms", durationMS(a.duration)),
		slog.Int64("bytes", a.bytes),
		slog.String("request_id", a.id),
	)
}

var lineBufs = sync.Pool{New: func() any { b := make([]byte, 0, 512); return &b }}

func durationMS(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// appendAccessJSON appends a's line as slog's JSONHandler writes it. It
// reports false, leaving the line to slog, when a string needs escaping or
// the time is outside what RFC 3339 can say.
func appendAccessJSON(b []byte, a accessLine) ([]byte, bool) {
	if !plainJSON(a.method) || !plainJSON(a.route) || !plainJSON(a.id) || a.time.Year() < 0 || a.time.Year() >= 10000 {
		return b, false
	}
	b = append(b, `{"time":"`...)
	b = a.time.Round(0).AppendFormat(b, time.RFC3339Nano)
	b = append(b, `","level":"`...)
	b = append(b, a.level.String()...)
	b = append(b, `","msg":"request","method":"`...)
	b = append(b, a.method...)
	b = append(b, `","route":"`...)
	b = append(b, a.route...)
	b = append(b, `","status":`...)
	b = strconv.AppendInt(b, int64(a.status), 10)
	b = append(b, `,"duration_ms":`...)
	// What encoding/json writes for a float64 from 1e-6 to 1e21, and for
	// 0: a duration in ms with microsecond precision is one of these.
	b = strconv.AppendFloat(b, durationMS(a.duration), 'f', -1, 64)
	b = append(b, `,"bytes":`...)
	b = strconv.AppendInt(b, a.bytes, 10)
	b = append(b, `,"request_id":"`...)
	b = append(b, a.id...)
	b = append(b, "\"}\n"...)
	return b, true
}

// plainJSON reports whether s is printable ASCII that JSON writes as is.
func plainJSON(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c > 0x7e || c == '"' || c == '\\' {
			return false
		}
	}
	return true
}

// statusRecorder remembers the status and size of a response.
type statusRecorder struct {
	http.ResponseWriter
	status int
	bytes  int64
}

func (w *statusRecorder) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusRecorder) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	n, err := w.ResponseWriter.Write(b)
	w.bytes += int64(n)
	return n, err
}

func (w *statusRecorder) Unwrap() http.ResponseWriter { return w.ResponseWriter }
