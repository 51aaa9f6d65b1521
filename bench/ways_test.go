package bench

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/sesame-go/sesame/bench/internal/ref"
)

// TestWaysAuthenticate keeps the benchmarks honest: every way refuses a
// request without a session, refuses a tampered credential, and admits the
// benchmark's request with the complete reference session, several times
// over (so a cache, a registry or a one-shot store read cannot fake it).
func TestWaysAuthenticate(t *testing.T) {
	for _, name := range Names {
		t.Run(name, func(t *testing.T) {
			w, err := New(name, deps)
			if err != nil {
				t.Fatal(err)
			}
			defer w.Close()
			var seen int
			w.Seen = func(s ref.Session) {
				seen++
				if !ref.Equal(s, deps.Ref) {
					t.Errorf("handler got %+v, want %+v", s, deps.Ref)
				}
			}
			for i := range 3 {
				if got := serve(w.Handler, w.Request); got != http.StatusNoContent {
					t.Fatalf("request %d with a session: got status %d, want 204", i, got)
				}
			}
			if seen != 3 {
				t.Fatalf("handler saw the session %d times, want 3", seen)
			}
			if w.NoAuth {
				return
			}
			if w.CredBytes == 0 {
				t.Error("CredBytes not set")
			}
			if got := serve(w.Handler, w.Anonymous); got != http.StatusUnauthorized {
				t.Errorf("request without a session: got status %d, want 401", got)
			}
			if got := serve(w.Handler, tampered(t, w.Request)); got != http.StatusUnauthorized {
				t.Errorf("tampered credential: got status %d, want 401", got)
			}
			if got := serve(w.Handler, w.Request); got != http.StatusNoContent {
				t.Errorf("request with a session after refusals: got status %d, want 204", got)
			}
			if w.Revoke != nil {
				if err := w.Revoke(); err != nil {
					t.Fatal(err)
				}
				if got := serve(w.Handler, w.Request); got != http.StatusUnauthorized {
					t.Errorf("session ended in Redis: got status %d, want 401", got)
				}
			}
		})
	}
}

func serve(h http.Handler, tmpl *http.Request) int {
	r := *tmpl
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, &r)
	return rec.Code
}

// tampered returns tmpl with one character of its credential changed in the
// middle (inside the signature or MAC'd/encrypted part, or the random scs
// token).
func tampered(t *testing.T, tmpl *http.Request) *http.Request {
	t.Helper()
	r := tmpl.Clone(tmpl.Context())
	flip := func(s string) string {
		b := []byte(s)
		i := len(b) * 2 / 3
		if b[i] == 'A' {
			b[i] = 'B'
		} else {
			b[i] = 'A'
		}
		return string(b)
	}
	if v := r.Header.Get("Authorization"); v != "" {
		r.Header.Set("Authorization", flip(v))
		return r
	}
	cs := r.Cookies()
	if len(cs) != 1 {
		t.Fatalf("template request has %d cookies and no Authorization", len(cs))
	}
	r.Header.Del("Cookie")
	r.AddCookie(&http.Cookie{Name: cs[0].Name, Value: flip(cs[0].Value)})
	return r
}
