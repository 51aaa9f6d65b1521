package main

import (
	"bytes"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestRecoverPanics(t *testing.T) {
	var logged bytes.Buffer
	n := &node{log: slog.New(slog.NewJSONHandler(&logged, nil))}
	h := n.recoverPanics(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { panic("boom") }))
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/", nil))
	if rec.Code != http.StatusInternalServerError || !strings.Contains(rec.Body.String(), "internal_error") {
		t.Errorf("got %d %q, want 500 internal_error", rec.Code, rec.Body)
	}
	if l := logged.String(); !strings.Contains(l, `"level":"ERROR"`) || !strings.Contains(l, `"panic":"boom"`) || !strings.Contains(l, "recover_test.go") {
		t.Errorf("log %q: want an ERROR line with the panic and its stack", l)
	}

	// After the status is written, no second answer.
	rec = httptest.NewRecorder()
	sr := &statusRecorder{ResponseWriter: rec}
	n.recoverPanics(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(http.StatusAccepted)
		panic("late")
	})).ServeHTTP(sr, httptest.NewRequest("GET", "/", nil))
	if rec.Code != http.StatusAccepted || rec.Body.Len() != 0 {
		t.Errorf("late panic: got %d %q, want the 202 alone", rec.Code, rec.Body)
	}

	// http.ErrAbortHandler goes on to net/http.
	defer func() {
		if v := recover(); v != http.ErrAbortHandler {
			t.Errorf("recovered %v, want http.ErrAbortHandler passed on", v)
		}
	}()
	n.recoverPanics(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { panic(http.ErrAbortHandler) })).
		ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/", nil))
}

// recoverPanics is front's recovery as a middleware, for testing it (and
// comparing front with the middleware stack it replaced) on a handler
// alone.
func (n *node) recoverPanics(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			if v := recover(); v != nil {
				n.recovered(w, r, v)
			}
		}()
		next.ServeHTTP(w, r)
	})
}
