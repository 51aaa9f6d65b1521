package main

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/go-chi/chi/v5/middleware"

	"github.com/sesame-go/sesame/internal/users"
)

// logs is sessiond's logging: log for every line but the access log's,
// and the access log's own two loggers, all writing to one logWriter (or
// straight to the output with --log-buffer 0).
type logs struct {
	log *slog.Logger
	// shed logs the access lines of successful, fast requests: under
	// overload (the output cannot keep up) they are dropped and counted.
	shed *slog.Logger
	// keep logs the access lines of errors (status 400 and up) and of
	// requests slower than --log-slow: never dropped.
	keep *slog.Logger
	slow time.Duration
	w    *logWriter // nil with --log-buffer 0
}

// newLogs returns sessiond's logging: JSON lines (or text with
// --log-format text) at --log-level, each line of a request carrying its
// request_id, buffered by a logWriter of --log-buffer bytes flushed every
// --log-flush-interval. Close it last: it writes what is buffered.
func newLogs(c *config, out io.Writer) *logs {
	var level slog.Level
	level.UnmarshalText([]byte(c.logLevel)) // checked by validate
	opts := &slog.HandlerOptions{Level: level}
	handler := func(w io.Writer) slog.Handler {
		if c.logFormat == "text" {
			return slog.NewTextHandler(w, opts)
		}
		return slog.NewJSONHandler(w, opts)
	}
	l := &logs{slow: c.logSlow}
	main, shed, keep := out, out, out
	if c.logBuffer > 0 {
		l.w = newLogWriter(out, c.logBuffer, c.logFlushInterval)
		main, shed, keep = l.w, l.w.shed(), l.w.keep()
	}
	l.log = slog.New(requestIDHandler{handler(main)})
	// The access loggers add the request id themselves: one wrapper less
	// on the hottest line.
	l.shed = slog.New(handler(shed))
	l.keep = slog.New(handler(keep))
	return l
}

// dropped is the number of access log lines dropped under overload.
func (l *logs) dropped() uint64 {
	if l.w == nil {
		return 0
	}
	return l.w.Dropped()
}

// Close writes the buffered lines out; later lines are written at once.
func (l *logs) Close() error {
	if l.w == nil {
		return nil
	}
	return l.w.Close()
}

// requestIDHandler adds the request id that chi's RequestID middleware put
// in the context to every record logged with that context, so auth's
// ErrorContext lines, the security events and the access log line of one
// request can be joined. Records logged without a request context (start-up,
// background work) carry none.
type requestIDHandler struct{ slog.Handler }

func (h requestIDHandler) Handle(ctx context.Context, r slog.Record) error {
	if ctx != nil {
		if id := middleware.GetReqID(ctx); id != "" {
			r.AddAttrs(slog.String("request_id", id))
		}
	}
	return h.Handler.Handle(ctx, r)
}

func (h requestIDHandler) WithAttrs(as []slog.Attr) slog.Handler {
	return requestIDHandler{h.Handler.WithAttrs(as)}
}

func (h requestIDHandler) WithGroup(name string) slog.Handler {
	return requestIDHandler{h.Handler.WithGroup(name)}
}

// maxRequestIDLen bounds a request id taken from the client.
const maxRequestIDLen = 128

// requestID gives every request an id: the client's X-Request-Id (a load
// balancer's) when it is short and made of safe characters, else a fresh
// one from chi's RequestID. The id is echoed in the X-Request-Id response
// header, so a user reporting a failure can quote it.
//
// The incoming header is attacker-controlled: an overlong or odd value
// would go into every log line of the request, so it is dropped rather
// than trusted.
func requestID(next http.Handler) http.Handler {
	withID := middleware.RequestID(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set(middleware.RequestIDHeader, middleware.GetReqID(r.Context()))
		next.ServeHTTP(w, r)
	}))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if id := r.Header.Get(middleware.RequestIDHeader); id != "" && !safeRequestID(id) {
			r.Header.Del(middleware.RequestIDHeader)
		}
		withID.ServeHTTP(w, r)
	})
}

func safeRequestID(id string) bool {
	if len(id) > maxRequestIDLen {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_' || c == '.' || c == '/' || c == ':') {
			return false
		}
	}
	return true
}

// probes are the routes that load balancers and Prometheus call every few
// seconds: their successful requests are logged at DEBUG only.
var probes = map[string]bool{"/healthz": true, "/readyz": true, "/metrics": true}

// accessLog logs one line per request, after it is served: method, chi
// route pattern, status, duration, bytes and request id.
//
// It deliberately logs neither the raw path nor the query string (a sid in
// /auth/sessions/{sid}, anything a client puts in a query) nor any header:
// Authorization and Cookie carry tokens.
//
// Lines are buffered (see logWriter). The line of a request that failed
// (status 400 and up) or took --log-slow or longer is never dropped; the
// line of a successful, fast one may be, when the log output cannot keep up,
// and is then counted in sesame_log_lines_dropped_total.
func (n *node) accessLog(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		sw := &statusRecorder{ResponseWriter: w}
		next.ServeHTTP(sw, r)
		d := time.Since(start)
		route := "unmatched"
		ctx := r.Context()
		if rc := chi.RouteContext(ctx); rc != nil {
			if p := rc.RoutePattern(); p != "" {
				route = p
			}
		}
		status := sw.status
		if status == 0 {
			status = http.StatusOK
		}
		level := slog.LevelInfo
		if status < 300 && probes[route] {
			level = slog.LevelDebug
		}
		lg := n.logs.shed
		if status >= 400 || d >= n.logs.slow {
			lg = n.logs.keep
		}
		if !lg.Enabled(ctx, level) {
			return
		}
		lg.LogAttrs(ctx, level, "request",
			slog.String("method", r.Method),
			slog.String("route", route),
			slog.Int("status", status),
			slog.Float64("duration_ms", float64(d.Microseconds())/1000),
			slog.Int64("bytes", sw.bytes),
			slog.String("request_id", middleware.GetReqID(ctx)),
		)
	})
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

// knownUsers answers "is this an existing user name", so that a failed
// login logs the name typed only when it names a user. People sometimes
// type their password into the name field; such a "name" is almost never
// an existing user, so it is not logged.
type knownUsers struct {
	a *users.Authenticator

	mu     sync.Mutex
	loaded time.Time // the Authenticator's LoadedAt the names are from
	names  map[string]bool
}

// has reports whether name (canonical) is a user. It reads the users file
// again only after the Authenticator reloaded it.
func (k *knownUsers) has(name string) bool {
	st := k.a.Status()
	if st.Path == "" {
		return name == demoUser
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.names == nil || !st.LoadedAt.Equal(k.loaded) {
		f, err := users.Read(st.Path)
		if err != nil {
			return false // when in doubt, do not log what was typed
		}
		k.names = make(map[string]bool, len(f.Users))
		for _, u := range f.Users {
			k.names[u.Name] = true
		}
		k.loaded = st.LoadedAt
	}
	return k.names[name]
}
