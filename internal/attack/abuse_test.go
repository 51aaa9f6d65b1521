package attack_test

import (
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/sesame-go/sesame/internal/sesametest"
	"github.com/sesame-go/sesame/keys"
)

// TestOldKeys: tokens signed by a key that left the keyset (rotated out and
// pruned) or was revoked stop verifying, from the cache too, while the
// server keeps serving sessions signed by the new key.
func TestOldKeys(t *testing.T) {
	t.Parallel()
	e := newEnv(t, options{})
	policy := keys.RotationPolicy{PublishDelay: -1}
	ks0 := e.keys.Current()
	old := e.LoginAs("bob") // signed by ks0's active key
	oldKid := e.signer().ID()
	call := func(tok string) sesametest.Response { return e.Do(nil, "GET", "/app", "", sesametest.Bearer(tok)...) }
	if r := call(old.AccessToken); r.Status != 200 {
		t.Fatalf("before rotation: %d", r.Status)
	}
	ks1, err := ks0.Rotate(policy, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	e.keys.p.Store(ks1)
	if r := call(old.AccessToken); r.Status != 200 {
		t.Fatalf("verify-only key refused after rotation: %d %s", r.Status, r.Body)
	}
	e.victim = e.LoginAs("alice") // signed by the new active key
	e.victimG = e.family(e.victim.RefreshToken).Generation

	t.Run("retired-and-pruned", func(t *testing.T) {
		ks2, err := ks1.Prune(policy, time.Now().Add(48*time.Hour))
		if err != nil {
			t.Fatal(err)
		}
		if _, ok := ks2.Key(oldKid); ok {
			t.Fatal("prune kept the old key")
		}
		e.keys.p.Store(ks2)
		hits := e.totalHits()
		if r := call(old.AccessToken); r.Status != 401 || r.Code() != "unknown_key" {
			t.Fatalf("token of a pruned key: %d %s", r.Status, r.Body)
		}
		if e.totalHits() != hits {
			t.Fatal("handler reached")
		}
		e.intact(t)
		e.keys.p.Store(ks1)
	})
	t.Run("revoked", func(t *testing.T) {
		ks2, err := ks1.Revoke(oldKid, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		e.keys.p.Store(ks2)
		if r := call(old.AccessToken); r.Status != 401 || r.Code() != "key_revoked" {
			t.Fatalf("token of a revoked key: %d %s", r.Status, r.Body)
		}
		// Re-signing the old claims with the revoked key changes nothing.
		_, c, _ := split(t, old.AccessToken)
		k, _ := ks2.Key(oldKid)
		if r := call(signEd(k.SigningKey(), canonical(oldKid), c)); r.Status != 401 || r.Code() != "key_revoked" {
			t.Fatalf("fresh signature by a revoked key: %d %s", r.Status, r.Body)
		}
		e.intact(t)
	})
	t.Run("force-revoked-active", func(t *testing.T) {
		ks2, err := ks1.ForceRevoke(e.signer().ID(), time.Now())
		if err != nil {
			t.Fatal(err)
		}
		e.keys.p.Store(ks2)
		if r := call(e.victim.AccessToken); r.Status != 401 || r.Code() != "key_revoked" {
			t.Fatalf("token of the force-revoked active key: %d %s", r.Status, r.Body)
		}
		// The session itself survives: a refresh mints with the new key.
		r, tk := e.Refresh(e.victim.RefreshToken)
		if r.Status != 200 {
			t.Fatalf("refresh after key compromise: %d %s", r.Status, r.Body)
		}
		if r := call(tk.AccessToken); r.Status != 200 {
			t.Fatalf("new token: %d %s", r.Status, r.Body)
		}
	})
}

// measure returns the bytes allocated (process-wide) while f runs.
func measure(f func()) uint64 {
	var a, b runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&a)
	f()
	runtime.ReadMemStats(&b)
	return b.TotalAlloc - a.TotalAlloc
}

// TestResourceAbuse: huge and deeply nested inputs are refused by size
// before any decoding; allocation is bounded (measured, not timed).
//
// It does not run in parallel: TotalAlloc counts the whole process.
func TestResourceAbuse(t *testing.T) {
	e := newEnv(t, options{})
	h := e.srv.Config.Handler
	serve := func(method, path, body string, hdr ...string) *httptest.ResponseRecorder {
		r := httptest.NewRequest(method, "https://sesame.test"+path, strings.NewReader(body))
		for i := 0; i+1 < len(hdr); i += 2 {
			r.Header[hdr[i]] = append(r.Header[hdr[i]], hdr[i+1])
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		return w
	}
	for _, tc := range []struct {
		name   string
		size   int
		hdr    func(s string) []string
		status int
		code   string
	}{
		{"million-dots-bearer", 1e6, func(s string) []string { return []string{"Authorization", "Bearer " + s} }, 401, "too_large"},
		{"1MiB-bearer", 1 << 20, func(s string) []string { return []string{"Authorization", "Bearer " + s} }, 401, "too_large"},
		{"8MiB-bearer", 8 << 20, func(s string) []string { return []string{"Authorization", "Bearer " + s} }, 401, "too_large"},
		{"1MiB-cookie", 1 << 20, func(s string) []string { return []string{"Cookie", "__Host-sesame=" + s} }, 401, "too_large"},
		{"8MiB-cookie", 8 << 20, func(s string) []string { return []string{"Cookie", "__Host-sesame=" + s} }, 401, "too_large"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var tok string
			if strings.HasPrefix(tc.name, "million-dots") {
				tok = strings.Repeat(".", tc.size)
			} else {
				tok = e.victim.AccessToken + "." + strings.Repeat("A", tc.size)
			}
			hdr := tc.hdr(tok)
			hits := e.totalHits()
			var w *httptest.ResponseRecorder
			alloc := measure(func() { w = serve("GET", "/app", "", hdr...) })
			if w.Code != tc.status || !strings.Contains(w.Body.String(), `"`+tc.code+`"`) {
				t.Fatalf("got %d %s, want %d %s", w.Code, w.Body, tc.status, tc.code)
			}
			// The token is never copied or decoded: far less than its size.
			if alloc > 256<<10 {
				t.Fatalf("allocated %d bytes for a %d-byte token", alloc, tc.size)
			}
			if e.totalHits() != hits {
				t.Fatal("handler reached")
			}
		})
	}
	t.Run("10MiB-login-body", func(t *testing.T) {
		body := `{"username":"` + strings.Repeat("a", 10<<20) + `","password":"x"}`
		calls := e.authn.calls.Load()
		var w *httptest.ResponseRecorder
		alloc := measure(func() {
			w = serve("POST", "/auth/login", body, "Content-Type", "application/json", "X-Session-Transport", "header")
		})
		if w.Code != 413 || !strings.Contains(w.Body.String(), `"request_too_large"`) {
			t.Fatalf("got %d %s", w.Code, w.Body)
		}
		if alloc > 1<<20 {
			t.Fatalf("allocated %d bytes for a 10 MiB body (limit 64 KiB)", alloc)
		}
		if e.authn.calls.Load() != calls {
			t.Fatal("authenticator called")
		}
	})
	t.Run("10MiB-refresh-body", func(t *testing.T) {
		body := `{"refresh_token":"` + strings.Repeat("a", 10<<20) + `"}`
		var w *httptest.ResponseRecorder
		alloc := measure(func() {
			w = serve("POST", "/auth/refresh", body, "Content-Type", "application/json", "X-Session-Transport", "header")
		})
		if w.Code != 413 || alloc > 1<<20 {
			t.Fatalf("got %d, allocated %d", w.Code, alloc)
		}
	})
	t.Run("deeply-nested-login-body", func(t *testing.T) {
		body := strings.Repeat("[", 60<<10)
		var w *httptest.ResponseRecorder
		alloc := measure(func() {
			w = serve("POST", "/auth/login", body, "Content-Type", "application/json")
		})
		if w.Code != 400 || !strings.Contains(w.Body.String(), `"bad_request"`) || alloc > 4<<20 {
			t.Fatalf("got %d %s, allocated %d", w.Code, w.Body, alloc)
		}
	})
	t.Run("AllocsPerRun-oversized-token", func(t *testing.T) {
		r := httptest.NewRequest("GET", "https://sesame.test/app", nil)
		r.Header.Set("Authorization", "Bearer "+strings.Repeat("A", 4<<20))
		n := testing.AllocsPerRun(20, func() { h.ServeHTTP(httptest.NewRecorder(), r) })
		if n > 60 {
			t.Fatalf("%v allocations per oversized-token request", n)
		}
	})
	// Through the real server: a 10 MiB body and a million dots are answered
	// (413, 401) and the server stays healthy.
	t.Run("real-server", func(t *testing.T) {
		r, err := e.Try(nil, "POST", "/auth/login", `{"username":"`+strings.Repeat("a", 10<<20)+`"}`)
		if err == nil && r.Status != 413 {
			t.Fatalf("10 MiB body: %d", r.Status)
		}
		if r := e.Do(nil, "GET", "/app", "", "Authorization", "Bearer "+strings.Repeat(".", 1e6)); r.Status != 401 || r.Code() != "too_large" {
			t.Fatalf("million dots: %d %s", r.Status, r.Body)
		}
		// Past the server's header limit the request never reaches sesame.
		r2, err := e.Try(nil, "GET", "/app", "", "Authorization", "Bearer "+strings.Repeat("A", 2<<20))
		if err == nil && r2.Status != http.StatusRequestHeaderFieldsTooLarge {
			t.Fatalf("2 MiB header: %d", r2.Status)
		}
		e.intact(t)
	})
}
