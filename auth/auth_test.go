package auth_test

import (
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sesame-go/sesame/auth"
	"github.com/sesame-go/sesame/internal/redistest"
	"github.com/sesame-go/sesame/internal/sesametest"
	"github.com/sesame-go/sesame/internal/testclock"
	"github.com/sesame-go/sesame/revocation"
)

// backends runs a test against the memory store and a real Redis.
func backends(t *testing.T, f func(t *testing.T, newStore func(t *testing.T) revocation.Store)) {
	t.Run("memory", func(t *testing.T) { f(t, newMemoryStore) })
	t.Run("redis", func(t *testing.T) {
		srv := redistest.Start(t, nil)
		n := 0
		f(t, func(t *testing.T) revocation.Store {
			n++
			s, err := revocation.NewRedis(srv.Client(), &revocation.RedisOptions{KeyPrefix: "t" + string(rune('a'+n)) + ":"})
			if err != nil {
				t.Fatal(err)
			}
			return s
		})
	})
}

func TestHeaderFlow(t *testing.T) {
	backends(t, func(t *testing.T, newStore func(*testing.T) revocation.Store) {
		e := newEnv(t, newStore(t))
		tk := e.LoginAs("alice")
		if tk.TokenType != "Bearer" || tk.AccessToken == "" || tk.RefreshToken == "" || tk.ExpiresIn < 599 || tk.ExpiresIn > 600 || tk.RefreshExpiresIn <= 0 {
			t.Fatalf("login answer %+v", tk)
		}
		if r := e.Do(nil, "GET", "/app", "", sesametest.Bearer(tk.AccessToken)...); r.Status != 200 || r.Body != "hello Alice" {
			t.Fatalf("protected call: %d %q", r.Status, r.Body)
		}
		var sess struct {
			SID  string  `json:"sid"`
			Sub  string  `json:"sub"`
			Iat  int64   `json:"iat"`
			Exp  int64   `json:"exp"`
			Data Profile `json:"data"`
		}
		r := e.Do(nil, "GET", "/auth/session", "", sesametest.Bearer(tk.AccessToken)...)
		r.JSON(t, &sess)
		if sess.Sub != "uid-alice" || sess.SID == "" || sess.Exp-sess.Iat != 600 || sess.Data.Name != "Alice" {
			t.Fatalf("session: %s", r.Body)
		}
		r2, tk2 := e.Refresh(tk.RefreshToken)
		if r2.Status != 200 || tk2.RefreshToken == tk.RefreshToken || tk2.AccessToken == tk.AccessToken {
			t.Fatalf("refresh: %d %s", r2.Status, r2.Body)
		}
		if cc := r2.Header.Get("Cache-Control"); cc != "no-store" {
			t.Errorf("refresh Cache-Control %q", cc)
		}
		if r := e.Do(nil, "GET", "/app", "", sesametest.Bearer(tk2.AccessToken)...); r.Status != 200 {
			t.Fatalf("refreshed token: %d", r.Status)
		}
		if got := e.hitCount("app"); got != 2 {
			t.Errorf("protected handler ran %d times, want 2", got)
		}
		if r := e.Do(nil, "POST", "/auth/logout", "", sesametest.Bearer(tk2.AccessToken)...); r.Status != 204 {
			t.Fatalf("logout: %d %s", r.Status, r.Body)
		}
		// The old tokens are refused: both access tokens (sid denylisted,
		// seen through the replica) and the refresh token.
		for _, at := range []string{tk.AccessToken, tk2.AccessToken} {
			waitFor(t, 2*time.Second, func() bool { return e.Do(nil, "GET", "/app", "", sesametest.Bearer(at)...).Status == 401 })
			if c := e.Do(nil, "GET", "/app", "", sesametest.Bearer(at)...).ErrorCode(t); c != "revoked" {
				t.Errorf("after logout: code %q, want revoked", c)
			}
		}
		if r, _ := e.Refresh(tk2.RefreshToken); r.Status != 401 {
			t.Fatalf("refresh after logout: %d", r.Status)
		}
		if k := e.eventKinds(); !slices.Contains(k, auth.EventLoginSuccess) || !slices.Contains(k, auth.EventLogout) {
			t.Errorf("events %v", k)
		}
	})
}

func TestCookieFlow(t *testing.T) {
	backends(t, func(t *testing.T, newStore func(*testing.T) revocation.Store) {
		e := newEnv(t, newStore(t))
		b := e.browser()
		r := e.Do(b, "POST", "/auth/login", `{"username":"bob","password":"bob-pw","remember":true}`)
		if r.Status != 200 {
			t.Fatalf("login: %d %s", r.Status, r.Body)
		}
		if strings.Contains(r.Body, "access_token") || strings.Contains(r.Body, "refresh") && strings.Contains(r.Body, "refresh_token") {
			t.Errorf("cookie-mode body carries tokens: %s", r.Body)
		}
		sc := r.Header.Values("Set-Cookie")
		if len(sc) != 3 {
			t.Fatalf("Set-Cookie: %q", sc)
		}
		device, access, refresh := parseSetCookie(t, sc[0]), parseSetCookie(t, sc[1]), parseSetCookie(t, sc[2])
		wantAttrs(t, device, "__Host-sesame-device", "Path=/", "Secure", "HttpOnly", "SameSite=Strict", "Max-Age")
		wantAttrs(t, access, "__Host-sesame", "Path=/", "Secure", "HttpOnly", "SameSite=Lax", "Max-Age")
		wantAttrs(t, refresh, "__Host-sesame-refresh", "Path=/", "Secure", "HttpOnly", "SameSite=Strict", "Max-Age")
		if _, ok := access["Domain"]; ok {
			t.Error("access cookie has a Domain")
		}
		if _, ok := refresh["Domain"]; ok {
			t.Error("refresh cookie has a Domain")
		}
		if r := e.Do(b, "GET", "/app", ""); r.Status != 200 || r.Body != "hello Bob" {
			t.Fatalf("protected call: %d %q", r.Status, r.Body)
		}
		if r := e.Do(b, "POST", "/cart?item=tea", ""); r.Status != 200 || r.Body != "tea" {
			t.Fatalf("cart: %d %q", r.Status, r.Body)
		}
		if r := e.Do(b, "POST", "/auth/refresh", ""); r.Status != 200 {
			t.Fatalf("refresh: %d %s", r.Status, r.Body)
		}
		// The refreshed session keeps the cart: Update stored it with the family.
		if r := e.Do(b, "POST", "/cart?item=jam", ""); r.Status != 200 || r.Body != "tea,jam" {
			t.Fatalf("cart after refresh: %d %q", r.Status, r.Body)
		}
		if r := e.Do(b, "POST", "/pay", ""); r.Status != 200 {
			t.Fatalf("strict route: %d %s", r.Status, r.Body)
		}
		r = e.Do(b, "POST", "/auth/logout", "")
		if r.Status != 204 {
			t.Fatalf("logout: %d", r.Status)
		}
		for _, c := range r.Header.Values("Set-Cookie") {
			if !strings.Contains(c, "Max-Age=0") {
				t.Errorf("logout cookie not cleared: %q", c)
			}
		}
		if r := e.Do(b, "GET", "/app", ""); r.Status != 401 {
			t.Fatalf("after logout: %d", r.Status)
		}
	})
}

func TestSessionCookiesWithoutRemember(t *testing.T) {
	e := newEnv(t, newMemoryStore(t))
	r := e.Do(nil, "POST", "/auth/login", `{"username":"bob","password":"bob-pw"}`)
	for _, c := range r.Header.Values("Set-Cookie") {
		if strings.HasPrefix(c, "__Host-sesame-device=") {
			continue // the device's, not the session's: it outlives sessions by design
		}
		if strings.Contains(c, "Max-Age") || strings.Contains(c, "Expires") {
			t.Errorf("cookie of a non-remembered session persists: %q", c)
		}
	}
	var body struct {
		RefreshExpiresIn int `json:"refresh_expires_in"`
	}
	r.JSON(t, &body)
	if body.RefreshExpiresIn > int((12 * time.Hour).Seconds()) {
		t.Errorf("non-remembered session lives %ds", body.RefreshExpiresIn)
	}
}

func parseSetCookie(t *testing.T, v string) map[string]string {
	t.Helper()
	out := map[string]string{}
	for i, part := range strings.Split(v, ";") {
		k, val, _ := strings.Cut(strings.TrimSpace(part), "=")
		if i == 0 {
			out["name"] = k
			continue
		}
		out[k] = val
	}
	return out
}

func wantAttrs(t *testing.T, c map[string]string, name string, attrs ...string) {
	t.Helper()
	if c["name"] != name {
		t.Errorf("cookie name %q, want %q", c["name"], name)
	}
	for _, a := range attrs {
		k, v, hasV := strings.Cut(a, "=")
		got, ok := c[k]
		if !ok || hasV && got != v {
			t.Errorf("cookie %s: attribute %s missing or %q", name, a, got)
		}
	}
}

func TestErrors(t *testing.T) {
	backends(t, testErrors)
}

func testErrors(t *testing.T, newStore func(*testing.T) revocation.Store) {
	e := newEnv(t, newStore(t))
	tk := e.LoginAs("alice")
	big := `{"username":"` + strings.Repeat("a", 70<<10) + `","password":"x"}`
	tests := []struct {
		name, method, path, body string
		hdr                      []string
		status                   int
		code                     string
	}{
		{"no token", "GET", "/app", "", nil, 401, "unauthenticated"},
		{"garbage bearer", "GET", "/app", "", sesametest.Bearer("abc.def.ghi"), 401, "malformed"},
		{"bearer lower case scheme ok", "GET", "/app", "", []string{"Authorization", "bearer " + tk.AccessToken}, 200, ""},
		{"two bearer headers", "GET", "/app", "", append(sesametest.Bearer(tk.AccessToken), sesametest.Bearer(tk.AccessToken)...), 401, "malformed"},
		{"two tokens in one header", "GET", "/app", "", []string{"Authorization", "Bearer " + tk.AccessToken + " " + tk.AccessToken}, 401, "malformed"},
		{"tab separator", "GET", "/app", "", []string{"Authorization", "Bearer\t" + tk.AccessToken}, 401, "malformed"},
		{"basic scheme", "GET", "/app", "", []string{"Authorization", "Basic YTpi"}, 401, "malformed"},
		{"token in query ignored", "GET", "/app?access_token=" + tk.AccessToken, "", nil, 401, "unauthenticated"},
		{"cookie ignored in header mode", "GET", "/app", "", []string{"X-Session-Transport", "header", "Cookie", "__Host-sesame=" + tk.AccessToken}, 401, "unauthenticated"},
		{"duplicate cookies", "GET", "/app", "", []string{"Cookie", "__Host-sesame=" + tk.AccessToken + "; __Host-sesame=" + tk.AccessToken}, 401, "malformed"},
		{"refresh token as bearer", "GET", "/app", "", sesametest.Bearer(tk.RefreshToken), 401, "malformed"},
		{"login wrong password", "POST", "/auth/login", `{"username":"alice","password":"nope"}`, nil, 401, "invalid_credentials"},
		{"login unknown user", "POST", "/auth/login", `{"username":"mallory","password":"nope"}`, nil, 401, "invalid_credentials"},
		{"login malformed json", "POST", "/auth/login", `{"username":`, nil, 400, "bad_request"},
		{"login missing password", "POST", "/auth/login", `{"username":"alice"}`, nil, 400, "bad_request"},
		{"login two objects", "POST", "/auth/login", `{"username":"a","password":"b"}{}`, nil, 400, "bad_request"},
		{"login wrong content type", "POST", "/auth/login", `{"username":"alice","password":"alice-pw"}`, []string{"Content-Type", "text/plain"}, 400, "bad_request"},
		{"login body too large", "POST", "/auth/login", big, nil, 413, "request_too_large"},
		{"refresh with access token", "POST", "/auth/refresh", `{"refresh_token":"` + tk.AccessToken + `"}`, []string{"X-Session-Transport", "header"}, 401, "invalid_refresh_token"},
		{"refresh garbage", "POST", "/auth/refresh", `{"refresh_token":"x.y"}`, []string{"X-Session-Transport", "header"}, 401, "invalid_refresh_token"},
		{"refresh without cookie", "POST", "/auth/refresh", "", nil, 401, "unauthenticated"},
		{"logout without token", "POST", "/auth/logout", "", nil, 401, "unauthenticated"},
		{"logout-all forged", "POST", "/auth/logout-all", "", sesametest.Bearer(tk.AccessToken[:len(tk.AccessToken)-4] + "AAAA"), 401, "bad_signature"},
		{"delete other session", "DELETE", "/auth/sessions/not-mine", "", sesametest.Bearer(tk.AccessToken), 404, "not_found"},
		{"cross-site login", "POST", "/auth/login", `{"username":"alice","password":"alice-pw"}`, []string{"Sec-Fetch-Site", "cross-site"}, 403, "forbidden"},
		{"cross-origin logout", "POST", "/auth/logout", "", append(sesametest.Bearer(tk.AccessToken), "Origin", "https://evil.example"), 403, "forbidden"},
		{"cross-site app post", "POST", "/cart", "", append(sesametest.Bearer(tk.AccessToken), "Sec-Fetch-Site", "cross-site"), 403, "forbidden"},
		{"GET login", "GET", "/auth/login", "", nil, 405, "bad_request"},
		{"unknown endpoint", "GET", "/auth/nope", "", nil, 404, "not_found"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			before := e.hitCount("app")
			r := e.Do(nil, tc.method, tc.path, tc.body, tc.hdr...)
			if r.Status != tc.status {
				t.Fatalf("got status %d, want %d (%s)", r.Status, tc.status, r.Body)
			}
			if tc.code != "" {
				if got := r.ErrorCode(t); got != tc.code {
					t.Errorf("got code %q, want %q", got, tc.code)
				}
				if strings.Contains(r.Body, tk.AccessToken) || strings.Contains(r.Body, tk.RefreshToken) {
					t.Errorf("error body contains a token")
				}
				if tc.path == "/app" && e.hitCount("app") != before {
					t.Errorf("protected handler reached")
				}
			}
			if r.Status == 503 && r.Header.Get("Retry-After") == "" {
				t.Error("503 without Retry-After")
			}
		})
	}
	// The session survived every failed attempt above.
	if r := e.Do(nil, "GET", "/app", "", sesametest.Bearer(tk.AccessToken)...); r.Status != 200 {
		t.Fatalf("session damaged by failed requests: %d", r.Status)
	}
}

func TestSessionsListAndDelete(t *testing.T) {
	e := newEnv(t, newMemoryStore(t))
	a1, a2, b1 := e.LoginAs("alice"), e.LoginAs("alice"), e.LoginAs("bob")
	var list []struct {
		SID       string    `json:"sid"`
		Created   time.Time `json:"created"`
		LastUsed  time.Time `json:"last_used"`
		UserAgent string    `json:"user_agent"`
		IP        string    `json:"ip"`
		Current   bool      `json:"current"`
	}
	e.Do(nil, "GET", "/auth/sessions", "", sesametest.Bearer(a1.AccessToken)...).JSON(t, &list)
	if len(list) != 2 || list[0].IP != "127.0.0.1" || list[0].UserAgent == "" || list[0].Created.IsZero() {
		t.Fatalf("sessions: %+v", list)
	}
	var other string
	for _, s := range list {
		if !s.Current {
			other = s.SID
		}
	}
	// Bob cannot end Alice's session.
	if r := e.Do(nil, "DELETE", "/auth/sessions/"+url.PathEscape(other), "", sesametest.Bearer(b1.AccessToken)...); r.Status != 404 {
		t.Fatalf("bob deleting alice's session: %d", r.Status)
	}
	if r := e.Do(nil, "GET", "/app", "", sesametest.Bearer(a2.AccessToken)...); r.Status != 200 {
		t.Fatalf("alice's second session was hurt: %d", r.Status)
	}
	if r := e.Do(nil, "DELETE", "/auth/sessions/"+url.PathEscape(other), "", sesametest.Bearer(a1.AccessToken)...); r.Status != 204 {
		t.Fatalf("delete own session: %d %s", r.Status, r.Body)
	}
	waitFor(t, 2*time.Second, func() bool { return e.Do(nil, "GET", "/app", "", sesametest.Bearer(a2.AccessToken)...).Status == 401 })
	if r := e.Do(nil, "GET", "/app", "", sesametest.Bearer(a1.AccessToken)...); r.Status != 200 {
		t.Fatalf("current session ended too: %d", r.Status)
	}
	// logout-all ends every session of alice, not bob's.
	if r := e.Do(nil, "POST", "/auth/logout-all", "", sesametest.Bearer(a1.AccessToken)...); r.Status != 204 {
		t.Fatalf("logout-all: %d", r.Status)
	}
	waitFor(t, 2*time.Second, func() bool { return e.Do(nil, "GET", "/app", "", sesametest.Bearer(a1.AccessToken)...).Status == 401 })
	if r, _ := e.Refresh(a1.RefreshToken); r.Status != 401 {
		t.Fatalf("refresh after logout-all: %d", r.Status)
	}
	if r := e.Do(nil, "GET", "/app", "", sesametest.Bearer(b1.AccessToken)...); r.Status != 200 {
		t.Fatalf("bob logged out by alice: %d", r.Status)
	}
}

func TestRefreshReuseIsTheft(t *testing.T) {
	for _, endsAll := range []bool{false, true} {
		// The store's clock is injected so the grace window (10s) can pass.
		var skew atomic.Int64
		store, err := revocation.NewMemory(&revocation.MemoryOptions{Now: func() time.Time {
			return time.Now().Add(time.Duration(skew.Load()))
		}})
		if err != nil {
			t.Fatal(err)
		}
		e := newEnv(t, store, func(c *auth.Config[Profile]) {
			c.TheftEndsAllSessions = endsAll
		})
		other := e.LoginAs("alice")
		tk := e.LoginAs("alice")
		_, tk2 := e.Refresh(tk.RefreshToken)
		_, tk3 := e.Refresh(tk2.RefreshToken)
		// tk.RefreshToken is two generations old: within the grace window it
		// still replays (a second tab); after it, it is theft.
		if r, _ := e.Refresh(tk.RefreshToken); r.Status != 200 {
			t.Fatalf("replay within grace: %d %s", r.Status, r.Body)
		}
		skew.Store(int64(11 * time.Second))
		r, _ := e.Refresh(tk.RefreshToken)
		if r.Status != 401 || r.ErrorCode(t) != "refresh_token_reused" {
			t.Fatalf("reuse: %d %s", r.Status, r.Body)
		}
		if !slices.Contains(e.eventKinds(), auth.EventRefreshReused) {
			t.Error("no theft event")
		}
		if r, _ := e.Refresh(tk3.RefreshToken); r.Status != 401 {
			t.Fatalf("family survived theft: %d", r.Status)
		}
		waitFor(t, 2*time.Second, func() bool { return e.Do(nil, "GET", "/app", "", sesametest.Bearer(tk3.AccessToken)...).Status == 401 })
		otherStatus := e.Do(nil, "GET", "/app", "", sesametest.Bearer(other.AccessToken)...).Status
		if !endsAll && otherStatus != 200 {
			t.Errorf("theft of one session ended another session: %d", otherStatus)
		}
		if endsAll {
			waitFor(t, 2*time.Second, func() bool {
				return e.Do(nil, "GET", "/app", "", sesametest.Bearer(other.AccessToken)...).Status == 401
			})
		}
	}
}

func TestRefreshRaceSamePair(t *testing.T) {
	e := newEnv(t, newMemoryStore(t))
	tk := e.LoginAs("alice")
	const n = 8
	got := make(chan string, n)
	start := make(chan struct{})
	for range n {
		go func() {
			<-start
			r := e.Do(nil, "POST", "/auth/refresh", `{"refresh_token":"`+tk.RefreshToken+`"}`, "X-Session-Transport", "header")
			var t2 sesametest.Tokens
			if r.Status == 200 {
				r.JSON(t, &t2)
			}
			got <- t2.RefreshToken
		}()
	}
	close(start)
	first := <-got
	for range n - 1 {
		if rt := <-got; rt != first || rt == "" {
			t.Fatalf("racing refreshes got different successors")
		}
	}
	if first == "" {
		t.Fatal("refresh failed")
	}
}

func TestLoginThrottle(t *testing.T) {
	e := newEnv(t, newMemoryStore(t), func(c *auth.Config[Profile]) {
		c.Limits = auth.Limits{LoginsPerAddress: 100, FailuresPerUser: 3, Window: time.Hour}
	})
	for i := range 3 {
		if r := e.Do(nil, "POST", "/auth/login", `{"username":"alice","password":"bad"}`); r.Status != 401 {
			t.Fatalf("attempt %d: %d", i, r.Status)
		}
	}
	r := e.Do(nil, "POST", "/auth/login", `{"username":"alice","password":"alice-pw"}`)
	if r.Status != 429 || r.ErrorCode(t) != "rate_limited" || r.Header.Get("Retry-After") == "" {
		t.Fatalf("throttled login: %d %s %q", r.Status, r.Body, r.Header.Get("Retry-After"))
	}
	// Another user from the same IP is not affected by alice's failures.
	if r := e.Do(nil, "POST", "/auth/login", `{"username":"bob","password":"bob-pw"}`); r.Status != 200 {
		t.Fatalf("bob: %d", r.Status)
	}
	ip := newEnv(t, newMemoryStore(t), func(c *auth.Config[Profile]) {
		c.Limits = auth.Limits{LoginsPerAddress: 2, FailuresPerUser: 100, Window: time.Hour}
	})
	ip.Do(nil, "POST", "/auth/login", `{"username":"bob","password":"bob-pw"}`)
	ip.Do(nil, "POST", "/auth/login", `{"username":"bob","password":"bob-pw"}`)
	if r := ip.Do(nil, "POST", "/auth/login", `{"username":"alice","password":"alice-pw"}`); r.Status != http.StatusTooManyRequests {
		t.Fatalf("per-IP limit: %d", r.Status)
	}
}

func TestSessionCap(t *testing.T) {
	for _, refuse := range []bool{false, true} {
		e := newEnv(t, newMemoryStore(t), func(c *auth.Config[Profile]) {
			c.MaxSessionsPerUser = 2
			c.RefuseAtSessionLimit = refuse
		})
		first := e.LoginAs("alice")
		second := e.LoginAs("alice")
		r := e.Do(nil, "POST", "/auth/login", `{"username":"alice","password":"alice-pw"}`, "X-Session-Transport", "header")
		switch refuse {
		case true:
			if r.Status != 403 || r.ErrorCode(t) != "session_limit" {
				t.Fatalf("refuse: %d %s", r.Status, r.Body)
			}
		case false:
			if r.Status != 200 {
				t.Fatalf("evict: %d %s", r.Status, r.Body)
			}
			var third sesametest.Tokens
			r.JSON(t, &third)
			// The oldest session was ended (two logins in the same
			// millisecond tie, so either of the first two qualifies).
			waitFor(t, 2*time.Second, func() bool {
				return e.Do(nil, "GET", "/app", "", sesametest.Bearer(first.AccessToken)...).Status == 401 ||
					e.Do(nil, "GET", "/app", "", sesametest.Bearer(second.AccessToken)...).Status == 401
			})
			var list []struct{ SID string }
			e.Do(nil, "GET", "/auth/sessions", "", sesametest.Bearer(third.AccessToken)...).JSON(t, &list)
			if len(list) != 2 {
				t.Fatalf("after eviction alice has %d sessions, want 2", len(list))
			}
		}
	}
}

func TestNoSessionFixation(t *testing.T) {
	e := newEnv(t, newMemoryStore(t))
	planted := e.LoginAs("bob")
	// A victim logs in with the attacker's cookie planted in the browser.
	r := e.Do(nil, "POST", "/auth/login", `{"username":"alice","password":"alice-pw"}`, "Cookie", "__Host-sesame="+planted.AccessToken)
	var body struct {
		SID string `json:"sid"`
		Sub string `json:"sub"`
	}
	r.JSON(t, &body)
	var bobs struct {
		SID string `json:"sid"`
	}
	e.Do(nil, "GET", "/auth/session", "", sesametest.Bearer(planted.AccessToken)...).JSON(t, &bobs)
	if body.SID == "" || body.SID == bobs.SID || body.Sub != "uid-alice" {
		t.Fatalf("login reused a planted session: %+v vs %s", body, bobs.SID)
	}
}

func TestOptional(t *testing.T) {
	e := newEnv(t, newMemoryStore(t))
	tk := e.LoginAs("alice")
	if r := e.Do(nil, "GET", "/maybe", ""); r.Status != 200 || r.Body != "anonymous" {
		t.Fatalf("anonymous: %d %q", r.Status, r.Body)
	}
	if r := e.Do(nil, "GET", "/maybe", "", sesametest.Bearer(tk.AccessToken)...); r.Status != 200 || r.Body != "hello Alice" {
		t.Fatalf("with session: %d %q", r.Status, r.Body)
	}
	if r := e.Do(nil, "GET", "/maybe", "", sesametest.Bearer("x.y.z")...); r.Status != 200 || r.Body != "anonymous" {
		t.Fatalf("bad token: %d %q", r.Status, r.Body)
	}
}

// TestLoginRightAfterLogoutAll: "log out everywhere" followed at once by a
// new login (same second) must leave the new session working, while every
// earlier session, including one made in that same second, is refused.
func TestLoginRightAfterLogoutAll(t *testing.T) {
	backends(t, func(t *testing.T, newStore func(*testing.T) revocation.Store) {
		e := newEnv(t, newStore(t))
		for range 5 { // several tries make hitting the same second near certain
			old := e.LoginAs("alice")
			if r := e.Do(nil, "POST", "/auth/logout-all", "", sesametest.Bearer(old.AccessToken)...); r.Status != 204 {
				t.Fatalf("logout-all: %d", r.Status)
			}
			fresh := e.LoginAs("alice")
			waitFor(t, 2*time.Second, func() bool { return e.Do(nil, "GET", "/app", "", sesametest.Bearer(old.AccessToken)...).Status == 401 })
			if r := e.Do(nil, "POST", "/pay", "", sesametest.Bearer(fresh.AccessToken)...); r.Status != 200 {
				t.Fatalf("session made right after logout-all refused by the strict check: %d %s", r.Status, r.Body)
			}
			if r := e.Do(nil, "GET", "/app", "", sesametest.Bearer(fresh.AccessToken)...); r.Status != 200 {
				t.Fatalf("session made right after logout-all refused: %d %s", r.Status, r.Body)
			}
			if r := e.Do(nil, "POST", "/pay", "", sesametest.Bearer(old.AccessToken)...); r.Status != 401 {
				t.Fatalf("old session accepted by the strict check: %d", r.Status)
			}
		}
	})
}

// TestLogoutWithExpiredAccessToken: a browser whose access token expired
// still logs out for real: the refresh cookie ends the family, so the
// refresh token is dead afterwards. A forged refresh cookie ends nothing.
func TestLogoutWithExpiredAccessToken(t *testing.T) {
	clk := testclock.New(time.Now())
	e := newEnv(t, newMemoryStore(t), func(c *auth.Config[Profile]) { c.Now = clk.Now })
	b := e.browser()
	if r := e.Do(b, "POST", "/auth/login", `{"username":"bob","password":"bob-pw","remember":true}`); r.Status != 200 {
		t.Fatalf("login: %d", r.Status)
	}
	clk.Advance(20 * time.Minute) // access token expired; refresh token still good
	refresh := sesametest.Cookie(b, e.srv.URL+"/auth/", refreshCookieName)
	if refresh == "" {
		t.Fatal("no refresh cookie in the jar")
	}

	// Forged: a garbled refresh cookie, expired access cookie: 401, nothing ended.
	forged := e.Do(nil, "POST", "/auth/logout", "", "Cookie", refreshCookieName+"="+refresh[:len(refresh)-3]+"AAA")
	if forged.Status != 401 {
		t.Fatalf("forged logout: %d", forged.Status)
	}
	if r := e.Do(b, "POST", "/auth/logout", ""); r.Status != 204 {
		t.Fatalf("logout with expired access token: %d %s", r.Status, r.Body)
	}
	if r, _ := e.Refresh(refresh); r.Status != 401 {
		t.Fatalf("refresh token survived logout: %d", r.Status)
	}
}

// TestRevocationCountsAtOnceOnSameNode: the node that ends a session
// refuses its tokens in the very next request, without waiting for its
// replica to hear back from the store.
func TestRevocationCountsAtOnceOnSameNode(t *testing.T) {
	backends(t, func(t *testing.T, newStore func(*testing.T) revocation.Store) {
		e := newEnv(t, newStore(t))
		for i := range 10 {
			tk := e.LoginAs("alice")
			if r := e.Do(nil, "GET", "/app", "", sesametest.Bearer(tk.AccessToken)...); r.Status != 200 {
				t.Fatalf("before logout: %d", r.Status)
			}
			path := "/auth/logout"
			if i%2 == 1 {
				path = "/auth/logout-all"
			}
			if r := e.Do(nil, "POST", path, "", sesametest.Bearer(tk.AccessToken)...); r.Status != 204 {
				t.Fatalf("%s: %d", path, r.Status)
			}
			if r := e.Do(nil, "GET", "/app", "", sesametest.Bearer(tk.AccessToken)...); r.Status != 401 || r.ErrorCode(t) != "revoked" {
				t.Fatalf("replay right after %s: %d %s", path, r.Status, r.Body)
			}
		}
	})
}

func TestRefreshFailuresThrottled(t *testing.T) {
	e := newEnv(t, newMemoryStore(t), func(c *auth.Config[Profile]) {
		c.Limits = auth.Limits{RefreshFailuresPerAddress: 3, Window: time.Hour}
	})
	tk := e.LoginAs("alice")
	for i := range 3 {
		if r, _ := e.Refresh("garbage." + strings.Repeat("x", i)); r.Status != 401 {
			t.Fatalf("failure %d: %d", i, r.Status)
		}
	}
	r, _ := e.Refresh("garbage.again")
	if r.Status != 429 || r.ErrorCode(t) != "rate_limited" || r.Header.Get("Retry-After") == "" {
		t.Fatalf("after 3 failures: %d %s", r.Status, r.Body)
	}
	// Only failures cost: the address is over its budget, and a genuine
	// refresh token from it still rotates.
	if r, _ := e.Refresh(tk.RefreshToken); r.Status != 200 {
		t.Fatalf("valid refresh from a throttled address: %d %s", r.Status, r.Body)
	}
	if r := e.Do(nil, "GET", "/app", "", sesametest.Bearer(tk.AccessToken)...); r.Status != 200 {
		t.Fatalf("session hurt by the throttle: %d", r.Status)
	}
}
