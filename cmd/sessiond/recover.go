package main

import (
	"fmt"
	"log/slog"
	"net/http"
	"runtime/debug"
)

// recovered answers 500 to r, whose handler panicked with v, and logs the
// panic and its stack at ERROR (never dropped). front calls it from the
// function deferred where v was recovered, so that the stack is the
// panic's. Without it net/http recovers alone: it closes the connection
// without an answer, logs on the server's error log (DEBUG here), and
// neither the access log nor the request metrics see the request.
//
// http.ErrAbortHandler, the way a handler aborts a response on purpose, is
// passed on to net/http.
func (n *node) recovered(w http.ResponseWriter, r *http.Request, v any) {
	if v == http.ErrAbortHandler {
		panic(v)
	}
	n.log.LogAttrs(r.Context(), slog.LevelError, "panic serving a request",
		slog.String("panic", fmt.Sprint(v)), slog.String("stack", string(debug.Stack())))
	if started(w) {
		return // too late for a 500: net/http ends the answer
	}
	writeJSON(w, http.StatusInternalServerError, map[string]string{"error": "internal_error", "message": "internal error"})
}

// started reports whether the answer's status was written, as far as the
// statusRecorder somewhere under w (front's) knows.
func started(w http.ResponseWriter) bool {
	for {
		switch x := w.(type) {
		case *statusRecorder:
			return x.status != 0
		case interface{ Unwrap() http.ResponseWriter }:
			w = x.Unwrap()
		default:
			return false
		}
	}
}
