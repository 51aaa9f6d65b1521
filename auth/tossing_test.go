package auth_test

import (
	"context"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/sesame-go/sesame/auth"
	"github.com/sesame-go/sesame/internal/sesametest"
)

// site is a browser on two hosts of one site: app.example.com is the
// sesame server, evil.example.com a sibling the attacker controls that
// plants a refresh cookie for the whole site (cookie tossing). Both resolve
// to their test servers (whose certificate covers *.example.com), and the
// browser keeps cookies in a jar as a browser does.
//
// Go's cookiejar does not enforce the __Host- and __Secure- prefixes that
// browsers do, so the sibling plants only what a browser would take from
// it: a __Secure- cookie with Domain=example.com. A __Host- cookie cannot
// carry a Domain and a browser refuses one from a sibling (RFC 6265bis,
// "Cookie Name Prefixes").
type site struct {
	t      *testing.T
	e      *env
	client *http.Client
	plant  string // the Set-Cookie the sibling answers with
}

func newSite(t *testing.T, e *env) *site {
	s := &site{t: t, e: e}
	evil := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Add("Set-Cookie", s.plant)
		io.WriteString(w, "cute cats")
	}))
	evil.StartTLS()
	t.Cleanup(evil.Close)
	tr := e.srv.Client().Transport.(*http.Transport).Clone()
	tr.DialContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
		to := e.srv.Listener.Addr().String()
		if strings.HasPrefix(addr, "evil.example.com:") {
			to = evil.Listener.Addr().String()
		}
		var d net.Dialer
		return d.DialContext(ctx, network, to)
	}
	jar, _ := cookiejar.New(nil)
	s.client = &http.Client{Transport: tr, Jar: jar}
	return s
}

// do sends a request to https://host+path from the browser.
func (s *site) do(method, host, path, body string) sesametest.Response {
	s.t.Helper()
	return sesametest.Send(s.t, s.client, method, "https://"+host+path, body)
}

// visitSibling lets the attacker's sibling plant the refresh cookie
// (refresh token rt, path) for every host of example.com.
func (s *site) visitSibling(rt, path string) {
	s.t.Helper()
	s.plant = "__Secure-sesame-refresh=" + rt + "; Domain=example.com; Path=" + path + "; Secure; HttpOnly; SameSite=Strict"
	if r := s.do("GET", "evil.example.com", "/", ""); r.Status != 200 {
		s.t.Fatalf("sibling: %d", r.Status)
	}
}

const app = "app.example.com"

// TestRefreshCookieTossing (W11): a sibling subdomain plants a refresh
// cookie. With the defaults (no CookieDomain) the refresh cookie is
// __Host-: a lone planted cookie does not swap the victim into the
// attacker's session, and a planted duplicate neither locks the victim out
// nor replaces their session.
func TestRefreshCookieTossing(t *testing.T) {
	t.Run("lone-planted-cookie", func(t *testing.T) {
		e := newEnv(t, newMemoryStore(t))
		s := newSite(t, e)
		attacker := e.LoginAs("bob")
		s.visitSibling(attacker.RefreshToken, "/auth")
		// The victim has no session; the page refreshes, as a page that
		// finds itself signed out does.
		if r := s.do("POST", app, "/auth/refresh", ""); r.Status == 200 {
			t.Fatalf("the planted refresh cookie was accepted: %d %s", r.Status, r.Body)
		}
		if r := s.do("GET", app, "/app", ""); r.Status != 401 {
			t.Fatalf("victim is in the attacker's session: %d %q", r.Status, r.Body)
		}
	})
	t.Run("planted-duplicate", func(t *testing.T) {
		e := newEnv(t, newMemoryStore(t))
		s := newSite(t, e)
		attacker := e.LoginAs("bob")
		if r := s.do("POST", app, "/auth/login", `{"username":"alice","password":"alice-pw","remember":true}`); r.Status != 200 {
			t.Fatalf("victim login: %d %s", r.Status, r.Body)
		}
		s.visitSibling(attacker.RefreshToken, "/auth/refresh")
		if r := s.do("POST", app, "/auth/refresh", ""); r.Status != 200 {
			t.Fatalf("victim's refresh with a planted duplicate: %d %s", r.Status, r.Body)
		}
		if r := s.do("GET", app, "/app", ""); r.Status != 200 || r.Body != "hello Alice" {
			t.Fatalf("victim's session after refresh: %d %q", r.Status, r.Body)
		}
	})
}

// TestRefreshCookieTossingSharedDomain (W11): with Config.CookieDomain the
// refresh cookie is shared by every host of the domain, so it cannot be
// __Host- and a sibling can plant a second one. Two refresh cookies are
// refused and both are cleared, so the victim logs in again and refreshes
// as before instead of being locked out.
func TestRefreshCookieTossingSharedDomain(t *testing.T) {
	e := newEnv(t, newMemoryStore(t), func(c *auth.Config[Profile]) { c.CookieDomain = "example.com" })
	s := newSite(t, e)
	attacker := e.LoginAs("bob")
	login := func() {
		t.Helper()
		if r := s.do("POST", app, "/auth/login", `{"username":"alice","password":"alice-pw","remember":true}`); r.Status != 200 {
			t.Fatalf("victim login: %d %s", r.Status, r.Body)
		}
	}
	login()
	s.visitSibling(attacker.RefreshToken, "/auth/refresh")
	r := s.do("POST", app, "/auth/refresh", "")
	if r.Status != 401 {
		t.Fatalf("refresh with two refresh cookies: %d %s, want 401", r.Status, r.Body)
	}
	if r.Header.Get("Set-Cookie") == "" {
		t.Fatal("two refresh cookies refused without clearing them")
	}
	login()
	if r := s.do("POST", app, "/auth/refresh", ""); r.Status != 200 {
		t.Fatalf("refresh after logging in again: %d %s (locked out)", r.Status, r.Body)
	}
	if r := s.do("GET", app, "/app", ""); r.Status != 200 || r.Body != "hello Alice" {
		t.Fatalf("victim's session: %d %q", r.Status, r.Body)
	}
}

// TestRefreshCookieHiddenFromHandlers: the __Host- refresh cookie has
// Path=/, so browsers send it with every request; behind the middleware an
// application handler never sees it, while the access cookie and cookies of
// the application's own pass through.
func TestRefreshCookieHiddenFromHandlers(t *testing.T) {
	e := newEnv(t, newMemoryStore(t))
	seen := make(chan string, 2)
	echo := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		seen <- strings.Join(r.Header.Values("Cookie"), " | ")
	})
	srv := httptest.NewTLSServer(e.m.Optional()(echo))
	t.Cleanup(srv.Close)
	b := e.browser()
	if r := e.Do(b, "POST", "/auth/login", `{"username":"bob","password":"bob-pw"}`); r.Status != 200 {
		t.Fatalf("login: %d", r.Status)
	}
	access, refresh := sesametest.Cookie(b, e.srv.URL, "__Host-sesame"), sesametest.Cookie(b, e.srv.URL, refreshCookieName)
	if access == "" || refresh == "" {
		t.Fatalf("cookies after login: access %t, refresh %t", access != "", refresh != "")
	}
	for _, tc := range []struct {
		name   string
		cookie []string
	}{
		{"one-line", []string{"theme=dark; " + refreshCookieName + "=" + refresh + "; __Host-sesame=" + access}},
		{"two-lines", []string{refreshCookieName + "=" + refresh, "__Host-sesame=" + access + "; theme=dark"}},
		{"signed-out", []string{refreshCookieName + "=" + refresh + "; theme=dark"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var hdr []string // a line each
			for _, c := range tc.cookie {
				hdr = append(hdr, "Cookie", c)
			}
			sesametest.Send(t, srv.Client(), "GET", srv.URL+"/", "", hdr...)
			got := <-seen
			if strings.Contains(got, refreshCookieName) || strings.Contains(got, refresh) {
				t.Errorf("handler saw the refresh cookie: %q", got)
			}
			if !strings.Contains(got, "theme=dark") {
				t.Errorf("handler lost the application's cookie: %q", got)
			}
			if tc.name != "signed-out" && !strings.Contains(got, "__Host-sesame="+access) {
				t.Errorf("handler lost the access cookie: %q", got)
			}
		})
	}
}

// TestRefreshCookieConfig: the refresh cookie's name and path follow from
// CookieDomain and Insecure, and a __Host- name with a Domain is refused.
func TestRefreshCookieConfig(t *testing.T) {
	for _, tc := range []struct {
		name       string
		cfg        func(*auth.Config[Profile])
		cookie     string
		path       string
		domain     string
		refusedErr string
	}{
		{"default", func(*auth.Config[Profile]) {}, "__Host-sesame-refresh", "/", "", ""},
		{"default-ignores-path", func(c *auth.Config[Profile]) { c.RefreshCookiePath = "/api/auth" }, "__Host-sesame-refresh", "/", "", ""},
		{"domain", func(c *auth.Config[Profile]) { c.CookieDomain = "example.com" }, "__Secure-sesame-refresh", "/auth", "example.com", ""},
		{"domain-path", func(c *auth.Config[Profile]) { c.CookieDomain = "example.com"; c.RefreshCookiePath = "/api/auth" }, "__Secure-sesame-refresh", "/api/auth", "example.com", ""},
		{"host-name-with-domain", func(c *auth.Config[Profile]) {
			c.CookieDomain = "example.com"
			c.RefreshCookieName = "__Host-mine"
		}, "", "", "", "RefreshCookieName"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := auth.Config[Profile]{Keys: testKeys(), Store: newMemoryStore(t), DataKey: testDataKey,
				Authenticator: auth.AuthenticatorFunc[Profile](authenticate)}
			tc.cfg(&cfg)
			m, err := auth.New(cfg)
			if tc.refusedErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.refusedErr) {
					t.Fatalf("got error %v, want one naming %s", err, tc.refusedErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			defer m.Close()
			w := httptest.NewRecorder()
			if _, err := m.StartSession(w, httptest.NewRequest("POST", "https://example.com/x", nil), "uid-bob", Profile{Name: "Bob"}, false); err != nil {
				t.Fatal(err)
			}
			var rc map[string]string
			for _, v := range w.Header().Values("Set-Cookie") {
				if c := parseSetCookie(t, v); c["name"] != "__Host-sesame" {
					rc = c
				}
			}
			if rc == nil {
				t.Fatalf("no refresh cookie in %q", w.Header().Values("Set-Cookie"))
			}
			wantAttrs(t, rc, tc.cookie, "Path="+tc.path, "Secure", "HttpOnly", "SameSite=Strict")
			if rc["Domain"] != tc.domain {
				t.Errorf("Domain %q, want %q", rc["Domain"], tc.domain)
			}
		})
	}
}
