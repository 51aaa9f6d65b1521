package bench

import (
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
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

// TestSesameTokenSize logs where the bytes of sesame's access token for the
// reference session go, with the default JSON DataEncoding and with ref.Codec
// (go test -run TokenSize -v), and holds them to the figures in
// BENCHMARKS.md, so that a token that grows is noticed.
func TestSesameTokenSize(t *testing.T) {
	sizes := map[string]int{}
	for _, tc := range []struct {
		way string
		max int
	}{{"sesame-hit", 858}, {"sesame-hit-compact", 751}} {
		w, err := New(tc.way, deps)
		if err != nil {
			t.Fatal(err)
		}
		tok, _ := strings.CutPrefix(w.Request.Header.Get("Authorization"), "Bearer ")
		w.Close()
		parts := strings.Split(tok, ".")
		if len(parts) != 3 || len(tok) != w.CredBytes {
			t.Fatalf("%s: %d segments, %d bytes, CredBytes %d", tc.way, len(parts), len(tok), w.CredBytes)
		}
		claims, err := base64.RawURLEncoding.DecodeString(parts[1])
		if err != nil {
			t.Fatal(err)
		}
		var c struct {
			Enc string `json:"enc"`
		}
		if err := json.Unmarshal(claims, &c); err != nil {
			t.Fatal(err)
		}
		sealed := base64.RawURLEncoding.DecodedLen(len(c.Enc))
		t.Logf("%s: %d bytes = header %d + claims %d + signature %d + 2 dots; claims are %d bytes of JSON, %d of them enc (%d bytes: 24 nonce + 16 tag + %d plaintext), %d the other claims",
			tc.way, len(tok), len(parts[0]), len(parts[1]), len(parts[2]), len(claims), len(c.Enc), sealed, sealed-40, len(claims)-len(c.Enc))
		if len(tok) > tc.max {
			t.Errorf("%s: the token grew to %d bytes from %d (BENCHMARKS.md)", tc.way, len(tok), tc.max)
		}
		sizes[tc.way] = len(tok)
	}
	if sizes["sesame-hit-compact"] >= sizes["sesame-hit"] {
		t.Errorf("compact codec %d bytes, JSON %d", sizes["sesame-hit-compact"], sizes["sesame-hit"])
	}
}
