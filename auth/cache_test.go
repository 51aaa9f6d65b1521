package auth_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/sesame-go/sesame/auth"
	"github.com/sesame-go/sesame/internal/sesametest"
	"github.com/sesame-go/sesame/internal/testclock"
	"github.com/sesame-go/sesame/keys"
	"github.com/sesame-go/sesame/revocation"
)

// mutableKeys is a KeySource whose keyset the test swaps, as a reloading
// keys.Holder would.
type mutableKeys struct{ p atomic.Pointer[keys.Keyset] }

func (m *mutableKeys) Current() *keys.Keyset { return m.p.Load() }

// TestCachedTokenStillChecked: a token that was verified once (and so is in
// the cache) is still refused when it expires, when its key is revoked or
// retired, and when its session is revoked.
func TestCachedTokenStillChecked(t *testing.T) {
	ks, err := keys.Init(time.Now())
	if err != nil {
		t.Fatal(err)
	}
	src := &mutableKeys{}
	src.p.Store(ks)
	clk := testclock.New(time.Now())
	e := newEnv(t, newMemoryStore(t), func(c *auth.Config[Profile]) {
		c.Keys = src
		c.Now = clk.Now
	})
	tk := e.LoginAs("alice")
	call := func() sesametest.Response { return e.Do(nil, "GET", "/app", "", sesametest.Bearer(tk.AccessToken)...) }
	if r := call(); r.Status != 200 {
		t.Fatalf("first call: %d", r.Status)
	}

	t.Run("malleated signature misses the cache", func(t *testing.T) {
		// The last base64 character of a 64-byte signature carries 4 spare
		// bits; flipping one gives a string that decodes to the same bytes
		// under lax decoding. It must not be served from the cache.
		last := tk.AccessToken[len(tk.AccessToken)-1]
		alt := tk.AccessToken[:len(tk.AccessToken)-1] + string(spareBitTwin(last))
		if r := e.Do(nil, "GET", "/app", "", sesametest.Bearer(alt)...); r.Status != 401 || r.ErrorCode(t) != "malformed" {
			t.Fatalf("malleated token: %d %s", r.Status, r.Body)
		}
	})

	t.Run("expiry", func(t *testing.T) {
		clk.Advance(10*time.Minute + 29*time.Second) // within leeway
		if r := call(); r.Status != 200 {
			t.Fatalf("within leeway: %d", r.Status)
		}
		clk.Advance(2 * time.Second)
		if r := call(); r.Status != 401 || r.ErrorCode(t) != "expired" {
			t.Fatalf("expired cached token: %d %s", r.Status, r.Body)
		}
		clk.Advance(-(10*time.Minute + 31*time.Second))
	})

	t.Run("key revoked", func(t *testing.T) {
		tk2 := e.LoginAs("bob")
		if r := e.Do(nil, "GET", "/app", "", sesametest.Bearer(tk2.AccessToken)...); r.Status != 200 {
			t.Fatalf("before revocation: %d", r.Status)
		}
		signer, _ := ks.Signer()
		revoked, err := ks.ForceRevoke(signer.ID(), time.Now())
		if err != nil {
			t.Fatal(err)
		}
		src.p.Store(revoked)
		if r := e.Do(nil, "GET", "/app", "", sesametest.Bearer(tk2.AccessToken)...); r.Status != 401 || r.ErrorCode(t) != "key_revoked" {
			t.Fatalf("cached token of a revoked key: %d %s", r.Status, r.Body)
		}
		src.p.Store(ks)
	})
}

// spareBitTwin returns a base64url character whose top 2 bits equal c's and
// whose low 4 bits differ: as the last character of a 64-byte value (86
// characters, 2 bits used) it decodes to the same bytes under lax decoding.
func spareBitTwin(c byte) byte {
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
	i := strings.IndexByte(alphabet, c)
	return alphabet[i^1]
}

// benchEnv is a manager behind chi with one protected route, in process.
func benchEnv(b *testing.B, cacheSize int) (http.Handler, string) {
	m := benchManager(b, auth.Config[Profile]{
		Authenticator: auth.AuthenticatorFunc[Profile](authenticate), CacheSize: cacheSize,
	})
	r := chi.NewRouter()
	r.Mount("/auth", m.Routes())
	r.With(m.Require()).Get("/app", func(w http.ResponseWriter, r *http.Request) {
		if _, ok := auth.FromContext[Profile](r.Context()); !ok {
			b.Fatal("no session")
		}
		w.WriteHeader(204)
	})
	return r, loginInProcess(b, r, "alice", "alice-pw")
}

// loginInProcess logs in through h with the header transport, without a
// network, and returns the access token.
func loginInProcess(b *testing.B, h http.Handler, user, password string) string {
	b.Helper()
	req := httptest.NewRequest("POST", "/auth/login", strings.NewReader(`{"username":"`+user+`","password":"`+password+`"}`))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Session-Transport", "header")
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	var tk sesametest.Tokens
	if err := json.Unmarshal(rec.Body.Bytes(), &tk); err != nil || tk.AccessToken == "" {
		b.Fatalf("login %s: %d %s", user, rec.Code, rec.Body.String())
	}
	return tk.AccessToken
}

func benchmarkRequire(b *testing.B, cacheSize int) {
	h, tok := benchEnv(b, cacheSize)
	req := httptest.NewRequest("GET", "/app", nil)
	req.Header.Set("Authorization", "Bearer "+tok)
	b.ReportAllocs()
	for b.Loop() {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != 204 {
			b.Fatalf("status %d", rec.Code)
		}
	}
	b.ReportMetric(float64(len(tok)), "token-bytes")
}

// BenchmarkRequireCacheHit is one authenticated request through chi when
// the token was verified before: no signature check, no decryption.
func BenchmarkRequireCacheHit(b *testing.B) { benchmarkRequire(b, 0) }

// BenchmarkRequireCacheMiss is the same with the cache disabled: every
// request verifies the signature and opens the payload.
func BenchmarkRequireCacheMiss(b *testing.B) { benchmarkRequire(b, -1) }

// referenceData has the strings of the benchmarks' reference session
// (bench/internal/ref/reference-session.json).
var referenceData = Profile{Name: "Alexandra Richardson", Cart: []string{
	"usr_01J9ZK3M7Q4W2B8D5F6G7H8J9K", "a.richardson@example-corp.com", "admin", "billing:read",
	"billing:write", "support", "tnt_7f3a9c2e41b8", "en-GB"}}

// referenceManager is a manager on the memory store whose Authenticator
// accepts any user (a user per session, as in production) with
// referenceData, and no login rate limit.
func referenceManager(b *testing.B, cacheSize int) *auth.Manager[Profile] {
	return benchManager(b, auth.Config[Profile]{
		CacheSize: cacheSize,
		Authenticator: auth.AuthenticatorFunc[Profile](func(_ context.Context, u, _ string) (string, Profile, error) {
			return u, referenceData, nil
		}),
		Limits: auth.Limits{LoginsPerAddress: -1, FailuresPerUser: -1},
	})
}

// benchManager is auth.New(cfg) with the test keyset, a memory store and
// its replica, running until b ends.
func benchManager(b *testing.B, cfg auth.Config[Profile]) *auth.Manager[Profile] {
	store, err := revocation.NewMemory(nil)
	if err != nil {
		b.Fatal(err)
	}
	rep := sesametest.StartReplica(b, store, nil)
	<-rep.Ready()
	cfg.Keys, cfg.Store, cfg.Denylist = testKeys(), store, rep
	m, err := auth.New(cfg)
	if err != nil {
		b.Fatal(err)
	}
	return m
}

// BenchmarkCacheMemory measures the heap one verified-token cache entry
// holds, for session data close to bench/internal/ref/reference-session.json
// (the same strings, in this package's Profile: 181 bytes as JSON against
// the reference's 208, whose field names are longer): N sessions log in, each
// token is verified once through Require (filling the cache), and the live
// heap is compared before and after: what the cache keeps, its own copy of
// the token string, the Session with its decoded data, and otter's
// bookkeeping.
func BenchmarkCacheMemory(b *testing.B) {
	const n = 20000
	m := referenceManager(b, n)
	r := chi.NewRouter()
	r.Mount("/auth", m.Routes())
	r.With(m.Require()).Get("/app", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(204) })
	for b.Loop() {
		b.StopTimer()
		headers := make([]string, n)
		for i := range headers {
			headers[i] = "Bearer " + loginInProcess(b, r, fmt.Sprintf("usr_%024d", i), "p")
		}
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		b.StartTimer()
		for _, h := range headers {
			req := httptest.NewRequest("GET", "/app", nil)
			req.Header.Set("Authorization", h)
			rec := httptest.NewRecorder()
			r.ServeHTTP(rec, req)
			if rec.Code != 204 {
				b.Fatalf("status %d", rec.Code)
			}
		}
		b.StopTimer()
		runtime.GC()
		runtime.ReadMemStats(&after)
		b.ReportMetric(float64(int64(after.HeapAlloc)-int64(before.HeapAlloc))/n, "bytes/entry")
		b.ReportMetric(float64(len(headers[0])-len("Bearer ")), "token-bytes")
		runtime.KeepAlive(headers)
		b.StartTimer()
	}
}
