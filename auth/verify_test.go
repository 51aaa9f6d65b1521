package auth_test

import (
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/netip"
	"strconv"
	"testing"
	"time"

	"github.com/sesame-go/sesame/auth"
	"github.com/sesame-go/sesame/internal/sesametest"
	"github.com/sesame-go/sesame/internal/testclock"
	"github.com/sesame-go/sesame/keys"
	"github.com/sesame-go/sesame/revocation"
)

// trustLoopback makes the test client (127.0.0.1) a trusted proxy.
func trustLoopback(c *auth.Config[Profile]) {
	c.Gateway.TrustedProxies = []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}
}

func TestForwardAuthIdentity(t *testing.T) {
	ks, err := keys.Init(time.Now())
	if err != nil {
		t.Fatal(err)
	}
	src := &mutableKeys{}
	src.p.Store(ks)
	clk := testclock.New(time.Now())
	e := newEnv(t, newMemoryStore(t), func(c *auth.Config[Profile]) { c.Keys, c.Now = src, clk.Now })
	tk := e.LoginAs("alice")

	for _, method := range []string{"GET", "HEAD", "POST", "PUT", "DELETE", "PATCH"} {
		r := e.Do(nil, method, "/auth/verify", "", sesametest.Bearer(tk.AccessToken)...)
		if r.Status != 200 {
			t.Fatalf("%s /auth/verify with a valid token: %d %s", method, r.Status, r.Body)
		}
		if r.Body != "" {
			t.Errorf("%s: body %q, want none", method, r.Body)
		}
		if got := r.Header.Get("X-Sesame-User"); got != "uid-alice" {
			t.Errorf("%s: X-Sesame-User %q, want uid-alice", method, got)
		}
		if r.Header.Get("X-Sesame-Session") == "" {
			t.Errorf("%s: no X-Sesame-Session", method)
		}
		var p Profile
		raw, err := base64.RawURLEncoding.DecodeString(r.Header.Get("X-Sesame-Data"))
		if err != nil || json.Unmarshal(raw, &p) != nil || p.Name != "Alice" {
			t.Errorf("%s: X-Sesame-Data %q does not decode to the session data (%v)", method, r.Header.Get("X-Sesame-Data"), err)
		}
		if r.Header.Get("X-Sesame-Data-Omitted") != "" {
			t.Errorf("%s: X-Sesame-Data-Omitted set for small data", method)
		}
	}

	// The session id and exp are the token's own.
	var sess struct {
		SID string `json:"sid"`
		Exp int64  `json:"exp"`
	}
	e.Do(nil, "GET", "/auth/session", "", sesametest.Bearer(tk.AccessToken)...).JSON(t, &sess)
	r := e.Do(nil, "GET", "/auth/verify", "", sesametest.Bearer(tk.AccessToken)...)
	if got := r.Header.Get("X-Sesame-Session"); got != sess.SID {
		t.Errorf("X-Sesame-Session %q, want %q", got, sess.SID)
	}
	if got := r.Header.Get("X-Sesame-Expires"); got != strconv.FormatInt(sess.Exp, 10) {
		t.Errorf("X-Sesame-Expires %q, want %d", got, sess.Exp)
	}

	// The cookie transport, as a browser behind the proxy sends it.
	b := e.browser()
	if r := e.Do(b, "POST", "/auth/login", `{"username":"bob","password":"bob-pw"}`); r.Status != 200 {
		t.Fatalf("cookie login: %d %s", r.Status, r.Body)
	}
	if r := e.Do(b, "GET", "/auth/verify", ""); r.Status != 200 || r.Header.Get("X-Sesame-User") != "uid-bob" {
		t.Fatalf("verify with the cookie: %d %q", r.Status, r.Header.Get("X-Sesame-User"))
	}

	refused := []struct {
		name   string
		header []string
		before func()
		after  func()
		code   string
	}{
		{name: "no credential", code: auth.CodeUnauthenticated},
		{name: "malformed bearer", header: []string{"Authorization", "Bearer not a token"}, code: "malformed"},
		{name: "forged token", header: sesametest.Bearer(tk.AccessToken[:len(tk.AccessToken)-4] + "AAAA"), code: "bad_signature"},
		{name: "expired", header: sesametest.Bearer(tk.AccessToken), code: "expired",
			before: func() { clk.Advance(10*time.Minute + 31*time.Second) }, after: func() { clk.Advance(-(10*time.Minute + 31*time.Second)) }},
		{name: "signed by a revoked key", header: sesametest.Bearer(tk.AccessToken), code: "key_revoked",
			before: func() {
				signer, _ := ks.Signer()
				revoked, err := ks.ForceRevoke(signer.ID(), time.Now())
				if err != nil {
					t.Fatal(err)
				}
				src.p.Store(revoked)
			}, after: func() { src.p.Store(ks) }},
	}
	for _, tc := range refused {
		t.Run(tc.name, func(t *testing.T) {
			if tc.before != nil {
				tc.before()
				defer tc.after()
			}
			r := e.Do(nil, "GET", "/auth/verify", "", tc.header...)
			if r.Status != 401 {
				t.Fatalf("got status %d, want 401 (%s)", r.Status, r.Body)
			}
			if got := r.ErrorCode(t); got != tc.code {
				t.Errorf("got code %q, want %q", got, tc.code)
			}
			if r.Header.Get("WWW-Authenticate") == "" {
				t.Error("401 without WWW-Authenticate")
			}
			if r.Header.Get("X-Sesame-User") != "" {
				t.Error("401 with X-Sesame-User")
			}
		})
	}

	t.Run("revoked", func(t *testing.T) {
		tk := e.LoginAs("alice")
		if r := e.Do(nil, "POST", "/auth/logout", "", sesametest.Bearer(tk.AccessToken)...); r.Status != 204 {
			t.Fatalf("logout: %d %s", r.Status, r.Body)
		}
		r := e.Do(nil, "GET", "/auth/verify", "", sesametest.Bearer(tk.AccessToken)...)
		if r.Status != 401 || r.ErrorCode(t) != auth.CodeRevoked {
			t.Fatalf("got %d %s, want 401 revoked", r.Status, r.Body)
		}
	})
}

func TestForwardAuthData(t *testing.T) {
	t.Run("over the size limit", func(t *testing.T) {
		e := newEnv(t, newMemoryStore(t), func(c *auth.Config[Profile]) { c.Gateway.MaxDataHeader = 10 })
		r := e.Do(nil, "GET", "/auth/verify", "", sesametest.Bearer(e.LoginAs("alice").AccessToken)...)
		if r.Status != 200 || r.Header.Get("X-Sesame-User") != "uid-alice" {
			t.Fatalf("got %d %q", r.Status, r.Header.Get("X-Sesame-User"))
		}
		if _, ok := r.Header["X-Sesame-Data"]; ok {
			t.Errorf("X-Sesame-Data sent over the limit: %q", r.Header.Get("X-Sesame-Data"))
		}
		if got := r.Header.Get("X-Sesame-Data-Omitted"); got != "1" {
			t.Errorf("X-Sesame-Data-Omitted %q, want 1", got)
		}
	})
	t.Run("never", func(t *testing.T) {
		e := newEnv(t, newMemoryStore(t), func(c *auth.Config[Profile]) { c.Gateway.MaxDataHeader = -1 })
		r := e.Do(nil, "GET", "/auth/verify", "", sesametest.Bearer(e.LoginAs("alice").AccessToken)...)
		if _, ok := r.Header["X-Sesame-Data"]; ok || r.Header.Get("X-Sesame-Data-Omitted") != "" || r.Status != 200 {
			t.Errorf("got %d, data %q, omitted %q; want 200 and neither", r.Status, r.Header.Get("X-Sesame-Data"), r.Header.Get("X-Sesame-Data-Omitted"))
		}
	})
	t.Run("header names", func(t *testing.T) {
		e := newEnv(t, newMemoryStore(t), func(c *auth.Config[Profile]) {
			c.Gateway.Headers = auth.IdentityHeaders{User: "remote-user", Data: "X-Auth-Data"}
		})
		r := e.Do(nil, "GET", "/auth/verify", "", sesametest.Bearer(e.LoginAs("alice").AccessToken)...)
		if r.Header.Get("Remote-User") != "uid-alice" || r.Header.Get("X-Auth-Data") == "" || r.Header.Get("X-Sesame-Session") == "" {
			t.Errorf("headers %v: want Remote-User, X-Auth-Data and the default X-Sesame-Session", r.Header)
		}
		if r.Header.Get("X-Sesame-User") != "" {
			t.Error("X-Sesame-User sent under a renamed header")
		}
	})
	t.Run("a bad header name is refused", func(t *testing.T) {
		cfg := auth.Config[Profile]{Gateway: auth.Gateway{Headers: auth.IdentityHeaders{User: "X User"}}}
		if _, err := auth.NewLocal[Profile](auth.AuthenticatorFunc[Profile](authenticate), &cfg); err == nil {
			t.Error("a header name with a space was accepted")
		}
	})
}

func TestForwardAuthCrossOrigin(t *testing.T) {
	trusted := newEnv(t, newMemoryStore(t), trustLoopback)
	untrusted := newEnv(t, newMemoryStore(t))
	for _, tc := range []struct {
		name   string
		e      *env
		method string
		header []string
		want   int
	}{
		{"POST cross-site", trusted, "GET", []string{"X-Original-Method", "POST", "Sec-Fetch-Site", "cross-site"}, 403},
		{"POST same-site but another origin", trusted, "GET", []string{"X-Original-Method", "POST", "Sec-Fetch-Site", "same-site"}, 403},
		{"POST same-origin", trusted, "GET", []string{"X-Original-Method", "POST", "Sec-Fetch-Site", "same-origin"}, 200},
		{"DELETE through Traefik, cross-site", trusted, "GET", []string{"X-Forwarded-Method", "DELETE", "Sec-Fetch-Site", "cross-site"}, 403},
		{"PUT, foreign Origin, no Sec-Fetch-Site", trusted, "GET", []string{"X-Forwarded-Method", "PUT", "Origin", "https://evil.example"}, 403},
		{"PUT, Origin of the forwarded host", trusted, "GET",
			[]string{"X-Forwarded-Method", "PUT", "X-Forwarded-Host", "app.example", "Origin", "https://app.example"}, 200},
		{"GET cross-site is a navigation", trusted, "GET", []string{"X-Original-Method", "GET", "Sec-Fetch-Site", "cross-site"}, 200},
		{"nginx subrequest carrying the original POST", trusted, "POST", []string{"Sec-Fetch-Site", "cross-site"}, 403},
		{"two X-Forwarded-Method", trusted, "GET", []string{"X-Forwarded-Method", "GET", "X-Forwarded-Method", "POST"}, 403},
		{"client's X-Forwarded-Method against nginx's X-Original-Method", trusted, "GET",
			[]string{"X-Forwarded-Method", "GET", "X-Original-Method", "POST"}, 403},
		{"client's X-Original-Method against Traefik's X-Forwarded-Method", trusted, "GET",
			[]string{"X-Original-Method", "GET", "X-Forwarded-Method", "POST", "Sec-Fetch-Site", "same-origin"}, 403},
		{"both, agreeing", trusted, "GET", []string{"X-Original-Method", "post", "X-Forwarded-Method", "POST", "Sec-Fetch-Site", "same-origin"}, 200},
		{"untrusted peer: X-Original-Method ignored", untrusted, "GET", []string{"X-Original-Method", "POST", "Sec-Fetch-Site", "cross-site"}, 200},
		{"untrusted peer: its own POST counts", untrusted, "POST", []string{"X-Original-Method", "GET", "Sec-Fetch-Site", "cross-site"}, 403},
		{"untrusted peer: X-Forwarded-Host ignored", untrusted, "POST",
			[]string{"X-Forwarded-Host", "evil.example", "Origin", "https://evil.example"}, 403},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tk := tc.e.LoginAs("alice")
			r := tc.e.Do(nil, tc.method, "/auth/verify", "", append(sesametest.Bearer(tk.AccessToken), tc.header...)...)
			if r.Status != tc.want {
				t.Fatalf("got status %d, want %d (%s)", r.Status, tc.want, r.Body)
			}
			if tc.want == 403 && r.ErrorCode(t) != auth.CodeForbidden {
				t.Errorf("got code %q, want forbidden", r.ErrorCode(t))
			}
		})
	}
}

func TestForwardAuthSignInRedirect(t *testing.T) {
	trusted := newEnv(t, newMemoryStore(t), trustLoopback)
	untrusted := newEnv(t, newMemoryStore(t))
	const want = "/auth/login?rd=%2Fapp%2Fpage%3Fx%3D1%26y%3D2"
	nav := []string{"X-Original-URI", "/app/page?x=1&y=2", "Sec-Fetch-Mode", "navigate", "Accept", "text/html"}
	for _, tc := range []struct {
		name     string
		e        *env
		path     string
		header   []string
		status   int
		location string
	}{
		{"navigation", trusted, "/auth/verify", nav, 401, want},
		{"navigation through Traefik", trusted, "/auth/verify",
			[]string{"X-Forwarded-Uri", "/app/page?x=1&y=2", "X-Forwarded-Method", "GET", "Sec-Fetch-Mode", "navigate"}, 401, want},
		{"old browser: Accept only", trusted, "/auth/verify", []string{"X-Original-URI", "/app/page?x=1&y=2", "Accept", "text/html,*/*"}, 401, want},
		{"redirect=1 answers 302", trusted, "/auth/verify?redirect=1", nav, 302, want},
		{"fetch from a script", trusted, "/auth/verify?redirect=1",
			[]string{"X-Original-URI", "/api/x", "Sec-Fetch-Mode", "cors", "Accept", "text/html"}, 401, ""},
		{"POST navigation (a form)", trusted, "/auth/verify",
			[]string{"X-Original-URI", "/app", "X-Original-Method", "POST", "Sec-Fetch-Mode", "navigate", "Sec-Fetch-Site", "same-origin"}, 401, ""},
		{"URI on another host", trusted, "/auth/verify", []string{"X-Original-URI", "//evil.example/", "Sec-Fetch-Mode", "navigate"}, 401, ""},
		{"absolute URI", trusted, "/auth/verify", []string{"X-Original-URI", "https://evil.example/", "Sec-Fetch-Mode", "navigate"}, 401, ""},
		{"untrusted peer", untrusted, "/auth/verify", nav, 401, ""},
		{"Envoy: original path after /verify/", trusted, "/auth/verify/app/page?x=1&y=2",
			[]string{"Sec-Fetch-Mode", "navigate", "X-Sesame-Redirect", "1"}, 302, want},
		{"Envoy, untrusted peer", untrusted, "/auth/verify/app/page?x=1&y=2",
			[]string{"Sec-Fetch-Mode", "navigate", "X-Sesame-Redirect", "1"}, 401, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := *tc.e.srv.Client()
			c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
			r := tc.e.Do(&c, "GET", tc.path, "", tc.header...)
			if r.Status != tc.status {
				t.Fatalf("got status %d, want %d (%s)", r.Status, tc.status, r.Body)
			}
			if got := r.Header.Get("Location"); got != tc.location {
				t.Errorf("got Location %q, want %q", got, tc.location)
			}
		})
	}
}

// unavailable is a denylist that cannot vouch for any token: a stale
// replica under fail-closed.
type unavailable struct{}

func (unavailable) Check(revocation.Subject) (bool, error) { return false, revocation.ErrUnavailable }

func TestForwardAuthUnavailable(t *testing.T) {
	up := newEnv(t, newMemoryStore(t))
	tk := up.LoginAs("alice")
	down := newEnv(t, newMemoryStore(t), func(c *auth.Config[Profile]) { c.Denylist = unavailable{} })
	r := down.Do(nil, "GET", "/auth/verify", "", sesametest.Bearer(tk.AccessToken)...)
	if r.Status != 503 || r.Header.Get("Retry-After") == "" || r.ErrorCode(t) != auth.CodeUnavailable {
		t.Fatalf("got %d, Retry-After %q, %s; want 503 unavailable with Retry-After", r.Status, r.Header.Get("Retry-After"), r.Body)
	}
}
