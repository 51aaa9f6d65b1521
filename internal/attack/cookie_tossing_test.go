package attack_test

import (
	"strings"
	"testing"

	"github.com/sesame-go/sesame/auth"
)

// TestRefreshCookieTossing (W11): a sibling subdomain can make the browser
// send a refresh cookie of its choosing to this host, with a Domain of the
// whole site and any path: a __Secure- cookie (a browser refuses a __Host-
// one with a Domain, or from another host). Mallory plants her own refresh
// token that way.
//
//   - lone: the victim has no session. The planted cookie must not log the
//     victim into mallory's session.
//   - duplicate: the victim is signed in. The planted cookie must not lock
//     the victim out, nor replace the victim's session.
//   - shared-domain: with Config.CookieDomain the refresh cookie is shared
//     across the site, so a planted one has the real name; two are refused
//     and every variant of the cookie the request could carry is expired,
//     so the next login is not met by the planted cookie again.
func TestRefreshCookieTossing(t *testing.T) {
	t.Parallel()
	backends(t, func(t *testing.T, o options) {
		e := newEnv(t, o)
		mallory := e.LoginAs("mallory")
		mg := e.family(mallory.RefreshToken).Generation
		planted := "__Secure-sesame-refresh=" + mallory.RefreshToken
		t.Run("lone", func(t *testing.T) {
			r := e.Do(nil, "POST", "/auth/refresh", "", "Cookie", planted)
			if r.Status != 401 || r.Code() != "unauthenticated" {
				t.Fatalf("got %d %s, want 401 unauthenticated", r.Status, r.Body)
			}
			if sc := r.Header.Values("Set-Cookie"); len(sc) != 0 {
				t.Fatalf("the planted cookie got the victim a session: %q", sc)
			}
			if e.family(mallory.RefreshToken).Generation != mg {
				t.Fatal("the planted refresh token was rotated")
			}
			e.intact(t)
		})
		t.Run("duplicate", func(t *testing.T) {
			bob := e.LoginAs("bob")
			// A browser sends the longer path first: mallory's
			// Path=/auth/refresh before the genuine Path=/ one.
			r := e.Do(nil, "POST", "/auth/refresh", "", "Cookie", planted+"; __Host-sesame-refresh="+bob.RefreshToken)
			if r.Status != 200 {
				t.Fatalf("victim's refresh with a planted cookie beside the genuine one: %d %s", r.Status, r.Body)
			}
			if !strings.Contains(r.Body, `"sub":"uid-bob"`) {
				t.Fatalf("refresh answered another session: %s", r.Body)
			}
			if e.family(mallory.RefreshToken).Generation != mg {
				t.Fatal("the planted refresh token was rotated")
			}
			e.intact(t)
		})
	})
	t.Run("shared-domain", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t, options{cfg: func(c *auth.Config[Profile]) { c.CookieDomain = "example.com" }})
		mallory, bob := e.LoginAs("mallory"), e.LoginAs("bob")
		mg, bg := e.family(mallory.RefreshToken).Generation, e.family(bob.RefreshToken).Generation
		r := e.Do(nil, "POST", "/auth/refresh", "",
			"Cookie", "__Secure-sesame-refresh="+mallory.RefreshToken+"; __Secure-sesame-refresh="+bob.RefreshToken)
		if r.Status != 401 || r.Code() != "malformed" {
			t.Fatalf("two refresh cookies: got %d %s, want 401 malformed", r.Status, r.Body)
		}
		expired := map[string]bool{} // "Domain=... Path=..." of each expiring refresh cookie
		for _, sc := range r.Header.Values("Set-Cookie") {
			if !strings.HasPrefix(sc, "__Secure-sesame-refresh=;") || !strings.Contains(sc, "; Max-Age=0") {
				continue
			}
			domain, path := "Domain=", ""
			for _, attr := range strings.Split(sc, "; ") {
				switch {
				case strings.HasPrefix(attr, "Domain="):
					domain = attr
				case strings.HasPrefix(attr, "Path="):
					path = attr
				}
			}
			expired[domain+" "+path] = true
		}
		for _, want := range []string{
			"Domain=example.com Path=/auth",                                      // the genuine cookie
			"Domain= Path=/", "Domain= Path=/auth", "Domain= Path=/auth/refresh", // a host-only plant, any path it reached
		} {
			if !expired[want] {
				t.Errorf("no expiring Set-Cookie with %s among %q", want, r.Header.Values("Set-Cookie"))
			}
		}
		if e.family(mallory.RefreshToken).Generation != mg || e.family(bob.RefreshToken).Generation != bg {
			t.Fatal("a refresh token was rotated")
		}
		e.intact(t)
	})
}
