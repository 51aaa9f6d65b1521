package main

import (
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/sesame-go/sesame/users"
)

type client struct {
	t   *testing.T
	srv *httptest.Server
	c   *http.Client
}

type page struct {
	status int
	header http.Header
	body   string
}

func (c *client) do(method, path, contentType, body string, hdr ...string) page {
	c.t.Helper()
	req, err := http.NewRequest(method, c.srv.URL+path, strings.NewReader(body))
	if err != nil {
		c.t.Fatal(err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	req.Header.Set("Accept", "text/html")
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := c.c.Do(req)
	if err != nil {
		c.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return page{resp.StatusCode, resp.Header, string(b)}
}

func (c *client) cookie(name string) string {
	u, _ := url.Parse(c.srv.URL)
	for _, ck := range c.c.Jar.Cookies(u) {
		if ck.Name == name {
			return ck.Value
		}
	}
	return ""
}

// cart reads the cart from GET /auth/session: what the access token holds.
func (c *client) cart() []Line {
	c.t.Helper()
	p := c.do("GET", "/auth/session", "", "")
	if p.status != 200 {
		c.t.Fatalf("GET /auth/session: %d %s", p.status, p.body)
	}
	var s struct{ Data Session }
	if err := json.Unmarshal([]byte(p.body), &s); err != nil {
		c.t.Fatal(err)
	}
	return s.Data.Cart
}

func newTestShop(t *testing.T) *client {
	t.Helper()
	u, err := users.NewUser("alice", "alice-pw", users.Params{}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	h, closeShop, err := newShop(shopOptions{users: []users.User{u}, log: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { closeShop() })
	srv := httptest.NewTLSServer(h)
	t.Cleanup(srv.Close)
	c := srv.Client()
	c.Jar, _ = cookiejar.New(nil)
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return &client{t: t, srv: srv, c: c}
}

func TestShop(t *testing.T) {
	c := newTestShop(t)

	// A page without a session sends the browser to the login page.
	p := c.do("GET", "/cart", "", "")
	if p.status != http.StatusSeeOther || p.header.Get("Location") != "/login?next=%2Fcart" {
		t.Fatalf("GET /cart without a session: %d %q", p.status, p.header.Get("Location"))
	}
	if p := c.do("GET", "/login?next=%2Fcart", "", ""); p.status != 200 || !strings.Contains(p.body, `const next = "/cart"`) {
		t.Errorf("login page: %d\n%s", p.status, p.body)
	}
	if p := c.do("GET", "/login?next=//evil.example", "", ""); !strings.Contains(p.body, `const next = "/";`) {
		t.Error("the login page redirects to another site")
	}

	if p := c.do("POST", "/auth/login", "application/json", `{"username":"alice","password":"nope"}`); p.status != 401 {
		t.Errorf("wrong password: %d", p.status)
	}
	p = c.do("POST", "/auth/login", "application/json", `{"username":"alice","password":"alice-pw"}`)
	if p.status != 200 {
		t.Fatalf("login: %d %s", p.status, p.body)
	}
	// Over TLS the cookies keep every protection.
	for _, sc := range p.header.Values("Set-Cookie") {
		if !strings.HasPrefix(sc, "__Host-sesame=") && !strings.HasPrefix(sc, "__Host-sesame-refresh=") && !strings.HasPrefix(sc, "__Host-sesame-device=") || !strings.Contains(sc, "Secure") || !strings.Contains(sc, "HttpOnly") {
			t.Errorf("cookie %q: want the __Host- prefix, Secure, HttpOnly", sc)
		}
	}
	firstAccess := c.cookie("__Host-sesame")

	if p := c.do("GET", "/", "", ""); p.status != 200 || !strings.Contains(p.body, `<b id="who">alice</b>`) {
		t.Errorf("home: %d, want alice signed in", p.status)
	}

	// Cart: two mugs and seeds, through m.Update.
	for _, sku := range []string{"mug", "mug", "seeds"} {
		p := c.do("POST", "/cart", "application/x-www-form-urlencoded", "sku="+sku)
		if p.status != http.StatusSeeOther || p.header.Get("Location") != "/cart" {
			t.Fatalf("add %s: %d %s", sku, p.status, p.body)
		}
	}
	if p := c.do("POST", "/cart", "application/x-www-form-urlencoded", "sku=caviar"); p.status != 400 {
		t.Errorf("unknown product: %d", p.status)
	}
	p = c.do("GET", "/cart", "", "")
	if p.status != 200 || !strings.Contains(p.body, `data-sku="mug">Sesame mug</td><td>2</td>`) || !strings.Contains(p.body, "€28.00") {
		t.Fatalf("cart page: %d\n%s", p.status, p.body)
	}

	// A cross-site form post is refused (CSRF).
	if p := c.do("POST", "/cart", "application/x-www-form-urlencoded", "sku=tee", "Sec-Fetch-Site", "cross-site"); p.status != 403 {
		t.Errorf("cross-site add to cart: %d, want 403", p.status)
	}

	// Refresh: a new access token, and the cart survives it.
	p = c.do("POST", "/auth/refresh", "", "")
	if p.status != 200 {
		t.Fatalf("refresh: %d %s", p.status, p.body)
	}
	want := []Line{{"mug", 2}, {"seeds", 1}}
	if got := c.cart(); len(got) != 2 || got[0] != want[0] || got[1] != want[1] {
		t.Errorf("cart after refresh: %v, want %v", got, want)
	}

	// Checkout (Strict) empties the cart.
	p = c.do("POST", "/checkout", "application/x-www-form-urlencoded", "")
	if p.status != 200 || !strings.Contains(p.body, "Order placed: 3 item(s)") {
		t.Fatalf("checkout: %d\n%s", p.status, p.body)
	}
	if got := c.cart(); len(got) != 0 {
		t.Errorf("cart after checkout: %v", got)
	}
	if p := c.do("POST", "/checkout", "application/x-www-form-urlencoded", ""); p.status != 400 {
		t.Errorf("checkout of an empty cart: %d", p.status)
	}

	// Logout, then the session's tokens are refused, first by Strict at once.
	lastAccess := c.cookie("__Host-sesame")
	if p := c.do("POST", "/auth/logout", "", ""); p.status != 204 {
		t.Fatalf("logout: %d %s", p.status, p.body)
	}
	if c.cookie("__Host-sesame") != "" {
		t.Error("logout left the access cookie")
	}
	for _, tok := range []string{firstAccess, lastAccess} {
		p := c.do("POST", "/checkout", "", "", "Cookie", "__Host-sesame="+tok)
		if p.status != 401 || !strings.Contains(p.body, `"revoked"`) {
			t.Errorf("checkout with a logged-out token: %d %s, want 401 revoked", p.status, p.body)
		}
	}
	if p := c.do("GET", "/cart", "", ""); p.status != http.StatusSeeOther {
		t.Errorf("cart after logout: %d, want a redirect to login", p.status)
	}
}
