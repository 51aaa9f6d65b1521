package auth_test

import (
	"context"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/sesame-go/sesame/auth"
	"github.com/sesame-go/sesame/internal/redistest"
	"github.com/sesame-go/sesame/internal/sesametest"
	"github.com/sesame-go/sesame/revocation"
)

// fastFailClient talks to srv with short timeouts and no retries, as a
// deployment that prefers a quick 503 to a hanging request would configure.
func fastFailClient(t *testing.T, srv *redistest.Server) *redis.Client {
	return srv.Client(&redis.Options{
		DialTimeout:  200 * time.Millisecond,
		ReadTimeout:  200 * time.Millisecond,
		WriteTimeout: 200 * time.Millisecond,
		MaxRetries:   -1,
	})
}

// TestTwoManagersOneRedis: a session ended through manager A is refused by
// manager B, which learns of it only through its own replica.
func TestTwoManagersOneRedis(t *testing.T) {
	srv := redistest.Start(t, nil)
	mk := func() *env {
		s, err := revocation.NewRedis(srv.Client(), nil)
		if err != nil {
			t.Fatal(err)
		}
		return newEnv(t, s)
	}
	a, b := mk(), mk()
	tk := a.LoginAs("alice")
	if r := b.Do(nil, "GET", "/app", "", sesametest.Bearer(tk.AccessToken)...); r.Status != 200 {
		t.Fatalf("B refuses A's token: %d", r.Status)
	}
	// Refresh on B, use on A.
	_, tk2 := b.Refresh(tk.RefreshToken)
	if r := a.Do(nil, "GET", "/app", "", sesametest.Bearer(tk2.AccessToken)...); r.Status != 200 {
		t.Fatalf("A refuses B's refreshed token: %d", r.Status)
	}
	start := time.Now()
	if r := a.Do(nil, "POST", "/auth/logout", "", sesametest.Bearer(tk2.AccessToken)...); r.Status != 204 {
		t.Fatalf("logout on A: %d", r.Status)
	}
	waitFor(t, 2*time.Second, func() bool { return b.Do(nil, "GET", "/app", "", sesametest.Bearer(tk2.AccessToken)...).Status == 401 })
	t.Logf("logout on A refused on B after %v", time.Since(start))
	if r := b.Do(nil, "GET", "/app", "", sesametest.Bearer(tk2.AccessToken)...); r.ErrorCode(t) != auth.CodeRevoked {
		t.Errorf("code %q, want revoked", r.ErrorCode(t))
	}
	// logout-all on B reaches A too.
	tk3 := a.LoginAs("alice")
	if r := b.Do(nil, "POST", "/auth/logout-all", "", sesametest.Bearer(tk3.AccessToken)...); r.Status != 204 {
		t.Fatalf("logout-all on B: %d", r.Status)
	}
	waitFor(t, 2*time.Second, func() bool { return a.Do(nil, "GET", "/app", "", sesametest.Bearer(tk3.AccessToken)...).Status == 401 })
}

// TestRedisOutage: with Redis down, refresh and login answer 503 with
// Retry-After (nobody is logged out), protected routes keep working from the
// replica until the staleness bound, then the fail-closed policy answers
// 503; once Redis is back everything works again with the same tokens.
func TestRedisOutage(t *testing.T) {
	srv := redistest.Start(t, nil)
	store, err := revocation.NewRedis(fastFailClient(t, srv), nil)
	if err != nil {
		t.Fatal(err)
	}
	e := newEnv(t, store) // staleness bound 2s
	tk := e.LoginAs("alice")

	srv.Kill()
	for _, c := range []struct{ path, body string }{
		{"/auth/refresh", `{"refresh_token":"` + tk.RefreshToken + `"}`},
		{"/auth/login", `{"username":"alice","password":"alice-pw"}`},
	} {
		r := e.Do(nil, "POST", c.path, c.body, "X-Session-Transport", "header")
		if r.Status != 503 || r.Header.Get("Retry-After") == "" || r.ErrorCode(t) != auth.CodeUnavailable {
			t.Fatalf("%s with Redis down: %d %q %s", c.path, r.Status, r.Header.Get("Retry-After"), r.Body)
		}
	}
	if r := e.Do(nil, "POST", "/pay", "", sesametest.Bearer(tk.AccessToken)...); r.Status != 503 {
		t.Fatalf("strict route with Redis down: %d", r.Status)
	}
	// Within the bound the replica vouches for the token (this request runs
	// right after the kill; the bound is 2s).
	if st := e.replica.Status(); !st.Stale {
		if r := e.Do(nil, "GET", "/app", "", sesametest.Bearer(tk.AccessToken)...); r.Status != 200 {
			t.Fatalf("protected route within the staleness bound: %d", r.Status)
		}
	}
	// Past the bound: fail closed, 503 not 401.
	waitFor(t, 10*time.Second, func() bool { return e.replica.Status().Stale })
	r := e.Do(nil, "GET", "/app", "", sesametest.Bearer(tk.AccessToken)...)
	if r.Status != 503 || r.Header.Get("Retry-After") == "" {
		t.Fatalf("stale replica: %d %s", r.Status, r.Body)
	}

	srv.Restart() // no persistence: the family is gone, but no one was logged out by the outage itself
	waitFor(t, 10*time.Second, func() bool { return !e.replica.Status().Stale })
	if r := e.Do(nil, "GET", "/app", "", sesametest.Bearer(tk.AccessToken)...); r.Status != 200 {
		t.Fatalf("after recovery: %d %s", r.Status, r.Body)
	}
	tk2 := e.LoginAs("alice")
	if r, _ := e.Refresh(tk2.RefreshToken); r.Status != 200 {
		t.Fatalf("refresh after recovery: %d", r.Status)
	}
}

func TestRedisOutagePersistentNoLostFamilies(t *testing.T) {
	srv := redistest.Start(t, &redistest.Options{Persistence: true})
	store, err := revocation.NewRedis(fastFailClient(t, srv), nil)
	if err != nil {
		t.Fatal(err)
	}
	e := newEnv(t, store)
	tk := e.LoginAs("alice")
	srv.Kill()
	if r, _ := e.Refresh(tk.RefreshToken); r.Status != 503 {
		t.Fatalf("refresh while down: %d", r.Status)
	}
	srv.Restart()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	waitFor(t, 10*time.Second, func() bool { return srv.Client().Ping(ctx).Err() == nil })
	// The 503 changed nothing: the same refresh token still works.
	waitFor(t, 10*time.Second, func() bool { r, _ := e.Refresh(tk.RefreshToken); return r.Status == 200 })
}
