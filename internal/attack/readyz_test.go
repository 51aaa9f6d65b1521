package attack_test

import (
	"bufio"
	"encoding/base64"
	"encoding/json"
	"io"
	"net"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/sesame-go/sesame/internal/sesametest"
	"github.com/sesame-go/sesame/internal/sesametest/sessiondtest"
)

// TestReadyzDetailsStayPrivate (low, disclosure): an outsider asks a real
// sessiond for its readiness details (the users file's path, the user
// count, the active kid) in every spelling of /readyz?verbose: directly
// from another address, and through a reverse proxy on the node's own
// machine — the case a loopback check alone gets wrong. Every answer is
// {"ready":true} and nothing more.
func TestReadyzDetailsStayPrivate(t *testing.T) {
	t.Parallel()
	dir, bin, usersFile := sessiondFixture(t)
	paths := []string{
		"/readyz", "/readyz?verbose", "/readyz?verbose=1", "/readyz?verbose=true", "/readyz?a=b&verbose",
		"/readyz?verbose&verbose", "/readyz/?verbose", "//readyz?verbose", "/readyz%3Fverbose", "/READYZ?verbose",
		"/readyz;verbose", "/./readyz?verbose", "/auth/../readyz?verbose",
	}
	check := func(t *testing.T, base string, hdr ...string) {
		t.Helper()
		for _, p := range paths {
			res := sesametest.Send(t, nil, "GET", base+p, "", hdr...)
			body := strings.TrimSpace(res.Body)
			for _, leak := range []string{usersFile, "users", "kid", "loaded_at", "backend", "lag_seconds"} {
				if strings.Contains(body, leak) {
					t.Errorf("GET %s: %d %s discloses %q", p, res.Status, body, leak)
				}
			}
			if res.Status == 200 && body != `{"ready":true}` {
				t.Errorf("GET %s: 200 %s, want {\"ready\":true}", p, body)
			}
		}
	}
	env := []string{"SESAME_MASTER_KEY=" + base64.StdEncoding.EncodeToString([]byte(strings.Repeat("k", 32))), "SESAME_USERS=" + usersFile}

	t.Run("local-reverse-proxy", func(t *testing.T) {
		node := startSessiond(t, bin, dir, env, "--addr", "127.0.0.1:0")
		target, _ := url.Parse(node)
		// httputil's proxy adds X-Forwarded-For, as nginx's usual
		// configuration does.
		proxy := httptest.NewServer(httputil.NewSingleHostReverseProxy(target))
		t.Cleanup(proxy.Close)
		check(t, proxy.URL)
	})
	t.Run("local-reverse-proxy-without-forwarding-headers", func(t *testing.T) {
		// A proxy that names no client: --trusted-proxies says who it is.
		node := startSessiond(t, bin, dir, env, "--addr", "127.0.0.1:0", "--trusted-proxies", "127.0.0.1")
		target, _ := url.Parse(node)
		proxy := httptest.NewServer(&httputil.ReverseProxy{Rewrite: func(r *httputil.ProxyRequest) { r.SetURL(target) }})
		t.Cleanup(proxy.Close)
		check(t, proxy.URL)
	})
	t.Run("other-address", func(t *testing.T) {
		ip := sesametest.NonLoopbackIP(t)
		node := startSessiond(t, bin, dir, env, "--addr", net.JoinHostPort(ip, "0"))
		check(t, node)
		check(t, node, "X-Forwarded-For", "127.0.0.1")
	})
}

// sessiondFixture builds sessiond into a new directory and writes a users
// file there with alice (password alice-pw).
func sessiondFixture(t *testing.T) (dir, bin, usersFile string) {
	t.Helper()
	dir = t.TempDir()
	return dir, sessiondtest.Build(t, dir, "sessiond"), sessiondtest.UsersFile(t, dir)
}

// startSessiond runs the sessiond binary and returns its base URL once it
// listens.
func startSessiond(t *testing.T, bin, dir string, env []string, args ...string) string {
	t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Dir = dir
	cmd.Env = append([]string{"PATH=" + os.Getenv("PATH"), "HOME=" + dir}, env...)
	cmd.Stdout = io.Discard
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Signal(syscall.SIGTERM); cmd.Wait() })
	addr := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		sent := false
		for sc.Scan() {
			var l struct{ Msg, Addr string }
			if json.Unmarshal(sc.Bytes(), &l) == nil && l.Msg == "listening" && !sent {
				addr <- l.Addr
				sent = true
			}
		}
		close(addr)
	}()
	select {
	case a, ok := <-addr:
		if !ok {
			t.Fatal("sessiond exited before listening")
		}
		return "http://" + a
	case <-time.After(30 * time.Second):
		t.Fatal("sessiond did not listen within 30s")
	}
	return ""
}
