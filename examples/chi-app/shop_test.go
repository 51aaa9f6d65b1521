package main

import (
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/sesame-go/sesame/internal/sesametest"
	"github.com/sesame-go/sesame/users"
)

type client struct {
	t   *testing.T
	srv *httptest.Server
	c   *http.Client
}

// page is an answer, as the shared harness reads it.
type page = sesametest.Response

// do sends a request as a browser's page would (Accept: text/html), with
// the Content-Type contentType when it is not empty; hdr holds more header
// pairs (see sesametest.Do).
func (c *client) do(method, path, contentType, body string, hdr ...string) page {
	c.t.Helper()
	h := []string{"Accept", "text/html"}
	if contentType != "" {
		h = append(h, "Content-Type", contentType)
	}
	return sesametest.Send(c.t, c.c, method, c.srv.URL+path, body, append(h, hdr...)...)
}

func (c *client) cookie(name string) string { return sesametest.Cookie(c.c, c.srv.URL, name) }

// cart reads the cart from GET /auth/session: what the access token holds.
func (c *client) cart() []Line {
	c.t.Helper()
	p := c.do("GET", "/auth/session", "", "")
	if p.Status != 200 {
		c.t.Fatalf("GET /auth/session: %d %s", p.Status, p.Body)
	}
	var s struct{ Data Session }
	if err := json.Unmarshal([]byte(p.Body), &s); err != nil {
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
	c := sesametest.Browser(srv.Client())
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return &client{t: t, srv: srv, c: c}
}

func TestShop(t *testing.T) {
	c := newTestShop(t)

	// A page without a session sends the browser to the login page.
	p := c.do("GET", "/cart", "", "")
	if p.Status != http.StatusSeeOther || p.Header.Get("Location") != "/login?next=%2Fcart" {
		t.Fatalf("GET /cart without a session: %d %q", p.Status, p.Header.Get("Location"))
	}
	if p := c.do("GET", "/login?next=%2Fcart", "", ""); p.Status != 200 || !strings.Contains(p.Body, `const next = "/cart"`) {
		t.Errorf("login page: %d\n%s", p.Status, p.Body)
	}
	if p := c.do("GET", "/login?next=//evil.example", "", ""); !strings.Contains(p.Body, `const next = "/";`) {
		t.Error("the login page redirects to another site")
	}

	if p := c.do("POST", "/auth/login", "application/json", `{"username":"alice","password":"nope"}`); p.Status != 401 {
		t.Errorf("wrong password: %d", p.Status)
	}
	p = c.do("POST", "/auth/login", "application/json", `{"username":"alice","password":"alice-pw"}`)
	if p.Status != 200 {
		t.Fatalf("login: %d %s", p.Status, p.Body)
	}
	// Over TLS the cookies keep every protection.
	for _, sc := range p.Header.Values("Set-Cookie") {
		if !strings.HasPrefix(sc, "__Host-sesame=") && !strings.HasPrefix(sc, "__Host-sesame-refresh=") && !strings.HasPrefix(sc, "__Host-sesame-device=") || !strings.Contains(sc, "Secure") || !strings.Contains(sc, "HttpOnly") {
			t.Errorf("cookie %q: want the __Host- prefix, Secure, HttpOnly", sc)
		}
	}
	firstAccess := c.cookie("__Host-sesame")

	if p := c.do("GET", "/", "", ""); p.Status != 200 || !strings.Contains(p.Body, `<b id="who">alice</b>`) {
		t.Errorf("home: %d, want alice signed in", p.Status)
	}

	// Cart: two mugs and seeds, through m.Update.
	for _, sku := range []string{"mug", "mug", "seeds"} {
		p := c.do("POST", "/cart", "application/x-www-form-urlencoded", "sku="+sku)
		if p.Status != http.StatusSeeOther || p.Header.Get("Location") != "/cart" {
			t.Fatalf("add %s: %d %s", sku, p.Status, p.Body)
		}
	}
	if p := c.do("POST", "/cart", "application/x-www-form-urlencoded", "sku=caviar"); p.Status != 400 {
		t.Errorf("unknown product: %d", p.Status)
	}
	p = c.do("GET", "/cart", "", "")
	if p.Status != 200 || !strings.Contains(p.Body, `data-sku="mug">Sesame mug</td><td>2</td>`) || !strings.Contains(p.Body, "€28.00") {
		t.Fatalf("cart page: %d\n%s", p.Status, p.Body)
	}

	// A cross-site form post is refused (CSRF).
	if p := c.do("POST", "/cart", "application/x-www-form-urlencoded", "sku=tee", "Sec-Fetch-Site", "cross-site"); p.Status != 403 {
		t.Errorf("cross-site add to cart: %d, want 403", p.Status)
	}

	// Refresh: a new access token, and the cart survives it.
	p = c.do("POST", "/auth/refresh", "", "")
	if p.Status != 200 {
		t.Fatalf("refresh: %d %s", p.Status, p.Body)
	}
	want := []Line{{"mug", 2}, {"seeds", 1}}
	if got := c.cart(); len(got) != 2 || got[0] != want[0] || got[1] != want[1] {
		t.Errorf("cart after refresh: %v, want %v", got, want)
	}

	// Checkout (Strict) empties the cart.
	p = c.do("POST", "/checkout", "application/x-www-form-urlencoded", "")
	if p.Status != 200 || !strings.Contains(p.Body, "Order placed: 3 item(s)") {
		t.Fatalf("checkout: %d\n%s", p.Status, p.Body)
	}
	if got := c.cart(); len(got) != 0 {
		t.Errorf("cart after checkout: %v", got)
	}
	if p := c.do("POST", "/checkout", "application/x-www-form-urlencoded", ""); p.Status != 400 {
		t.Errorf("checkout of an empty cart: %d", p.Status)
	}

	// Logout, then the session's tokens are refused, first by Strict at once.
	lastAccess := c.cookie("__Host-sesame")
	if p := c.do("POST", "/auth/logout", "", ""); p.Status != 204 {
		t.Fatalf("logout: %d %s", p.Status, p.Body)
	}
	if c.cookie("__Host-sesame") != "" {
		t.Error("logout left the access cookie")
	}
	for _, tok := range []string{firstAccess, lastAccess} {
		p := c.do("POST", "/checkout", "", "", "Cookie", "__Host-sesame="+tok)
		if p.Status != 401 || !strings.Contains(p.Body, `"revoked"`) {
			t.Errorf("checkout with a logged-out token: %d %s, want 401 revoked", p.Status, p.Body)
		}
	}
	if p := c.do("GET", "/cart", "", ""); p.Status != http.StatusSeeOther {
		t.Errorf("cart after logout: %d, want a redirect to login", p.Status)
	}
}
