//go:build fleet

package fleet_test

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/sesame-go/sesame/internal/redistest"
	"github.com/sesame-go/sesame/internal/users"
)

func freeAddr(t *testing.T) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// start runs a process owned by the test, killed at cleanup.
func start(t *testing.T, dir, name string, env []string, args ...string) {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env...)
	log, err := os.Create(filepath.Join(dir, filepath.Base(name)+".log"))
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout, cmd.Stderr = log, log
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Signal(syscall.SIGTERM); _ = cmd.Wait(); log.Close() })
}

func waitFor(t *testing.T, d time.Duration, what string, cond func() bool) time.Duration {
	t.Helper()
	start := time.Now()
	tick := time.NewTicker(time.Millisecond)
	defer tick.Stop()
	for !cond() {
		if time.Since(start) > d {
			t.Fatalf("%s: not within %v", what, d)
		}
		<-tick.C
	}
	return time.Since(start)
}

type resp struct {
	status   int
	upstream string
	body     map[string]any
}

var hc = &http.Client{Timeout: 5 * time.Second}

func do(t *testing.T, method, url, body, bearer string) resp {
	t.Helper()
	req, _ := http.NewRequest(method, url, strings.NewReader(body))
	req.Header.Set("X-Session-Transport", "header")
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if bearer != "" {
		req.Header.Set("Authorization", "Bearer "+bearer)
	}
	res, err := hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	r := resp{status: res.StatusCode, upstream: res.Header.Get("X-Upstream")}
	_ = json.Unmarshal(b, &r.body)
	return r
}

func str(r resp, k string) string { s, _ := r.body[k].(string); return s }

func TestFleet(t *testing.T) {
	if _, err := exec.LookPath("nginx"); err != nil {
		t.Skip("nginx not installed (Debian: apt-get install -y nginx)")
	}
	dir := t.TempDir()
	bin := filepath.Join(dir, "sessiond")
	if out, err := exec.Command("go", "build", "-o", bin, "github.com/sesame-go/sesame/cmd/sessiond").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	srv := redistest.Start(t, nil)
	url := "redis://" + srv.Addr() + "/0"
	usersFile := filepath.Join(dir, "users.json")
	u, err := users.NewUser("alice", "alice-pw", users.Params{Time: 1, MemoryKiB: 1024, Threads: 1}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if err := users.Edit(usersFile, func(f *users.File) error { return f.Put(u, false) }); err != nil {
		t.Fatal(err)
	}
	env := []string{"SESAME_MASTER_KEY=" + base64.StdEncoding.EncodeToString(make([]byte, 32))}

	var nodes []string
	for i := range 3 {
		addr := freeAddr(t)
		nd := filepath.Join(dir, fmt.Sprint("node", i+1))
		os.Mkdir(nd, 0o700)
		start(t, nd, bin, env, "--addr", addr, "--redis", url, "--keyset", url, "--users", usersFile,
			"--insecure-cookies", "--log-format", "text")
		nodes = append(nodes, addr)
	}
	for _, n := range nodes {
		waitFor(t, 20*time.Second, n+" ready", func() bool {
			res, err := hc.Get("http://" + n + "/readyz")
			if err != nil {
				return false
			}
			res.Body.Close()
			return res.StatusCode == 200
		})
	}
	lb := freeAddr(t)
	conf := renderConf(t, dir, lb, nodes)
	start(t, dir, "nginx", nil, "-e", filepath.Join(dir, "error.log"), "-p", dir, "-c", conf, "-g", "daemon off;")
	base := "http://" + lb
	waitFor(t, 10*time.Second, "nginx", func() bool {
		res, err := hc.Get(base + "/healthz")
		if err != nil {
			return false
		}
		res.Body.Close()
		return res.StatusCode == 200
	})

	login := func() (access, refresh string) {
		r := do(t, "POST", base+"/auth/login", `{"username":"alice","password":"alice-pw"}`, "")
		if r.status != 200 {
			t.Fatalf("login: %d %v", r.status, r.body)
		}
		return str(r, "access_token"), str(r, "refresh_token")
	}
	access, refresh := login()

	// Requests spread over all nodes.
	served := map[string]int{}
	for range 30 {
		r := do(t, "GET", base+"/api/whoami", "", access)
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
	r := do(t, "POST", "http://"+nodes[0]+"/auth/refresh", `{"refresh_token":"`+refresh+`"}`, "")
	if r.status != 200 {
		t.Fatalf("refresh on node 1: %d %v", r.status, r.body)
	}
	access2 := str(r, "access_token")
	for _, n := range nodes[1:] {
		if r := do(t, "GET", "http://"+n+"/api/whoami", "", access2); r.status != 200 {
			t.Fatalf("refreshed token on %s: %d %v", n, r.status, r.body)
		}
	}

	// Logout through nginx; the old token is refused on every node.
	if r := do(t, "POST", base+"/auth/logout", "", access2); r.status != 204 && r.status != 200 {
		t.Fatalf("logout: %d %v", r.status, r.body)
	}
	for _, n := range nodes {
		waitFor(t, 5*time.Second, "refused on "+n, func() bool {
			return do(t, "GET", "http://"+n+"/api/whoami", "", access2).status == 401
		})
	}

	// Propagation: logout response -> every node refuses the token.
	const rounds = 200
	var lat []time.Duration
	for range rounds {
		a, _ := login()
		if r := do(t, "POST", base+"/auth/logout", "", a); r.status != 204 && r.status != 200 {
			t.Fatalf("logout: %d %v", r.status, r.body)
		}
		done := time.Now()
		refused := make([]bool, len(nodes))
		waitFor(t, 5*time.Second, "propagation", func() bool {
			all := true
			for i, n := range nodes {
				if !refused[i] {
					refused[i] = do(t, "GET", "http://"+n+"/api/whoami", "", a).status == 401
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
}

func renderConf(t *testing.T, dir, listen string, nodes []string) string {
	tmpl, err := os.ReadFile("nginx.conf.tmpl")
	if err != nil {
		t.Fatal(err)
	}
	var split strings.Builder
	for i := 1; i <= 100; i++ {
		fmt.Fprintf(&split, "        1%% 127.0.1.%d;\n", i)
	}
	s := strings.NewReplacer("@DIR@", dir, "@LISTEN@", listen, "@NODE1@", nodes[0], "@NODE2@", nodes[1],
		"@NODE3@", nodes[2], "@SPLIT@", split.String()).Replace(string(tmpl))
	p := filepath.Join(dir, "nginx.conf")
	if err := os.WriteFile(p, []byte(s), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}
