package attack_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/sesame-go/sesame/auth"
	"github.com/sesame-go/sesame/internal/sesametest"
)

// TestHTTPTransport: Authorization variants, tokens in the query or a form,
// header-vs-cookie precedence and duplicate or tossed cookies.
func TestHTTPTransport(t *testing.T) {
	t.Parallel()
	backends(t, func(t *testing.T, o options) {
		e := newEnv(t, o)
		at := e.victim.AccessToken
		bob := e.LoginAs("bob")
		for _, tc := range []struct {
			name, method, path, body string
			hdr                      []string
			status                   int
			want                     string // error code, or the 200 body
		}{
			{"authz/upper-scheme-ok", "GET", "/app", "", []string{"Authorization", "BEARER " + at}, 200, "hello uid-alice"},
			{"authz/tab", "GET", "/app", "", []string{"Authorization", "Bearer\t" + at}, 401, "malformed"},
			{"authz/two-spaces", "GET", "/app", "", []string{"Authorization", "Bearer  " + at}, 401, "malformed"},
			{"authz/two-tokens", "GET", "/app", "", []string{"Authorization", "Bearer " + at + " " + bob.AccessToken}, 401, "malformed"},
			{"authz/comma-list", "GET", "/app", "", []string{"Authorization", "Bearer " + at + ", Bearer " + bob.AccessToken}, 401, "malformed"},
			{"authz/two-headers", "GET", "/app", "", []string{"Authorization", "Bearer " + at, "Authorization", "Bearer " + bob.AccessToken}, 401, "malformed"},
			{"authz/empty-bearer", "GET", "/app", "", []string{"Authorization", "Bearer"}, 401, "malformed"},
			{"authz/basic", "GET", "/app", "", []string{"Authorization", "Basic YWxpY2U6YWxpY2UtcHc="}, 401, "malformed"},
			{"authz/token-scheme", "GET", "/app", "", []string{"Authorization", "Token " + at}, 401, "malformed"},
			{"authz/quoted", "GET", "/app", "", []string{"Authorization", `Bearer "` + at + `"`}, 401, "malformed"},
			{"query/access_token", "GET", "/app?access_token=" + at, "", nil, 401, "unauthenticated"},
			{"form/access_token", "POST", "/app", "access_token=" + at, []string{"Content-Type", "application/x-www-form-urlencoded"}, 401, "unauthenticated"},
			{"precedence/bad-bearer-beats-good-cookie", "GET", "/app", "", []string{"Authorization", "Bearer x.y.z", "Cookie", "__Host-sesame=" + at}, 401, "malformed"},
			{"precedence/bearer-identity-wins", "GET", "/app", "", []string{"Authorization", "Bearer " + at, "Cookie", "__Host-sesame=" + bob.AccessToken}, 200, "hello uid-alice"},
			{"precedence/header-mode-ignores-cookie", "GET", "/app", "", []string{"X-Session-Transport", "header", "Cookie", "__Host-sesame=" + at}, 401, "unauthenticated"},
			{"cookie/duplicate", "GET", "/app", "", []string{"Cookie", "__Host-sesame=" + at + "; __Host-sesame=" + at}, 401, "malformed"},
			{"cookie/tossed-second-identity", "GET", "/app", "", []string{"Cookie", "__Host-sesame=" + bob.AccessToken + "; __Host-sesame=" + at}, 401, "malformed"},
			{"cookie/two-cookie-headers", "GET", "/app", "", []string{"Cookie", "__Host-sesame=" + at, "Cookie", "__Host-sesame=" + bob.AccessToken}, 401, "malformed"},
			{"cookie/case-variant-name", "GET", "/app", "", []string{"Cookie", "__host-sesame=" + at}, 401, "unauthenticated"},
			{"cookie/unprefixed-name", "GET", "/app", "", []string{"Cookie", "sesame=" + at}, 401, "unauthenticated"},
			{"cookie/empty", "GET", "/app", "", []string{"Cookie", "__Host-sesame="}, 401, "unauthenticated"},
			{"cookie/refresh-duplicate", "POST", "/auth/refresh", "", []string{"Cookie", "__Host-sesame-refresh=" + e.victim.RefreshToken + "; __Host-sesame-refresh=" + bob.RefreshToken}, 401, "malformed"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				hits := e.totalHits()
				r := e.Do(nil, tc.method, tc.path, tc.body, tc.hdr...)
				if r.Status != tc.status {
					t.Fatalf("got %d %s, want %d", r.Status, r.Body, tc.status)
				}
				if tc.status == 200 {
					if r.Body != tc.want {
						t.Fatalf("body %q, want %q", r.Body, tc.want)
					}
				} else {
					if r.Code() != tc.want {
						t.Fatalf("code %q, want %q", r.Code(), tc.want)
					}
					if e.totalHits() != hits {
						t.Fatal("handler reached")
					}
				}
				e.intact(t)
			})
		}
	})
}

// TestRoutingBypass: odd spellings of the auth and protected paths and
// other methods never reach a handler without a session and never log the
// victim out, even with the victim's own token cross-site.
func TestRoutingBypass(t *testing.T) {
	t.Parallel()
	e := newEnv(t, options{})
	evil := []string{"Origin", "https://evil.example", "Sec-Fetch-Site", "cross-site"}
	for _, p := range []struct{ method, path string }{
		{"POST", "//auth/logout"}, {"POST", "/auth//logout"}, {"POST", "/auth/logout/"}, {"POST", "/auth%2Flogout"},
		{"POST", "/auth/%6cogout"}, {"POST", "/auth/logout;x=1"}, {"POST", "/AUTH/LOGOUT"}, {"POST", "/auth/./logout"},
		{"GET", "/auth/logout"}, {"HEAD", "/auth/logout"}, {"OPTIONS", "/auth/logout"}, {"PUT", "/auth/logout"},
		{"GET", "/auth/logout-all"}, {"HEAD", "/auth/logout-all"}, {"GET", "/auth/refresh"},
	} {
		t.Run(p.method+p.path, func(t *testing.T) {
			r := e.Do(nil, p.method, p.path, "", append(sesametest.Bearer(e.victim.AccessToken), evil...)...)
			if r.Status < 400 {
				t.Fatalf("got %d", r.Status)
			}
			e.intact(t)
		})
	}
	for _, p := range []struct{ method, path string }{
		{"GET", "//app"}, {"GET", "/app/"}, {"GET", "/%61pp"}, {"GET", "/app;x"}, {"GET", "/APP"}, {"HEAD", "/app"},
		{"OPTIONS", "/app"}, {"POST", "/app"}, {"GET", "/./app"}, {"POST", "//pay"}, {"POST", "/pay/"}, {"GET", "/pay"},
	} {
		t.Run("anon"+p.method+p.path, func(t *testing.T) {
			hits := e.totalHits()
			r := e.Do(nil, p.method, p.path, "")
			if r.Status < 400 || e.totalHits() != hits {
				t.Fatalf("got %d, handler hits +%d", r.Status, e.totalHits()-hits)
			}
		})
	}
}

// TestIdenticalErrorBodies: failures with the same reason are answered with
// the same bytes and header set, whatever made them fail.
func TestIdenticalErrorBodies(t *testing.T) {
	t.Parallel()
	e := newEnv(t, options{})
	groups := map[string][]func() sesametest.Response{
		"bad_signature": {
			func() sesametest.Response {
				return e.Do(nil, "GET", "/app", "", sesametest.Bearer(hmacSign(sha256New(), "HS256", []byte("secret"), e))...)
			},
			func() sesametest.Response {
				return e.Do(nil, "GET", "/app", "", sesametest.Bearer(unsigned(e, canonical(e.signer().ID()), make([]byte, 64)))...)
			},
			func() sesametest.Response {
				return e.Do(nil, "GET", "/app", "", sesametest.Bearer(e.victim.AccessToken[:strings.LastIndexByte(e.victim.AccessToken, '.')+1])...)
			},
		},
		"malformed": {
			func() sesametest.Response { return e.Do(nil, "GET", "/app", "", sesametest.Bearer("a.b")...) },
			func() sesametest.Response { return e.Do(nil, "GET", "/app", "", "Authorization", "Basic x") },
			func() sesametest.Response {
				return e.Do(nil, "GET", "/app", "", sesametest.Bearer(signedHeader(e, `{"alg":"EdDSA","jku":"x"}`))...)
			},
		},
		"invalid_refresh_token": {
			func() sesametest.Response { r, _ := e.Refresh("x"); return r },
			func() sesametest.Response {
				r, _ := e.Refresh(e.victim.RefreshToken[:25] + strings.Repeat("A", 43))
				return r
			},
			func() sesametest.Response { r, _ := e.Refresh(e.victim.AccessToken); return r },
		},
		"invalid_credentials": {
			func() sesametest.Response {
				return e.Do(nil, "POST", "/auth/login", `{"username":"alice","password":"nope"}`)
			},
			func() sesametest.Response {
				return e.Do(nil, "POST", "/auth/login", `{"username":"nobody","password":"nope"}`)
			},
		},
	}
	for code, fs := range groups {
		first := fs[0]()
		for i, f := range fs {
			r := f()
			if r.Status != first.Status || r.Body != first.Body || r.Code() != code {
				t.Fatalf("%s #%d: %d %q, want %d %q", code, i, r.Status, r.Body, first.Status, first.Body)
			}
			if got, want := headerNames(r.Header), headerNames(first.Header); got != want {
				t.Fatalf("%s #%d: headers %s, want %s", code, i, got, want)
			}
		}
	}
	e.intact(t)
}

func headerNames(h http.Header) string {
	var b strings.Builder
	for _, k := range []string{"Content-Type", "Cache-Control", "Www-Authenticate", "Retry-After", "Set-Cookie", "X-Content-Type-Options"} {
		b.WriteString(k + "=" + strings.Join(h.Values(k), ",") + ";")
	}
	return b.String()
}

// TestNoStoreAndNoCORS: every response carrying tokens or session data is
// no-store, and no response echoes a foreign Origin with credentials.
func TestNoStoreAndNoCORS(t *testing.T) {
	t.Parallel()
	e := newEnv(t, options{})
	origin := []string{"Origin", "https://evil.example"}
	check := func(name string, r sesametest.Response) {
		t.Helper()
		if r.Header.Get("Cache-Control") != "no-store" {
			t.Errorf("%s: Cache-Control %q", name, r.Header.Get("Cache-Control"))
		}
		if a := r.Header.Get("Access-Control-Allow-Origin"); a != "" {
			t.Errorf("%s: Access-Control-Allow-Origin %q", name, a)
		}
		if r.Header.Get("Access-Control-Allow-Credentials") != "" {
			t.Errorf("%s: Access-Control-Allow-Credentials set", name)
		}
	}
	check("login-header", e.Do(nil, "POST", "/auth/login", `{"username":"bob","password":"bob-pw"}`, "X-Session-Transport", "header"))
	check("login-cookie", e.Do(nil, "POST", "/auth/login", `{"username":"bob","password":"bob-pw"}`))
	tk := e.LoginAs("bob")
	r, _ := e.Refresh(tk.RefreshToken)
	check("refresh", r)
	check("session", e.Do(nil, "GET", "/auth/session", "", append(sesametest.Bearer(tk.AccessToken), origin...)...))
	check("sessions", e.Do(nil, "GET", "/auth/sessions", "", append(sesametest.Bearer(tk.AccessToken), origin...)...))
	check("error", e.Do(nil, "GET", "/auth/session", "", origin...))
	check("preflight", e.Do(nil, "OPTIONS", "/auth/login", "", append(origin, "Access-Control-Request-Method", "POST", "Access-Control-Request-Headers", "content-type")...))
	// A cross-origin credentialed login is refused outright, not answered.
	if r := e.Do(nil, "POST", "/auth/login", `{"username":"bob","password":"bob-pw"}`, origin...); r.Status != 403 || len(r.Header.Values("Set-Cookie")) != 0 {
		t.Fatalf("cross-origin login: %d, cookies %v", r.Status, r.Header.Values("Set-Cookie"))
	}
}

// TestGETNeverChangesState: every GET (and HEAD) on the auth routes, with a
// valid access token and refresh cookie, leaves the session as it was.
func TestGETNeverChangesState(t *testing.T) {
	t.Parallel()
	e := newEnv(t, options{})
	for _, p := range []string{"/auth/session", "/auth/sessions", "/auth/logout", "/auth/logout-all", "/auth/refresh", "/auth/login", "/auth/sessions/" + claimsMap(t, e.victim.AccessToken)["sid"].(string)} {
		for _, m := range []string{"GET", "HEAD"} {
			e.Do(nil, m, p, "", append(sesametest.Bearer(e.victim.AccessToken), "Cookie", "__Host-sesame-refresh="+e.victim.RefreshToken)...)
			e.intact(t)
		}
	}
	if n := e.eventCount(auth.EventLogout) + e.eventCount(auth.EventLogoutAll) + e.eventCount(auth.EventSessionEnded); n != 0 {
		t.Fatalf("%d state-changing events from GETs", n)
	}
}

// TestLogin: fixation, unknown user vs wrong password, throttling, CSRF.
func TestLogin(t *testing.T) {
	t.Parallel()
	e := newEnv(t, options{cfg: func(c *auth.Config[Profile]) {
		c.Limits = auth.Limits{LoginsPerAddress: 8, FailuresPerUser: 3, Window: time.Minute}
	}})
	t.Run("fixation-planted-cookies", func(t *testing.T) {
		planted := e.LoginAs("mallory")
		c := sesametest.Browser(e.srv.Client()) // a jar of its own: the server's client is shared
		r := e.Do(c, "POST", "/auth/login", `{"username":"bob","password":"bob-pw"}`,
			"Cookie", "__Host-sesame="+planted.AccessToken+"; __Host-sesame-refresh="+planted.RefreshToken)
		if r.Status != 200 {
			t.Fatalf("login: %d %s", r.Status, r.Body)
		}
		plantedSID := claimsMap(t, planted.AccessToken)["sid"].(string)
		if strings.Contains(r.Body, plantedSID) || !strings.Contains(r.Body, `"sub":"uid-bob"`) {
			t.Fatalf("login kept the planted session: %s", r.Body)
		}
		var access, refresh string
		for _, ck := range r.Header.Values("Set-Cookie") {
			switch {
			case strings.HasPrefix(ck, "__Host-sesame="):
				access = strings.SplitN(strings.TrimPrefix(ck, "__Host-sesame="), ";", 2)[0]
			case strings.HasPrefix(ck, "__Host-sesame-refresh="):
				refresh = strings.SplitN(strings.TrimPrefix(ck, "__Host-sesame-refresh="), ";", 2)[0]
			}
		}
		if access == "" || access == planted.AccessToken || refresh == "" || refresh == planted.RefreshToken {
			t.Fatal("login did not replace both planted cookies")
		}
		// The planted session is still mallory's, not upgraded to bob.
		if r := e.Do(nil, "GET", "/app", "", sesametest.Bearer(planted.AccessToken)...); r.Body != "hello uid-mallory" {
			t.Fatalf("planted token now: %s", r.Body)
		}
	})
	t.Run("unknown-user-same-answer-same-work", func(t *testing.T) {
		c0, h0 := e.authn.calls.Load(), e.authn.hashes.Load()
		wrong := e.Do(nil, "POST", "/auth/login", `{"username":"alice","password":"nope"}`)
		c1, h1 := e.authn.calls.Load(), e.authn.hashes.Load()
		unknown := e.Do(nil, "POST", "/auth/login", `{"username":"zed","password":"nope"}`)
		c2, h2 := e.authn.calls.Load(), e.authn.hashes.Load()
		if wrong.Status != 401 || wrong.Body != unknown.Body || headerNames(wrong.Header) != headerNames(unknown.Header) {
			t.Fatalf("answers differ: %d %q vs %d %q", wrong.Status, wrong.Body, unknown.Status, unknown.Body)
		}
		if c1-c0 != 1 || c2-c1 != 1 || h1-h0 != h2-h1 {
			t.Fatalf("work differs: calls %d/%d, hashes %d/%d", c1-c0, c2-c1, h1-h0, h2-h1)
		}
	})
	t.Run("throttling", func(t *testing.T) {
		for range 2 { // alice already has one failure above: 3 total
			e.Do(nil, "POST", "/auth/login", `{"username":"alice","password":"guess"}`)
		}
		calls := e.authn.calls.Load()
		r := e.Do(nil, "POST", "/auth/login", `{"username":"alice","password":"alice-pw"}`)
		if r.Status != 429 || r.Code() != "rate_limited" || r.Header.Get("Retry-After") == "" {
			t.Fatalf("4th attempt: %d %s", r.Status, r.Body)
		}
		if e.authn.calls.Load() != calls {
			t.Fatal("a throttled attempt reached the authenticator")
		}
		// Case variants of the name share the budget.
		if r := e.Do(nil, "POST", "/auth/login", `{"username":"ALICE","password":"x"}`); r.Status != 429 {
			t.Fatalf("case variant: %d", r.Status)
		}
		// The per-IP budget (8) ends the spraying across user names too.
		var last sesametest.Response
		for i := range 6 {
			last = e.Do(nil, "POST", "/auth/login", `{"username":"user`+string(rune('a'+i))+`","password":"x"}`)
		}
		if last.Status != 429 {
			t.Fatalf("per-IP limit not reached: %d", last.Status)
		}
		e.intact(t)
	})
	t.Run("login-csrf", func(t *testing.T) {
		e2 := newEnv(t, options{})
		calls := e2.authn.calls.Load()
		for _, h := range [][]string{
			{"Origin", "https://evil.example"},
			{"Sec-Fetch-Site", "cross-site"},
			{"Origin", "null"},
		} {
			r := e2.Do(nil, "POST", "/auth/login", `{"username":"mallory","password":"mallory-pw"}`, h...)
			if r.Status != 403 || r.Code() != "forbidden" || len(r.Header.Values("Set-Cookie")) != 0 {
				t.Fatalf("%v: %d %s", h, r.Status, r.Body)
			}
		}
		if e2.authn.calls.Load() != calls {
			t.Fatal("cross-site login reached the authenticator")
		}
		if r := e2.Do(nil, "POST", "/auth/login", `{"username":"mallory","password":"mallory-pw"}`, "Origin", e2.srv.URL, "Sec-Fetch-Site", "same-origin"); r.Status != 200 {
			t.Fatalf("same-origin login: %d", r.Status)
		}
	})
}
