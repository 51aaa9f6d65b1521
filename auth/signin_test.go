package auth_test

import (
	"crypto/sha256"
	"encoding/base64"
	"html"
	"regexp"
	"strings"
	"testing"

	"github.com/sesame-go/sesame/auth"
)

var rdAttr = regexp.MustCompile(`data-rd="([^"]*)"`)

// signInRD asks for the sign-in page with the raw query string q and
// returns where the page would send the browser after login.
func signInRD(t *testing.T, e *env, q string) string {
	t.Helper()
	r := e.Do(nil, "GET", "/auth/login?"+q, "", "Accept", "text/html")
	if r.Status != 200 {
		t.Fatalf("sign-in page: %d %s", r.Status, r.Body)
	}
	m := rdAttr.FindStringSubmatch(r.Body)
	if m == nil {
		t.Fatalf("no data-rd in the page")
	}
	return html.UnescapeString(m[1])
}

func TestSignInRedirect(t *testing.T) {
	e := newEnv(t, newMemoryStore(t), func(c *auth.Config[Profile]) {
		c.Gateway.AllowedRedirectHosts = []string{"app.example.com", ".apps.example.com", "admin.example.com:8443"}
	})
	for _, tc := range []struct {
		name, query, want string
	}{
		// Followed.
		{"a path", "rd=/orders", "/orders"},
		{"a path with a query and fragment", "rd=" + escape("/orders?id=7&x=1#top"), "/orders?id=7&x=1#top"},
		{"a path with encoded characters", "rd=" + escape("/search?q=a%20b"), "/search?q=a%20b"},
		{"an allowed host", "rd=" + escape("https://app.example.com/x"), "https://app.example.com/x"},
		{"an allowed host in capitals", "rd=" + escape("HTTPS://APP.EXAMPLE.COM/x"), "https://APP.EXAMPLE.COM/x"},
		{"an allowed host on another port", "rd=" + escape("https://app.example.com:444/x"), "https://app.example.com:444/x"},
		{"a subdomain of an allowed domain", "rd=" + escape("https://a.apps.example.com/"), "https://a.apps.example.com/"},
		{"a deeper subdomain", "rd=" + escape("http://a.b.apps.example.com/"), "http://a.b.apps.example.com/"},
		{"an allowed host and port", "rd=" + escape("https://admin.example.com:8443/"), "https://admin.example.com:8443/"},

		// Sent to "/".
		{"none", "", "/"},
		{"empty", "rd=", "/"},
		{"two rd", "rd=/a&rd=/b", "/"},
		{"scheme-relative", "rd=//evil.example", "/"},
		{"scheme-relative, encoded", "rd=%2F%2Fevil.example", "/"},
		{"scheme-relative, encoded twice", "rd=%252F%252Fevil.example", "/"},
		{"path that decodes to scheme-relative", "rd=" + escape("/%2F%2Fevil.example"), "/"},
		{"path that decodes to scheme-relative, one slash encoded", "rd=" + escape("/%2Fevil.example"), "/"},
		{"three slashes", "rd=///evil.example", "/"},
		{"backslash", "rd=" + escape(`/\evil.example`), "/"},
		{"backslash, encoded", "rd=/%5Cevil.example", "/"},
		{"backslash, encoded in the path", "rd=" + escape("/%5Cevil.example"), "/"},
		{"two backslashes", "rd=" + escape(`\\evil.example`), "/"},
		{"another host", "rd=" + escape("https://evil.example"), "/"},
		{"another host in capitals", "rd=" + escape("HTTPS://EVIL.EXAMPLE"), "/"},
		{"an allowed name as a prefix", "rd=" + escape("https://app.example.com.evil.example/"), "/"},
		{"an allowed name as a suffix without the dot", "rd=" + escape("https://evilapp.example.com/"), "/"},
		{"the apex of a subdomain entry", "rd=" + escape("https://apps.example.com/"), "/"},
		{"a subdomain of an exact entry", "rd=" + escape("https://x.app.example.com/"), "/"},
		{"an exact host and port entry on another port", "rd=" + escape("https://admin.example.com/"), "/"},
		{"trailing dot", "rd=" + escape("https://app.example.com./"), "/"},
		{"userinfo naming an allowed host", "rd=" + escape("https://app.example.com@evil.example/"), "/"},
		{"userinfo on an allowed host", "rd=" + escape("https://user:pw@app.example.com/"), "/"},
		{"scheme-relative with userinfo", "rd=" + escape("//evil.example@app.example.com"), "/"},
		{"scheme without slashes", "rd=" + escape("https:evil.example"), "/"},
		{"scheme without slashes, allowed host", "rd=" + escape("https:app.example.com"), "/"},
		{"one slash after the scheme", "rd=" + escape("https:/app.example.com"), "/"},
		{"javascript", "rd=" + escape("javascript:alert(1)"), "/"},
		{"javascript in capitals", "rd=" + escape("JavaScript:alert(1)"), "/"},
		{"javascript after a path-like start", "rd=" + escape("javascript://app.example.com/%0Aalert(1)"), "/"},
		{"data", "rd=" + escape("data:text/html,<script>alert(1)</script>"), "/"},
		{"ftp on an allowed host", "rd=" + escape("ftp://app.example.com/"), "/"},
		{"relative without a slash", "rd=evil.example", "/"},
		{"relative dot path", "rd=" + escape("./x"), "/"},
		{"leading space", "rd=" + escape(" //evil.example"), "/"},
		{"leading space before a path", "rd=" + escape(" /orders"), "/"},
		{"tab between the slashes", "rd=" + escape("/\t/evil.example"), "/"},
		{"newline between the slashes", "rd=/%0A/evil.example", "/"},
		{"carriage return", "rd=/%0D/evil.example", "/"},
		{"NUL", "rd=/%00/evil.example", "/"},
		{"DEL", "rd=/%7F", "/"},
		{"encoded tab in the path", "rd=" + escape("/%09/evil.example"), "/"},
		{"non-ASCII", "rd=" + escape("/ｅvil"), "/"},
		{"fullwidth solidus", "rd=" + escape("/／evil.example"), "/"},
		{"too long", "rd=/" + strings.Repeat("a", 2048), "/"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := signInRD(t, e, tc.query); got != tc.want {
				t.Errorf("rd from %q: got %q, want %q", tc.query, got, tc.want)
			}
		})
	}
}

func escape(s string) string {
	r := strings.NewReplacer("%", "%25", "&", "%26", "#", "%23", "+", "%2B", " ", "%20", "\t", "%09", "?", "%3F", "=", "%3D", "\\", "%5C")
	return r.Replace(s)
}

func TestSignInPage(t *testing.T) {
	e := newEnv(t, newMemoryStore(t))
	r := e.Do(nil, "GET", "/auth/login?rd=/orders", "", "Accept", "text/html,application/xhtml+xml")
	if r.Status != 200 || !strings.HasPrefix(r.Header.Get("Content-Type"), "text/html") {
		t.Fatalf("got %d %q", r.Status, r.Header.Get("Content-Type"))
	}
	for name, want := range map[string]string{
		"X-Frame-Options": "DENY", "Referrer-Policy": "no-referrer", "X-Content-Type-Options": "nosniff", "Cache-Control": "no-store",
	} {
		if got := r.Header.Get(name); got != want {
			t.Errorf("%s: got %q, want %q", name, got, want)
		}
	}
	csp := r.Header.Get("Content-Security-Policy")
	for _, want := range []string{"default-src 'none'", "frame-ancestors 'none'", "base-uri 'none'", "form-action 'self'", "connect-src 'self'"} {
		if !strings.Contains(csp, want) {
			t.Errorf("CSP %q lacks %q", csp, want)
		}
	}
	if strings.Contains(csp, "unsafe-inline") || strings.Contains(csp, "unsafe-eval") {
		t.Errorf("CSP %q allows inline code by name", csp)
	}
	// Each inline block is allowed by its hash, and nothing else is inline.
	for _, tag := range []string{"script", "style"} {
		blocks := regexp.MustCompile(`(?s)<`+tag+`>(.*?)</`+tag+`>`).FindAllStringSubmatch(r.Body, -1)
		if len(blocks) != 1 {
			t.Fatalf("%d <%s> blocks, want 1", len(blocks), tag)
		}
		sum := sha256.Sum256([]byte(blocks[0][1]))
		if h := "'sha256-" + base64.StdEncoding.EncodeToString(sum[:]) + "'"; !strings.Contains(csp, tag+"-src "+h) {
			t.Errorf("CSP %q does not allow the page's <%s> by its hash %s", csp, tag, h)
		}
	}
	for _, bad := range []string{"<script src", "<link", "<img", "<iframe", " style=", " onclick", " onload", "http://", "https://"} {
		if strings.Contains(r.Body, bad) {
			t.Errorf("page holds %q: no external assets or inline handlers", bad)
		}
	}
	for _, want := range []string{`<label for="username">`, `id="username"`, `<label for="password">`, `id="password"`, `role="alert"`, `id="signout"`} {
		if !strings.Contains(r.Body, want) {
			t.Errorf("page lacks %s", want)
		}
	}
	if !strings.Contains(r.Body, `data-refresh=""`) {
		t.Error("page would try a silent refresh without a refresh cookie")
	}

	// With a refresh cookie, the page tries the silent refresh first.
	b := e.browser()
	if r := e.Do(b, "POST", "/auth/login", `{"username":"alice","password":"alice-pw"}`); r.Status != 200 {
		t.Fatalf("login: %d", r.Status)
	}
	if r := e.Do(b, "GET", "/auth/login", "", "Accept", "text/html"); !strings.Contains(r.Body, `data-refresh="1"`) {
		t.Error("page with a refresh cookie does not try a silent refresh")
	}

	// The JSON API is unchanged, and logout stays POST.
	if r := e.Do(nil, "GET", "/auth/login", "", "Accept", "application/json"); r.Status != 405 {
		t.Errorf("GET /auth/login for JSON: %d, want 405", r.Status)
	}
	for _, accept := range []string{"text/html", "application/json"} {
		if r := e.Do(b, "GET", "/auth/logout", "", "Accept", accept); r.Status != 405 && r.Status != 404 {
			t.Errorf("GET /auth/logout (Accept %s): %d, want 404 or 405", accept, r.Status)
		}
	}
	if r := e.Do(b, "GET", "/auth/session", ""); r.Status != 200 {
		t.Errorf("GET /auth/logout ended the session: /auth/session answers %d", r.Status)
	}
}
