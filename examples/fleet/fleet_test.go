//go:build fleet

package fleet_test

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/sesame-go/sesame/internal/redistest"
	"github.com/sesame-go/sesame/internal/sesametest"
	"github.com/sesame-go/sesame/internal/sesametest/sessiondtest"
)

// start runs a process owned by the test, stopped at cleanup (see
// sesametest.StartProcess).
func start(t *testing.T, dir, name string, env []string, args ...string) {
	t.Helper()
	sesametest.StartProcess(t, dir, filepath.Base(name), name, env, args...)
}

func waitFor(t *testing.T, d time.Duration, what string, cond func() bool) time.Duration {
	t.Helper()
	return sesametest.WaitFor(t, time.Millisecond, d, what, cond)
}

type resp struct {
	status   int
	upstream string
	raw      []byte
	body     map[string]any
}

// A client is one source address. sessiond sees it, through nginx and
// X-Forwarded-For, as a client of its own.
type client struct {
	ip string
	hc *http.Client
}

// direct is for requests straight to a node, from 127.0.0.1.
var direct = &client{ip: "127.0.0.1", hc: &http.Client{Timeout: 5 * time.Second}}

// from returns a client whose connections leave from ip, a loopback
// address (Linux routes all of 127/8 to lo, so any of them can be bound).
// Never 127.0.0.1: that is nginx's address, the trusted proxy.
func from(t *testing.T, ip string) *client {
	tr := sesametest.DialFrom(t, ip)
	tr.MaxIdleConnsPerHost = 1
	return &client{ip: ip, hc: &http.Client{Transport: tr, Timeout: 5 * time.Second}}
}

// do sends a request in header transport; header holds extra name, value
// pairs.
func (c *client) do(t *testing.T, method, url, body, bearer string, header ...string) resp {
	t.Helper()
	h := sesametest.HeaderTransport()
	if bearer != "" {
		h = append(h, sesametest.Bearer(bearer)...)
	}
	res := sesametest.Send(t, c.hc, method, url, body, append(h, header...)...)
	r := resp{status: res.Status, upstream: res.Header.Get("X-Upstream"), raw: []byte(res.Body)}
	_ = json.Unmarshal(r.raw, &r.body)
	return r
}

func str(r resp, k string) string { s, _ := r.body[k].(string); return s }

func TestFleet(t *testing.T) {
	if _, err := exec.LookPath("nginx"); err != nil {
		t.Skip("nginx not installed (Debian: apt-get install -y nginx)")
	}
	dir := t.TempDir()
	bin := sessiondtest.Build(t, dir, "sessiond")
	srv := redistest.Start(t, nil)
	url := "redis://" + srv.Addr() + "/0"
	usersFile := sessiondtest.UsersFile(t, dir)
	env := []string{"SESAME_MASTER_KEY=" + base64.StdEncoding.EncodeToString(make([]byte, 32))}

	var nodes []string
	for i := range 3 {
		addr := sesametest.FreeAddr(t)
		nd := filepath.Join(dir, fmt.Sprint("node", i+1))
		os.Mkdir(nd, 0o700)
		// nginx reaches the nodes from 127.0.0.1: the one trusted proxy.
		start(t, nd, bin, env, "--addr", addr, "--redis", url, "--keyset", url, "--users", usersFile,
			"--trusted-proxies", "127.0.0.1", "--insecure-cookies", "--log-format", "text")
		nodes = append(nodes, addr)
	}
	for _, n := range nodes {
		waitFor(t, 20*time.Second, n+" ready", func() bool {
			res, err := direct.hc.Get("http://" + n + "/readyz")
			if err != nil {
				return false
			}
			res.Body.Close()
			return res.StatusCode == 200
		})
	}
	lb := sesametest.FreeAddr(t)
	conf := renderConf(t, dir, lb, nodes)
	start(t, dir, "nginx", nil, "-e", filepath.Join(dir, "error.log"), "-p", dir, "-c", conf, "-g", "daemon off;")
	base := "http://" + lb
	waitFor(t, 10*time.Second, "nginx", func() bool {
		res, err := direct.hc.Get(base + "/healthz")
		if err != nil {
			return false
		}
		res.Body.Close()
		return res.StatusCode == 200
	})

	// Clients from 127.0.0.2 to 127.0.0.253, taken in turn; 127.0.0.254 is
	// kept for the throttling check at the end. sessiond allows 20 logins
	// per client address per node, so the 200+ logins below pass only if it
	// tells these clients apart.
	var pool []*client
	for n := 2; n <= 253; n++ {
		pool = append(pool, from(t, fmt.Sprintf("127.0.0.%d", n)))
	}
	turn := 0
	next := func() *client { c := pool[turn%len(pool)]; turn++; return c }
	const creds = `{"username":"alice","password":"alice-pw"}`
	login := func(c *client, header ...string) (access, refresh string) {
		t.Helper()
		r := c.do(t, "POST", base+"/auth/login", creds, "", header...)
		if r.status != 200 {
			t.Fatalf("login from %s: %d %v", c.ip, r.status, r.body)
		}
		return str(r, "access_token"), str(r, "refresh_token")
	}

	// sessiond records each client's own address, read from the
	// X-Forwarded-For that nginx wrote, not nginx's 127.0.0.1, and not what
	// the client wrote there itself.
	for _, tc := range []struct {
		name   string
		header []string
	}{
		{"no X-Forwarded-For", nil},
		{"forged X-Forwarded-For", []string{"X-Forwarded-For", "203.0.113.9"}},
		{"forged X-Forwarded-For ending in the proxy", []string{"X-Forwarded-For", "203.0.113.9, 127.0.0.1"}},
		{"two forged X-Forwarded-For", []string{"X-Forwarded-For", "203.0.113.9", "X-Forwarded-For", "198.51.100.7"}},
	} {
		c := next()
		a, _ := login(c, tc.header...)
		if got := currentIP(t, c, base, a); got != c.ip {
			t.Errorf("%s: session from %s recorded with IP %q, want %q", tc.name, c.ip, got, c.ip)
		}
	}

	access, refresh := login(next())

	// Requests spread over all nodes.
	served := map[string]int{}
	for range 30 {
		r := next().do(t, "GET", base+"/api/whoami", "", access)
		if r.status != 200 {
			t.Fatalf("whoami through nginx: %d %v", r.status, r.body)
		}
		served[r.upstream]++
	}
	for _, n := range nodes {
		if served[n] == 0 {
			t.Errorf("node %s served none of 30 requests: %v", n, served)
		}
	}
	t.Logf("30 requests through nginx: %v", served)

	// Refresh on node 1, use on node 2 and 3.
	r := direct.do(t, "POST", "http://"+nodes[0]+"/auth/refresh", `{"refresh_token":"`+refresh+`"}`, "")
	if r.status != 200 {
		t.Fatalf("refresh on node 1: %d %v", r.status, r.body)
	}
	access2 := str(r, "access_token")
	for _, n := range nodes[1:] {
		if r := direct.do(t, "GET", "http://"+n+"/api/whoami", "", access2); r.status != 200 {
			t.Fatalf("refreshed token on %s: %d %v", n, r.status, r.body)
		}
	}

	// Logout through nginx; the old token is refused on every node.
	if r := next().do(t, "POST", base+"/auth/logout", "", access2); r.status != 204 && r.status != 200 {
		t.Fatalf("logout: %d %v", r.status, r.body)
	}
	for _, n := range nodes {
		waitFor(t, 5*time.Second, "refused on "+n, func() bool {
			return direct.do(t, "GET", "http://"+n+"/api/whoami", "", access2).status == 401
		})
	}

	// Propagation: logout response -> every node refuses the token. Each
	// round logs in and out from the next client address.
	const rounds = 200
	var lat []time.Duration
	for range rounds {
		c := next()
		a, _ := login(c)
		if r := c.do(t, "POST", base+"/auth/logout", "", a); r.status != 204 && r.status != 200 {
			t.Fatalf("logout: %d %v", r.status, r.body)
		}
		done := time.Now()
		refused := make([]bool, len(nodes))
		waitFor(t, 5*time.Second, "propagation", func() bool {
			all := true
			for i, n := range nodes {
				if !refused[i] {
					refused[i] = direct.do(t, "GET", "http://"+n+"/api/whoami", "", a).status == 401
				}
				all = all && refused[i]
			}
			return all
		})
		lat = append(lat, time.Since(done))
	}
	slices.Sort(lat)
	t.Logf("revocation propagation over 3 nodes, %d logouts through nginx: p50 %v, p99 %v, max %v",
		rounds, lat[rounds/2], lat[rounds*99/100], lat[rounds-1])

	// The login limit holds per real client: one address that writes a new
	// X-Forwarded-For each time is still one client. Three nodes allow it
	// 3×20 logins between them, so the 61st at the latest is refused (the
	// 21st at the earliest); a client at another address still logs in.
	const perNode = 20
	mallory := from(t, "127.0.0.254")
	limited := 0
	for i := 1; i <= len(nodes)*perNode+1 && limited == 0; i++ {
		r := mallory.do(t, "POST", base+"/auth/login", creds, "", "X-Forwarded-For", fmt.Sprintf("203.0.113.%d", i))
		switch r.status {
		case 200:
		case 429:
			limited = i
		default:
			t.Fatalf("login %d from %s: %d %v", i, mallory.ip, r.status, r.body)
		}
	}
	switch {
	case limited == 0:
		t.Errorf("%d logins from %s, each with a new forged X-Forwarded-For: none refused", len(nodes)*perNode+1, mallory.ip)
	case limited <= perNode:
		t.Errorf("login %d from %s refused, before any node could have seen %d from it", limited, mallory.ip, perNode+1)
	}
	login(next())
	t.Logf("one address forging X-Forwarded-For: refused at login %d; other clients unaffected", limited)
}

// currentIP lists the sessions of access's user through c and returns the
// IP recorded for access's own session.
func currentIP(t *testing.T, c *client, base, access string) string {
	t.Helper()
	r := c.do(t, "GET", base+"/auth/sessions", "", access)
	if r.status != 200 {
		t.Fatalf("sessions from %s: %d %s", c.ip, r.status, r.raw)
	}
	var list []struct {
		IP      string `json:"ip"`
		Current bool   `json:"current"`
	}
	if err := json.Unmarshal(r.raw, &list); err != nil {
		t.Fatalf("sessions: %v: %s", err, r.raw)
	}
	for _, s := range list {
		if s.Current {
			return s.IP
		}
	}
	t.Fatalf("sessions from %s: none current: %s", c.ip, r.raw)
	return ""
}

func renderConf(t *testing.T, dir, listen string, nodes []string) string {
	tmpl, err := os.ReadFile("nginx.conf.tmpl")
	if err != nil {
		t.Fatal(err)
	}
	s := strings.NewReplacer("@DIR@", dir, "@LISTEN@", listen, "@NODE1@", nodes[0], "@NODE2@", nodes[1],
		"@NODE3@", nodes[2]).Replace(string(tmpl))
	p := filepath.Join(dir, "nginx.conf")
	if err := os.WriteFile(p, []byte(s), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}
