package main

import (
	"context"
	"io"
	"log/slog"
	"sync"
	"time"

	"github.com/sesame-go/sesame/users"
)

// logs is sessiond's logging: log for every line but the access log's,
// and the access log's own writers, all writing to one logWriter (or
// straight to the output with --log-buffer 0).
type logs struct {
	log *slog.Logger
	// shed takes the access lines of successful, fast requests: under
	// overload (the output cannot keep up) they are dropped and counted.
	// keep takes those of errors (status 400 and up) and of requests
	// slower than --log-slow: never dropped.
	shed, keep io.Writer
	// shedLog and keepLog are slog loggers on shed and keep, for the
	// access lines the JSON fast path does not write (text format, odd
	// characters).
	shedLog, keepLog *slog.Logger
	json             bool
	slow             time.Duration
	w                *logWriter // nil with --log-buffer 0
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
	l := &logs{slow: c.logSlow, json: c.logFormat == "json"}
	main := out
	l.shed, l.keep = out, out
	if c.logBuffer > 0 {
		l.w = newLogWriter(out, c.logBuffer, c.logFlushInterval)
		main, l.shed, l.keep = l.w, l.w.shed(), l.w.keep()
	}
	l.log = slog.New(requestIDHandler{handler(main)})
	// The access loggers add the request id themselves: one wrapper less
	// on the hottest line.
	l.shedLog = slog.New(handler(l.shed))
	l.keepLog = slog.New(handler(l.keep))
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

// requestIDHandler adds the request id that front put in the context to
// every record logged with that context, so auth's ErrorContext lines, the
// security events and the access log line of one request can be joined.
// Records logged without a request context (start-up, background work)
// carry none.
type requestIDHandler struct{ slog.Handler }

func (h requestIDHandler) Handle(ctx context.Context, r slog.Record) error {
	if ctx != nil {
		if id := requestIDFrom(ctx); id != "" {
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
