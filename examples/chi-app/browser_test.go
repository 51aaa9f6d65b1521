package main

// TestBrowser drives Debian's Chromium (headless, through the DevTools
// protocol with chromedp) against the shop served over TLS on loopback, so
// the Secure, __Host- and __Secure- cookies, SameSite and the cross-origin
// checks behave as they do in production. It needs the chromium binary:
// under CI=true a missing one fails the test, elsewhere it is skipped.
//
// The access token lives 3 s with no leeway, so the test watches tokens
// really expire in the browser; it polls for each condition with a
// deadline instead of sleeping.

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"fmt"
	"log/slog"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/storage"
	"github.com/chromedp/chromedp"
	"github.com/go-chi/chi/v5/middleware"

	"github.com/sesame-go/sesame/internal/sesametest"
	"github.com/sesame-go/sesame/internal/sesametest/browsertest"
	"github.com/sesame-go/sesame/users"
)

const (
	browserTTL    = 3 * time.Second
	accessCookie  = "__Host-sesame"
	refreshCookie = "__Host-sesame-refresh"
)

func TestBrowser(t *testing.T) {
	if testing.Short() {
		t.Skip("browser test: skipped in -short mode")
	}
	chrome := sesametest.Need(t, "chromium", "apt-get update && apt-get install -y chromium")
	start := time.Now()

	cert, spki := testCert(t)
	logs := &sesametest.LogBuffer{}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("server log:\n%s", logs.String())
		}
	})
	log := slog.New(slog.NewTextHandler(logs, nil))
	u, err := users.NewUser("alice", "alice-pw", users.Params{}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	h, closeShop, err := newShop(shopOptions{users: []users.User{u}, log: log, accessTTL: browserTTL, leeway: -1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { closeShop() })
	rec := &recorder{next: h, answered: make(chan struct{})}
	shopSrv := startTLS(t, "127.0.0.1:0", rec, cert)
	base := shopSrv.URL // https://127.0.0.1:PORT

	// The attackers' pages: a form that posts itself to the shop's logout.
	// https://127.0.0.1:OTHER is another origin of the same site (cookies,
	// even SameSite=Strict ones, go along); https://localhost:OTHER is
	// another site.
	evil := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprintf(w, `<!doctype html><title>win a prize</title>
<form id="f" method="post" action="%s/auth/logout"><input type="hidden" name="x" value="1"></form>
<script>document.getElementById("f").submit()</script>`, base)
	})
	evilSrv := startTLS(t, "127.0.0.1:0", evil, cert)
	_, evilPort, _ := net.SplitHostPort(strings.TrimPrefix(evilSrv.URL, "https://"))
	attackers := []string{evilSrv.URL, "https://localhost:" + evilPort}

	// The browser: a fresh profile, trusting only the test certificate. No
	// name but localhost and 127.0.0.1 resolves, so nothing leaves the loopback.
	allocCtx, cancelAlloc := browsertest.Allocator(t, chrome,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("ignore-certificate-errors-spki-list", spki),
	)
	defer cancelAlloc()
	tab1, cancelBrowser := chromedp.NewContext(allocCtx)
	defer cancelBrowser()
	tab1, cancelTimeout := context.WithTimeout(tab1, 50*time.Second)
	defer cancelTimeout()
	openTab(t, tab1)
	t.Logf("chromium up after %v", time.Since(start).Round(time.Millisecond))

	// 1. A protected page sends us to the login form; logging in through it
	// lands on the page asked for.
	step(t, tab1, "log in through the form",
		chromedp.Navigate(base+"/cart"),
		chromedp.WaitVisible(css(`#login`)),
		chromedp.SendKeys(css(`input[name=username]`), "alice"),
		chromedp.SendKeys(css(`input[name=password]`), "alice-pw"),
		chromedp.Click(css(`#login button`)),
		chromedp.WaitVisible(css(`#who`)),
	)
	if loc := location(t, tab1); loc != base+"/cart" {
		t.Errorf("after login the browser is at %s, want %s/cart", loc, base)
	}
	who, empty := text(t, tab1, `#who`), text(t, tab1, `#empty`)
	if who != "alice" || empty == "" {
		t.Errorf("protected page: signed in as %q, cart %q", who, empty)
	}
	sid := sessionID(t, tab1)

	// 2. Script sees no session cookie; the browser holds both, with every
	// attribute.
	if docCookie := eval[string](t, tab1, `document.cookie`); docCookie != "" {
		t.Errorf("document.cookie = %q, want nothing (HttpOnly)", docCookie)
	}
	jar := cookies(t, tab1)
	if c := jar[accessCookie]; c == nil || !c.HTTPOnly || !c.Secure || c.SameSite != network.CookieSameSiteLax || c.Path != "/" || c.Domain != "127.0.0.1" || !c.Session {
		t.Errorf("access cookie %s, want HttpOnly, Secure, SameSite=Lax, Path=/, host-only 127.0.0.1, session cookie", describe(c))
	}
	if c := jar[refreshCookie]; c == nil || !c.HTTPOnly || !c.Secure || c.SameSite != network.CookieSameSiteStrict || c.Path != "/" || c.Domain != "127.0.0.1" || !c.Session {
		t.Errorf("refresh cookie %s, want HttpOnly, Secure, SameSite=Strict, Path=/, host-only 127.0.0.1, session cookie", describe(c))
	}

	// 3. The access token expires; "Add to cart" on the page loaded before
	// keeps working: shopFetch meets the 401, refreshes, retries.
	step(t, tab1, "home page", chromedp.Navigate(base+"/"), chromedp.WaitVisible(css(`#who`)))
	oldRefresh := cookies(t, tab1)[refreshCookie]
	waitExpired(t, tab1)
	mark := rec.mark()
	step(t, tab1, "add to cart after expiry",
		chromedp.Click(css(`form.add input[value=mug] ~ button`)),
		chromedp.WaitVisible(css(`#cart`)),
	)
	if loc := location(t, tab1); loc != base+"/cart" {
		t.Errorf("after add to cart the browser is at %s", loc)
	}
	assertCart(t, tab1, "mug", "1")
	if got := rec.since(mark).summary(); got != "POST /cart 401, POST /auth/refresh 200, POST /cart 303, GET /cart 200, GET /cart 200" {
		t.Errorf("add to cart after expiry made %s, want 401, silent refresh, retry", got)
	}
	if c := cookies(t, tab1)[refreshCookie]; c == nil || c.Value == oldRefresh.Value {
		t.Error("the refresh token did not rotate")
	}
	if got := sessionID(t, tab1); got != sid {
		t.Errorf("session after a silent refresh: %s, want %s", got, sid)
	}

	// 4. Expired again: a plain navigation to a protected page goes through
	// the login page's silent refresh and back, without the form, and the
	// cart (kept with the refresh family) survives.
	waitExpired(t, tab1)
	mark = rec.mark()
	step(t, tab1, "navigate after expiry", chromedp.Navigate(base+"/cart"))
	waitFor(t, tab1, "back on /cart after a silent refresh", `location.pathname === "/cart" && !!document.getElementById("cart")`)
	assertCart(t, tab1, "mug", "1")
	if got := rec.since(mark).summary(); got != "GET /cart 303, GET /login 200, POST /auth/refresh 200, GET /cart 200" {
		t.Errorf("navigation after expiry made %s, want a redirect through the login page's silent refresh", got)
	}

	// 5. Two tabs refresh at once with the same refresh token. The server
	// holds each refresh until both have arrived, so both were sent before
	// either got an answer; both must get the same new pair, and the
	// session must live on.
	tab2, cancelTab2 := chromedp.NewContext(tab1)
	defer cancelTab2()
	openTab(t, tab2)
	step(t, tab2, "second tab", chromedp.Navigate(base+"/cart"), chromedp.WaitVisible(css(`#who`)))
	waitExpired(t, tab1)
	mark = rec.mark()
	rec.holdRefreshes(2)
	const probe = `shopFetch("/auth/session").then(async r => ({status: r.status, sid: r.ok ? (await r.json()).sid : ""}))`
	type probeResult struct {
		Status int
		SID    string
	}
	results := make([]probeResult, 2)
	errs := make([]error, 2)
	var wg sync.WaitGroup
	for i, tab := range []context.Context{tab1, tab2} {
		wg.Go(func() {
			results[i], errs[i] = chromedp.Run(tab, chromedp.Evaluate[probeResult](probe, chromedp.EvalAwaitPromise))
		})
	}
	wg.Wait()
	for i := range 2 {
		if errs[i] != nil {
			t.Fatalf("tab %d: %v", i+1, errs[i])
		}
		if results[i].Status != 200 || results[i].SID != sid {
			t.Errorf("tab %d after a concurrent refresh: %d, session %q; want 200, %s", i+1, results[i].Status, results[i].SID, sid)
		}
	}
	refreshes := rec.since(mark).only("POST /auth/refresh")
	if len(refreshes) != 2 || refreshes[0].refresh == "" || refreshes[0].refresh != refreshes[1].refresh || !refreshes[0].held || !refreshes[1].held {
		t.Errorf("refreshes %s: want two, held together, carrying the same refresh token", refreshes.summary())
	}
	for _, r := range refreshes {
		if r.status != 200 {
			t.Errorf("a racing refresh got %d, want 200", r.status)
		}
	}
	for i, tab := range []context.Context{tab1, tab2} {
		step(t, tab, fmt.Sprintf("reload tab %d", i+1), chromedp.Navigate(base+"/cart"), chromedp.WaitVisible(css(`#who`)))
		if loc := location(t, tab); loc != base+"/cart" {
			t.Errorf("tab %d after the race: at %s, want still signed in on /cart", i+1, loc)
		}
	}
	if status := eval[int](t, tab1, `fetch("/auth/refresh", {method: "POST"}).then(r => r.status)`); status != 200 {
		t.Errorf("a refresh after the race: %d, want 200 (the family lives on)", status)
	}
	if strings.Contains(logs.String(), "refresh_token_reused") {
		t.Error("the concurrent refresh was taken for theft")
	}
	cancelTab2()

	// 6. A form on another origin posts to logout: refused, and the session
	// survives. The same-site origin's post carries both cookies, so it is
	// the cross-origin check, not SameSite, that stops it.
	for _, origin := range attackers {
		tab, cancel := chromedp.NewContext(tab1)
		openTab(t, tab)
		mark = rec.mark()
		step(t, tab, "cross-origin form from "+origin, chromedp.Navigate(origin+"/"))
		posts := rec.await(t, mark, "POST /auth/logout")
		if len(posts) != 1 || posts[0].status != http.StatusForbidden || posts[0].origin != origin {
			t.Errorf("forged logout from %s: %s, want one POST refused with 403", origin, posts.summary())
		} else {
			waitFor(t, tab, "the forged logout's answer", fmt.Sprintf(`location.href === %q && document.readyState === "complete"`, base+"/auth/logout"))
			if body := text(t, tab, `body`); !strings.Contains(body, `"forbidden"`) {
				t.Errorf("forged logout from %s: the page shows %q", origin, body)
			}
		}
		cancel()
		sameSite := origin == evilSrv.URL
		if carried := posts[0].access != "" && posts[0].refresh != ""; carried != sameSite {
			t.Errorf("forged logout from %s carried the cookies: %v, want %v", origin, carried, sameSite)
		}
		if c := cookies(t, tab1); c[accessCookie] == nil || c[refreshCookie] == nil {
			t.Errorf("after the forged logout from %s the browser lost its cookies", origin)
		}
		if got := sessionID(t, tab1); got != sid {
			t.Errorf("after the forged logout from %s the session is %q, want %s", origin, got, sid)
		}
	}

	// 7. Once more expired, the home page (whose session is optional) first
	// renders signed out, refreshes silently and reloads signed in. Then
	// logout clears both cookies, and the server ends the session.
	waitExpired(t, tab1)
	mark = rec.mark()
	step(t, tab1, "home page after expiry", chromedp.Navigate(base+"/"), chromedp.WaitVisible(css(`#logout`)))
	if got := rec.since(mark).summary(); got != "GET / 200, POST /auth/refresh 200, GET / 200" {
		t.Errorf("home page after expiry made %s, want a silent refresh and a reload", got)
	}
	refresh := cookies(t, tab1)[refreshCookie]
	mark = rec.mark()
	step(t, tab1, "log out",
		chromedp.Click(css(`#logout`)),
		chromedp.WaitVisible(css(`a[href="/login"]`)),
	)
	jar = cookies(t, tab1)
	for _, name := range []string{accessCookie, refreshCookie} {
		if jar[name] != nil {
			t.Errorf("after logout the browser still holds %s", describe(jar[name]))
		}
	}
	if p := rec.since(mark).only("POST /auth/logout"); len(p) != 1 || p[0].status != http.StatusNoContent {
		t.Errorf("logout: %s, want one 204", p.summary())
	}
	if refresh != nil {
		req, _ := http.NewRequest("POST", base+"/auth/refresh", nil)
		req.AddCookie(&http.Cookie{Name: refreshCookie, Value: refresh.Value})
		resp, err := shopSrv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusUnauthorized {
			t.Errorf("the refresh token from before logout: %d, want 401", resp.StatusCode)
		}
	}
	t.Logf("browser test took %v", time.Since(start).Round(time.Millisecond))
}

type css = chromedp.CSS

// openTab opens the tab of a new chromedp context (the first one starts
// the browser). The tab lives as long as ctx: the steps run in it with
// shorter deadlines.
func openTab(t *testing.T, ctx context.Context) {
	t.Helper()
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("opening a tab: %v", err)
	}
}

// stepTimeout bounds each step, so that a page that never shows what a step
// waits for fails that step, not the whole test at its deadline.
const stepTimeout = 15 * time.Second

// step runs the steps in the tab, and fails the test on an error.
func step(t *testing.T, ctx context.Context, what string, steps ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	ctx, cancel := context.WithTimeout(ctx, stepTimeout)
	defer cancel()
	if err := chromedp.Do(ctx, steps...); err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

// eval evaluates JavaScript in the tab, awaiting a promise.
func eval[T any](t *testing.T, ctx context.Context, js string) T {
	t.Helper()
	ctx, cancel := context.WithTimeout(ctx, stepTimeout)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](js, chromedp.EvalAwaitPromise))
	if err != nil {
		t.Fatalf("%s: %v", js, err)
	}
	return v
}

func text(t *testing.T, ctx context.Context, sel string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(ctx, stepTimeout)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Text(css(sel)))
	if err != nil {
		t.Fatalf("text of %s: %v", sel, err)
	}
	return v
}

// waitFor polls a JavaScript condition (an expression, or a promise of
// one) in the tab until it is true, for at most 10 s.
func waitFor(t *testing.T, ctx context.Context, what, cond string) {
	t.Helper()
	// Polled from Go, not with chromedp.Poll: a poll running in the page
	// does not survive the navigations some conditions wait for.
	deadline := time.After(10 * time.Second)
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		ok, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`(async () => { try { return !!(await (`+cond+`)) } catch (e) { return false } })()`, chromedp.EvalAwaitPromise))
		if err == nil && ok {
			return
		}
		select {
		case <-tick.C:
		case <-deadline:
			t.Fatalf("waiting for %s: %s (err %v)", what, cond, err)
		}
	}
}

// waitExpired waits until the tab's access token has expired by the
// server's clock (browserTTL after it was minted): a plain fetch of
// /auth/session, which does not refresh, answers 401.
func waitExpired(t *testing.T, ctx context.Context) {
	t.Helper()
	waitFor(t, ctx, "the access token to expire", `fetch("/auth/session").then(r => r.status === 401)`)
}

func location(t *testing.T, ctx context.Context) string {
	t.Helper()
	loc, err := chromedp.Run(ctx, chromedp.Location())
	if err != nil {
		t.Fatal(err)
	}
	return loc
}

// sessionID asks the server for the tab's session, through shopFetch.
func sessionID(t *testing.T, ctx context.Context) string {
	t.Helper()
	return eval[string](t, ctx, `shopFetch("/auth/session").then(r => r.ok ? r.json().then(b => b.sid) : "status " + r.status)`)
}

func assertCart(t *testing.T, ctx context.Context, sku, qty string) {
	t.Helper()
	if got := text(t, ctx, fmt.Sprintf(`td[data-sku=%q] + td`, sku)); got != qty {
		t.Errorf("cart has %s × %s, want %s", got, sku, qty)
	}
}

// cookies returns the browser's cookies for the shop by name, all paths.
func cookies(t *testing.T, ctx context.Context) map[string]*network.Cookie {
	t.Helper()
	res, err := chromedp.Run(ctx, func(ctx context.Context, t *chromedp.Target) (storage.GetCookiesResult, error) {
		return cdp.Call(ctx, t, storage.GetCookies, storage.GetCookiesParams{})
	})
	if err != nil {
		t.Fatal(err)
	}
	m := make(map[string]*network.Cookie)
	for _, c := range res.Cookies {
		if c.Domain == "127.0.0.1" {
			m[c.Name] = c
		}
	}
	return m
}

func describe(c *network.Cookie) string {
	if c == nil {
		return "missing"
	}
	return fmt.Sprintf("%s (domain %s, path %s, HttpOnly %v, Secure %v, SameSite %s, session %v)", c.Name, c.Domain, c.Path, c.HTTPOnly, c.Secure, c.SameSite, c.Session)
}

// testCert makes a self-signed certificate for 127.0.0.1 and localhost, and
// returns it with its SPKI hash in the form Chromium's
// --ignore-certificate-errors-spki-list takes.
func testCert(t *testing.T) (tls.Certificate, string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(time.Now().UnixNano()),
		Subject:               pkix.Name{CommonName: "sesame browser test"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1)},
		DNSNames:              []string{"localhost"},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(leaf.RawSubjectPublicKeyInfo)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}, base64.StdEncoding.EncodeToString(sum[:])
}

// startTLS serves h over TLS (HTTP/2, as a production server would) with
// cert on addr.
func startTLS(t *testing.T, addr string, h http.Handler, cert tls.Certificate) *httptest.Server {
	t.Helper()
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewUnstartedServer(h)
	srv.Listener.Close()
	srv.Listener = ln
	srv.EnableHTTP2 = true
	srv.TLS = &tls.Config{Certificates: []tls.Certificate{cert}}
	srv.StartTLS()
	t.Cleanup(srv.Close)
	return srv
}

// recorder notes every request the shop answers: what it carried and the
// status. holdRefreshes makes the next n refreshes wait for each other.
type recorder struct {
	next http.Handler

	mu       sync.Mutex
	seen     requests
	hold     int           // refreshes still to gather
	release  chan struct{} // closed when they have all arrived
	answered chan struct{} // closed (and replaced) each time a request is answered
}

type request struct {
	method, path    string
	origin          string
	access, refresh string // cookie values carried
	held            bool   // waited for the other racing refreshes
	status          int
}

type requests []*request

func (rs requests) summary() string {
	var b []string
	for _, r := range rs {
		b = append(b, fmt.Sprintf("%s %s %d", r.method, r.path, r.status))
	}
	return strings.Join(b, ", ")
}

func (rs requests) only(methodPath string) requests {
	var out requests
	for _, r := range rs {
		if r.method+" "+r.path == methodPath {
			out = append(out, r)
		}
	}
	return out
}

func (rec *recorder) mark() int {
	rec.mu.Lock()
	defer rec.mu.Unlock()
	return len(rec.seen)
}

func (rec *recorder) since(mark int) requests {
	rec.mu.Lock()
	defer rec.mu.Unlock()
	out := make(requests, 0, len(rec.seen)-mark)
	for _, r := range rec.seen[mark:] {
		c := *r
		out = append(out, &c)
	}
	return out
}

// await waits, at most 10 s, until a request for methodPath made since mark
// has been answered, and returns those made since mark.
func (rec *recorder) await(t *testing.T, mark int, methodPath string) requests {
	t.Helper()
	deadline := time.After(10 * time.Second)
	for {
		rec.mu.Lock()
		answered := rec.answered
		rec.mu.Unlock()
		rs := rec.since(mark).only(methodPath)
		if len(rs) > 0 && rs[0].status != 0 {
			return rs
		}
		select {
		case <-answered: // some request got its answer: look again
		case <-deadline:
			t.Fatalf("no answer to %s in 10 s", methodPath)
		}
	}
}

func (rec *recorder) holdRefreshes(n int) {
	rec.mu.Lock()
	defer rec.mu.Unlock()
	rec.hold, rec.release = n, make(chan struct{})
}

func (rec *recorder) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path == "/favicon.ico" {
		http.NotFound(w, r)
		return
	}
	req := &request{method: r.Method, path: r.URL.Path, origin: r.Header.Get("Origin")}
	if c, err := r.Cookie(accessCookie); err == nil {
		req.access = c.Value
	}
	if c, err := r.Cookie(refreshCookie); err == nil {
		req.refresh = c.Value
	}
	rec.mu.Lock()
	rec.seen = append(rec.seen, req)
	var wait chan struct{}
	if r.Method == http.MethodPost && r.URL.Path == "/auth/refresh" && rec.hold > 0 {
		wait = rec.release
		if rec.hold--; rec.hold == 0 {
			close(rec.release)
		}
	}
	rec.mu.Unlock()
	if wait != nil {
		select {
		case <-wait:
			rec.mu.Lock()
			req.held = true
			rec.mu.Unlock()
		case <-time.After(5 * time.Second):
		case <-r.Context().Done():
		}
	}
	ww := middleware.NewWrapResponseWriter(w, r.ProtoMajor)
	rec.next.ServeHTTP(ww, r)
	rec.mu.Lock()
	req.status = ww.Status()
	close(rec.answered)
	rec.answered = make(chan struct{})
	rec.mu.Unlock()
}
