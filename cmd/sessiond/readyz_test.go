package main

import (
	"encoding/json"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sesame-go/sesame/internal/sesametest"
)

// TestReadyzDisclosure: the public /readyz says ready or not and, when not,
// why in one word; the details (the users file's path, the user count, the
// active kid, errors) go only where /metrics goes: to /readyz?verbose from
// this machine without a proxy in between, or on --metrics-addr.
func TestReadyzDisclosure(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	usersFile := filepath.Join(dir, "users.json")
	addUser(t, usersFile, "alice", "alice-pw")
	env := []string{"SESAME_MASTER_KEY=" + testMasterKey, "SESAME_USERS=" + usersFile}

	// secrets are what an outsider must not learn from /readyz.
	secrets := func(p *proc) []string {
		var jwks struct {
			Keys []struct {
				Kid string `json:"kid"`
			} `json:"keys"`
		}
		if err := json.Unmarshal(p.do("GET", "/.well-known/jwks.json", "").body, &jwks); err != nil || len(jwks.Keys) == 0 {
			t.Fatalf("jwks: %v", err)
		}
		out := []string{usersFile, "users.json", `"users"`, "active_kid"}
		for _, k := range jwks.Keys {
			out = append(out, k.Kid)
		}
		return out
	}
	terse := func(t *testing.T, what string, r response) {
		t.Helper()
		if r.status != 200 {
			t.Fatalf("%s: status %d, want 200", what, r.status)
		}
		if got := strings.TrimSpace(string(r.body)); got != `{"ready":true}` {
			t.Errorf("%s: body %s, want {\"ready\":true}", what, got)
		}
	}
	detailed := func(t *testing.T, what string, r response) {
		t.Helper()
		if r.status != 200 {
			t.Fatalf("%s: status %d, want 200", what, r.status)
		}
		m := r.json(t)
		us, _ := m["users"].(map[string]any)
		ks, _ := m["keyset"].(map[string]any)
		if m["ready"] != true || us["source"] != usersFile || us["users"] != 1.0 || ks["active_kid"] == "" || ks["active_kid"] == nil {
			t.Errorf("%s: %s, want every detail", what, r.body)
		}
	}

	t.Run("main-listener", func(t *testing.T) {
		p := startSessiond(t, "sessiond", dir, env)
		r := p.do("GET", "/readyz", "")
		for _, s := range secrets(p) {
			if strings.Contains(string(r.body), s) {
				t.Errorf("public /readyz discloses %q: %s", s, r.body)
			}
		}
		terse(t, "/readyz", r)
		detailed(t, "/readyz?verbose from loopback", p.do("GET", "/readyz?verbose", ""))
		for _, h := range []string{"X-Forwarded-For", "Forwarded", "X-Real-Ip"} {
			terse(t, "/readyz?verbose through a proxy ("+h+")", p.do("GET", "/readyz?verbose", "", h, "203.0.113.9"))
		}
	})

	t.Run("not-loopback", func(t *testing.T) {
		ip := sesametest.NonLoopbackIP(t)
		p := startSessiond(t, "sessiond", dir, env, "--addr", net.JoinHostPort(ip, "0"))
		terse(t, "/readyz?verbose from "+ip, p.do("GET", "/readyz?verbose", ""))
	})

	t.Run("metrics-addr", func(t *testing.T) {
		p := startSessiond(t, "sessiond", dir, env, "--metrics-addr", "127.0.0.1:0")
		l := p.logLine("metrics listening")
		if l == nil {
			t.Fatal("no \"metrics listening\" log line")
		}
		ops := &proc{t: t, name: "metrics listener", url: "http://" + l["addr"].(string)}
		terse(t, "/readyz", p.do("GET", "/readyz", ""))
		terse(t, "/readyz?verbose on the main listener", p.do("GET", "/readyz?verbose", ""))
		if r := p.do("GET", "/metrics", ""); r.status != http.StatusNotFound {
			t.Errorf("/metrics on the main listener with --metrics-addr: %d, want 404", r.status)
		}
		terse(t, "/readyz on the metrics listener", ops.do("GET", "/readyz", ""))
		detailed(t, "/readyz?verbose on the metrics listener", ops.do("GET", "/readyz?verbose", "", "X-Forwarded-For", "203.0.113.9"))
		if r := ops.do("GET", "/metrics", ""); r.status != 200 || !strings.Contains(string(r.body), "sesame_keyset_version") {
			t.Errorf("/metrics on the metrics listener: %d", r.status)
		}
	})
}
