//go:build gateway

package gateway_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"
	"github.com/redis/go-redis/v9"

	"github.com/sesame-go/sesame/auth"
	"github.com/sesame-go/sesame/internal/redistest"
	"github.com/sesame-go/sesame/internal/sesametest"
	"github.com/sesame-go/sesame/internal/sesametest/browsertest"
	"github.com/sesame-go/sesame/internal/sesametest/sessiondtest"
	"github.com/sesame-go/sesame/keys"
	"github.com/sesame-go/sesame/revocation"
	"github.com/sesame-go/sesame/users"
)

// stalenessBound is the nodes' --staleness-bound: the bound on how long a
// logout on one node may take to be refused by the other.
const stalenessBound = 2 * time.Second

// waitFor polls cond until it holds, for at most d, and returns how long
// that took.
func waitFor(t *testing.T, d time.Duration, what string, cond func() bool) time.Duration {
	t.Helper()
	return sesametest.WaitFor(t, 2*time.Millisecond, d, what, cond)
}

// from returns an HTTP client whose connections leave from ip (a loopback
// address other than 127.0.0.1, which the nodes trust as the proxy), with a
// cookie jar, and that does not follow redirects.
func from(t *testing.T, ip string) *http.Client {
	jar, _ := cookiejar.New(nil)
	return &http.Client{Transport: sesametest.DialFrom(t, ip), Jar: jar, Timeout: 5 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

// resp is an answer, as the shared harness reads it.
type resp = sesametest.Response

// do sends a request; header holds name, value pairs (see sesametest.Do).
func do(t *testing.T, c *http.Client, method, u, body string, header ...string) resp {
	t.Helper()
	return sesametest.Send(t, c, method, u, body, header...)
}

// echo is what the app saw of a request.
type echo struct {
	Method  string      `json:"method"`
	URL     string      `json:"url"`
	Headers [][2]string `json:"headers"`
	Body    string      `json:"body"`
}

func parseEcho(t *testing.T, s string) echo {
	t.Helper()
	var e echo
	if err := json.Unmarshal([]byte(s), &e); err != nil {
		t.Fatalf("not an echo from the app: %v: %q", err, s)
	}
	return e
}

// values returns every value the app received under name, each line apart.
func (e echo) values(name string) []string {
	var out []string
	for _, h := range e.Headers {
		if strings.EqualFold(h[0], name) {
			out = append(out, h[1])
		}
	}
	return out
}

func TestGateway(t *testing.T) {
	nginx := sesametest.Need(t, "nginx", "apt-get install -y nginx")
	node := sesametest.Need(t, "node", "apt-get install -y nodejs")
	chrome := sesametest.Need(t, "chromium", "apt-get install -y chromium")

	dir := t.TempDir()
	sessiondtest.Build(t, dir, "sessiond", "sessionctl")
	srv := redistest.Start(t, nil)
	redisURL := "redis://" + srv.Addr() + "/0"
	usersFile := sessiondtest.UsersFile(t, dir)
	// The introspection client, made as an operator would.
	clientsFile := filepath.Join(dir, "clients.json")
	out, err := exec.Command(filepath.Join(dir, "sessionctl"), "clients", "add", "gw", "--clients", clientsFile).Output()
	if err != nil {
		t.Fatalf("sessionctl clients add: %v", err)
	}
	clientSecret := strings.TrimSpace(string(out))
	masterKey := make([]byte, 32)
	env := []string{"SESAME_MASTER_KEY=" + base64.StdEncoding.EncodeToString(masterKey)}

	var nodes []string
	for i := range 2 {
		addr := sesametest.FreeAddr(t)
		nd := filepath.Join(dir, fmt.Sprint("node", i+1))
		os.Mkdir(nd, 0o700)
		sesametest.StartProcess(t, nd, fmt.Sprint("sessiond", i+1), filepath.Join(dir, "sessiond"), env, "--addr", addr, "--redis", redisURL, "--keyset", redisURL,
			"--users", usersFile, "--trusted-proxies", "127.0.0.1", "--insecure-cookies", "--log-format", "text",
			"--introspection-clients", clientsFile, "--staleness-bound", stalenessBound.String())
		nodes = append(nodes, addr)
	}
	direct := &http.Client{Timeout: 5 * time.Second}
	for _, n := range nodes {
		waitFor(t, 20*time.Second, n+" ready", func() bool {
			res, err := direct.Get("http://" + n + "/readyz")
			if err != nil {
				return false
			}
			res.Body.Close()
			return res.StatusCode == 200
		})
	}
	wd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	app := sesametest.FreeAddr(t)
	sesametest.StartProcess(t, dir, "upstream", node, nil, filepath.Join(wd, "upstream.js"), app)
	lb := sesametest.FreeAddr(t)
	conf := renderConf(t, dir, lb, nodes, app)
	sesametest.StartProcess(t, dir, "nginx", nginx, nil, "-e", filepath.Join(dir, "error.log"), "-p", dir, "-c", conf, "-g", "daemon off;")
	base := "http://" + lb
	waitFor(t, 10*time.Second, "nginx and the app", func() bool {
		res, err := direct.Get(base + "/auth/login") // 405 from sessiond: nginx is up
		if err != nil {
			return false
		}
		res.Body.Close()
		c, err := net.Dial("tcp", app)
		if err != nil {
			return false
		}
		c.Close()
		return res.StatusCode == 405
	})

	api := from(t, "127.0.0.2")
	login := func(c *http.Client, header ...string) resp {
		t.Helper()
		r := do(t, c, "POST", base+"/auth/login", `{"username":"alice","password":"alice-pw"}`,
			append([]string{"Content-Type", "application/json"}, header...)...)
		if r.Status != 200 {
			t.Fatalf("login: %d %s", r.Status, r.Body)
		}
		return r
	}
	bearerLogin := func() string {
		var tk struct {
			AccessToken string `json:"access_token"`
		}
		json.Unmarshal([]byte(login(api, "X-Session-Transport", "header").Body), &tk)
		return tk.AccessToken
	}

	t.Run("no session", func(t *testing.T) {
		r := do(t, api, "GET", base+"/api/orders", "", "Accept", "application/json", "Sec-Fetch-Mode", "cors")
		if r.Status != 401 || r.Header.Get("WWW-Authenticate") == "" || !strings.Contains(r.Body, "unauthenticated") {
			t.Errorf("API call: %d %q %s, want 401 with WWW-Authenticate and the JSON body", r.Status, r.Header.Get("WWW-Authenticate"), r.Body)
		}
		r = do(t, api, "GET", base+"/app/page?x=1&y=2", "", "Accept", "text/html", "Sec-Fetch-Mode", "navigate")
		if want := "/auth/login?rd=%2Fapp%2Fpage%3Fx%3D1%26y%3D2"; r.Status != 302 || r.Header.Get("Location") != want {
			t.Errorf("navigation: %d Location %q, want 302 %s", r.Status, r.Header.Get("Location"), want)
		}
	})

	t.Run("sign in through the page in a browser", func(t *testing.T) {
		browse(t, chrome, base)
	})

	t.Run("a client's own identity headers never reach the app", func(t *testing.T) {
		tok := bearerLogin()
		forged := []string{"X-Sesame-User", "admin", "X-Sesame-Data", "eyJyb2xlIjoiYWRtaW4ifQ", "X-Sesame-Session", "forged",
			"X-Sesame-Expires", "9999999999", "X-Sesame-Data-Omitted", "1"}
		r := do(t, api, "GET", base+"/api/me", "", append([]string{"Authorization", "Bearer " + tok}, forged...)...)
		if r.Status != 200 {
			t.Fatalf("with a session: %d %s", r.Status, r.Body)
		}
		e := parseEcho(t, r.Body)
		if got := e.values("X-Sesame-User"); len(got) != 1 || got[0] != "alice" {
			t.Errorf("the app saw X-Sesame-User %q, want only alice", got)
		}
		if got := e.values("X-Sesame-Session"); len(got) != 1 || got[0] == "forged" {
			t.Errorf("the app saw X-Sesame-Session %q", got)
		}
		if got := e.values("X-Sesame-Data-Omitted"); len(got) != 0 {
			t.Errorf("the app saw X-Sesame-Data-Omitted %q", got)
		}
		if strings.Contains(r.Body, "admin") || strings.Contains(r.Body, "eyJyb2xlIjoiYWRtaW4ifQ") || strings.Contains(r.Body, "9999999999") {
			t.Errorf("a forged value reached the app: %s", r.Body)
		}
		// Without a session nothing reaches the app, forged headers or not.
		r = do(t, api, "GET", base+"/api/me", "", forged...)
		if r.Status != 401 || strings.Contains(r.Body, "admin") {
			t.Errorf("without a session: %d %s, want 401", r.Status, r.Body)
		}
	})

	t.Run("cross-site POST refused, same-origin POST passes", func(t *testing.T) {
		c := from(t, "127.0.0.3")
		login(c) // cookie transport, as a browser
		for _, tc := range []struct {
			name   string
			header []string
			want   int
		}{
			{"cross-site", []string{"Sec-Fetch-Site", "cross-site", "Origin", "http://evil.example"}, 403},
			{"cross-site, no Fetch Metadata", []string{"Origin", "http://evil.example"}, 403},
			{"cross-site, forging X-Forwarded-Method", []string{"Sec-Fetch-Site", "cross-site", "X-Forwarded-Method", "GET"}, 403},
			{"same-origin", []string{"Sec-Fetch-Site", "same-origin", "Origin", base}, 200},
		} {
			r := do(t, c, "POST", base+"/api/orders", `{"item":"mug"}`, append([]string{"Content-Type", "application/json"}, tc.header...)...)
			if r.Status != tc.want {
				t.Errorf("%s: got %d, want %d (%s)", tc.name, r.Status, tc.want, r.Body)
				continue
			}
			if tc.want == 200 {
				if e := parseEcho(t, r.Body); e.Method != "POST" || e.Body != `{"item":"mug"}` || len(e.values("X-Sesame-User")) != 1 {
					t.Errorf("%s: the app saw %+v", tc.name, e)
				}
			}
		}
	})

	t.Run("a logout on one node is refused by the other", func(t *testing.T) {
		tok := bearerLogin()
		auth := []string{"Authorization", "Bearer " + tok}
		// Both nodes verify requests through nginx.
		seen := map[string]bool{}
		waitFor(t, 5*time.Second, "both nodes verifying", func() bool {
			r := do(t, api, "GET", base+"/api/me", "", auth...)
			if r.Status != 200 {
				t.Fatalf("before logout: %d %s", r.Status, r.Body)
			}
			seen[r.Header.Get("X-Verify-Node")] = true
			return seen[nodes[0]] && seen[nodes[1]]
		})
		if r := do(t, direct, "POST", "http://"+nodes[0]+"/auth/logout", "", auth...); r.Status != 204 {
			t.Fatalf("logout on node 1: %d %s", r.Status, r.Body)
		}
		took := waitFor(t, stalenessBound, "node 2 refusing the token through nginx", func() bool {
			r := do(t, api, "GET", base+"/api/me", "", auth...)
			return r.Status == 401 && r.Header.Get("X-Verify-Node") == nodes[1]
		})
		t.Logf("logout on node 1 refused by node 2 through nginx after %v (bound %v)", took.Round(time.Microsecond), stalenessBound)
		for range 4 {
			if r := do(t, api, "GET", base+"/api/me", "", auth...); r.Status != 401 {
				t.Errorf("after logout, through %s: %d", r.Header.Get("X-Verify-Node"), r.Status)
			}
		}
		introspect(t, api, base, "gw", clientSecret, tok, false, "revoked token")
	})

	t.Run("introspection", func(t *testing.T) {
		tok := bearerLogin()
		got := introspect(t, api, base, "gw", clientSecret, tok, true, "live token")
		if got["sub"] != "alice" || got["token_type"] != "access_token" {
			t.Errorf("live token: %v", got)
		}
		if d, _ := got["data"].(map[string]any); d["name"] != "alice" {
			t.Errorf("live token data: %v", got["data"])
		}
		introspect(t, api, base, "gw", clientSecret, expiredToken(t, srv.Addr(), masterKey), false, "expired token")
		introspect(t, api, base, "gw", clientSecret, "garbage", false, "garbage")
		for _, tc := range []struct{ name, id, secret string }{
			{"wrong secret", "gw", clientSecret[:len(clientSecret)-1] + "x"},
			{"unknown client", "kong", clientSecret},
		} {
			r := introspectRaw(t, api, base, tc.id, tc.secret, tok)
			if r.Status != 401 || strings.Contains(r.Body, "active") {
				t.Errorf("%s: %d %s, want 401", tc.name, r.Status, r.Body)
			}
		}
	})

	// Last, as it stops Redis: past the staleness bound a node cannot
	// vouch for any token and answers 503 with Retry-After, which nginx's
	// auth_request would make a 500; the documented error_page keeps it a
	// 503, Retry-After included.
	t.Run("replica past its staleness bound: 503 through nginx", func(t *testing.T) {
		tok := bearerLogin()
		srv.Kill()
		var last resp
		took := waitFor(t, 3*stalenessBound+5*time.Second, "503 through nginx", func() bool {
			last = do(t, api, "GET", base+"/api/me", "", "Authorization", "Bearer "+tok)
			return last.Status == 503
		})
		if last.Header.Get("Retry-After") == "" || !strings.Contains(last.Body, "unavailable") {
			t.Errorf("503 through nginx: Retry-After %q, body %s", last.Header.Get("Retry-After"), last.Body)
		}
		t.Logf("Redis stopped: 503 with Retry-After %s through nginx after %v", last.Header.Get("Retry-After"), took.Round(time.Millisecond))
	})
}

func introspectRaw(t *testing.T, c *http.Client, base, id, secret, tok string) resp {
	t.Helper()
	return do(t, c, "POST", base+"/auth/introspect", url.Values{"token": {tok}}.Encode(),
		append([]string{"Content-Type", "application/x-www-form-urlencoded"}, sesametest.BasicAuth(id, secret)...)...)
}

func introspect(t *testing.T, c *http.Client, base, id, secret, tok string, active bool, what string) map[string]any {
	t.Helper()
	r := introspectRaw(t, c, base, id, secret, tok)
	var got map[string]any
	if r.Status != 200 || json.Unmarshal([]byte(r.Body), &got) != nil || got["active"] != active {
		t.Fatalf("introspection of a %s: %d %s, want 200 active=%v", what, r.Status, r.Body, active)
	}
	if !active && len(got) != 1 {
		t.Errorf("introspection of a %s says more than inactive: %s", what, r.Body)
	}
	return got
}

// expiredToken mints an access token with the fleet's keyset (read from
// Redis with the master key) as of an hour ago: genuine, and expired.
func expiredToken(t *testing.T, redisAddr string, mk []byte) string {
	t.Helper()
	ctx := context.Background()
	client := redis.NewClient(&redis.Options{Addr: redisAddr})
	defer client.Close()
	master, err := keys.NewMasterKey(mk)
	if err != nil {
		t.Fatal(err)
	}
	ks, err := keys.NewRedisStore(client, master, nil).Load(ctx)
	if err != nil {
		t.Fatal(err)
	}
	store, err := revocation.NewMemory(nil)
	if err != nil {
		t.Fatal(err)
	}
	past := time.Now().Add(-time.Hour)
	m, err := auth.New(auth.Config[users.Profile]{
		Keys: ks, Store: store, DataKey: make([]byte, 32), Now: func() time.Time { return past },
		Authenticator: auth.AuthenticatorFunc[users.Profile](func(context.Context, string, string) (string, users.Profile, error) {
			return "", users.Profile{}, auth.ErrInvalidCredentials
		}),
	})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	req := httptest.NewRequest("POST", "/", nil)
	req.Header.Set(auth.TransportHeader, "header")
	tk, err := m.StartSession(httptest.NewRecorder(), req, "alice", users.Profile{Name: "alice"}, false)
	if err != nil {
		t.Fatal(err)
	}
	return tk.AccessToken
}

func renderConf(t *testing.T, dir, listen string, nodes []string, app string) string {
	tmpl, err := os.ReadFile("nginx.conf.tmpl")
	if err != nil {
		t.Fatal(err)
	}
	s := strings.NewReplacer("@DIR@", dir, "@LISTEN@", listen, "@NODE1@", nodes[0], "@NODE2@", nodes[1], "@APP@", app).Replace(string(tmpl))
	p := filepath.Join(dir, "nginx.conf")
	if err := os.WriteFile(p, []byte(s), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// browse signs in through the page in Chromium: the app's URL leads to the
// sign-in page, a wrong password shows the error next to the form, the
// right one lands back on the app's URL, where the app sees the identity.
func browse(t *testing.T, chrome, base string) {
	allocCtx, cancelAlloc := browsertest.Allocator(t, chrome)
	defer cancelAlloc()
	tab, cancel := chromedp.NewContext(allocCtx)
	defer cancel()
	tab, cancelTimeout := context.WithTimeout(tab, 60*time.Second)
	defer cancelTimeout()
	// The first action starts the browser, bound to tab's context (not to
	// a step's shorter one).
	if err := chromedp.Do(tab); err != nil {
		t.Fatalf("starting chromium: %v", err)
	}
	run := func(what string, steps ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		ctx, cancel := context.WithTimeout(tab, 15*time.Second)
		defer cancel()
		if err := chromedp.Do(ctx, steps...); err != nil {
			t.Fatalf("%s: %v", what, err)
		}
	}
	eval := func(js string) string {
		t.Helper()
		v, err := chromedp.Run(tab, chromedp.Evaluate[string](js))
		if err != nil {
			t.Fatalf("%s: %v", js, err)
		}
		return v
	}
	shots := os.Getenv("SESAME_ARTIFACTS")
	if shots == "" {
		var err error
		if shots, err = os.MkdirTemp("", "sesame-gateway-screenshots-"); err != nil {
			t.Fatal(err)
		}
	} else if err := os.MkdirAll(shots, 0o755); err != nil {
		t.Fatal(err)
	}
	shoot := func(name string, width, height int64) {
		t.Helper()
		run("viewport "+name, chromedp.EmulateViewport(width, height))
		png, err := chromedp.Run(tab, chromedp.FullScreenshot(100))
		if err != nil {
			t.Fatalf("screenshot %s: %v", name, err)
		}
		p := filepath.Join(shots, name+".png")
		if err := os.WriteFile(p, png, 0o644); err != nil {
			t.Fatal(err)
		}
		t.Logf("screenshot: %s", p)
	}

	const want = "/app/page?x=1&y=2"
	run("open the app without a session",
		chromedp.Navigate(base+want),
		chromedp.WaitVisible(chromedp.CSS(`#signin`)),
	)
	if loc := eval(`location.pathname + location.search`); loc != "/auth/login?rd=%2Fapp%2Fpage%3Fx%3D1%26y%3D2" {
		t.Errorf("the app's URL led to %s, want the sign-in page with rd", loc)
	}
	if eval(`document.activeElement.id`) != "username" {
		t.Error("the username field does not have the focus")
	}
	shoot("signin-375", 375, 740)
	shoot("signin-1280", 1280, 800)
	// The page follows prefers-color-scheme.
	dark := func(on bool) {
		t.Helper()
		v := "light"
		if on {
			v = "dark"
		}
		_, err := chromedp.Run(tab, func(ctx context.Context, tg *chromedp.Target) (cdp.Empty, error) {
			return cdp.Call(ctx, tg, emulation.SetEmulatedMedia, emulation.SetEmulatedMediaParams{
				Features: []*emulation.MediaFeature{{Name: "prefers-color-scheme", Value: v}},
			})
		})
		if err != nil {
			t.Fatalf("prefers-color-scheme %s: %v", v, err)
		}
	}
	light := eval(`getComputedStyle(document.body).backgroundColor`)
	dark(true)
	if bg := eval(`getComputedStyle(document.body).backgroundColor`); bg == light {
		t.Errorf("background %s in both colour schemes", bg)
	}
	shoot("signin-dark-375", 375, 740)
	dark(false)

	run("a wrong password",
		chromedp.SendKeys(chromedp.CSS(`#username`), "alice"),
		chromedp.SendKeys(chromedp.CSS(`#password`), "wrong"),
		chromedp.Click(chromedp.CSS(`#submit`)),
		chromedp.WaitVisible(chromedp.CSS(`#error`)),
	)
	if msg := eval(`document.getElementById("error").textContent`); !strings.Contains(msg, "do not match") {
		t.Errorf("error shown: %q", msg)
	}
	shoot("signin-error-375", 375, 740)
	run("viewport back", chromedp.EmulateViewport(1280, 800))

	run("the right password",
		chromedp.SendKeys(chromedp.CSS(`#password`), "alice-pw"),
		chromedp.Click(chromedp.CSS(`#submit`)),
		chromedp.WaitVisible(chromedp.CSS(`#echo`)),
	)
	if loc := eval(`location.href`); loc != base+want {
		t.Errorf("after signing in the browser is at %s, want %s", loc, base+want)
	}
	e := parseEcho(t, eval(`document.getElementById("echo").textContent`))
	if got := e.values("X-Sesame-User"); len(got) != 1 || got[0] != "alice" {
		t.Errorf("the app saw X-Sesame-User %q, want alice", got)
	}
	var data users.Profile
	if d := e.values("X-Sesame-Data"); len(d) != 1 {
		t.Errorf("the app saw X-Sesame-Data %q, want one", d)
	} else if raw, err := base64.RawURLEncoding.DecodeString(d[0]); err != nil || json.Unmarshal(raw, &data) != nil || data.Name != "alice" {
		t.Errorf("X-Sesame-Data %q does not decode to alice's profile (%v)", d[0], err)
	}
	if e.URL != want {
		t.Errorf("the app saw URL %q, want %q", e.URL, want)
	}
	if c := eval(`document.cookie`); c != "" {
		t.Errorf("document.cookie = %q: the session cookies must be HttpOnly", c)
	}

	// The sign-in page of a signed-in browser, without rd: a sign-out form.
	run("the sign-in page when signed in",
		chromedp.Navigate(base+"/auth/login"),
		chromedp.WaitVisible(chromedp.CSS(`#signout`)),
	)
	shoot("signed-in-375", 375, 740)
	run("viewport back", chromedp.EmulateViewport(1280, 800))
	run("sign out",
		chromedp.Click(chromedp.CSS(`#signout-button`)),
		chromedp.WaitVisible(chromedp.CSS(`#signin`)),
	)
	run("the app after signing out",
		chromedp.Navigate(base+want),
		chromedp.WaitVisible(chromedp.CSS(`#signin`)),
	)
}
