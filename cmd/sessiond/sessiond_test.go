package main

import (
	"encoding/base64"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/sesame-go/sesame/internal/redistest"
	"github.com/sesame-go/sesame/users"
)

const testMasterKey = "AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE="

// header selects the header (bearer) transport.
var header = []string{"X-Session-Transport", "header"}

// tokens is a login or refresh answer in header transport.
type tokens struct{ access, refresh string }

func login(t *testing.T, p *proc, user, pw string) tokens {
	t.Helper()
	r := p.do("POST", "/auth/login", fmt.Sprintf(`{"username":%q,"password":%q}`, user, pw), header...)
	if r.status != 200 {
		t.Fatalf("login %s on %s: status %d, body %s", user, p.name, r.status, r.body)
	}
	m := r.json(t)
	if m["token_type"] != "Bearer" || r.header.Get("Cache-Control") != "no-store" {
		t.Errorf("login answer %v, Cache-Control %q", m, r.header.Get("Cache-Control"))
	}
	return tokens{m["access_token"].(string), m["refresh_token"].(string)}
}

func refresh(t *testing.T, p *proc, rt string) response {
	t.Helper()
	return p.do("POST", "/auth/refresh", fmt.Sprintf(`{"refresh_token":%q}`, rt), header...)
}

func whoami(t *testing.T, p *proc, access string) response {
	t.Helper()
	return p.do("GET", "/api/whoami", "", "Authorization", "Bearer "+access)
}

// walk is the smoke test of one node: login → whoami → refresh → logout →
// the old tokens are refused. It returns the tokens it used.
func walk(t *testing.T, p *proc, user, pw string) []string {
	t.Helper()
	if r := p.do("GET", "/readyz", ""); r.status != 200 || r.json(t)["ready"] != true {
		t.Fatalf("readyz: %d %s", r.status, r.body)
	}
	if r := p.do("GET", "/healthz", ""); r.status != 200 {
		t.Errorf("healthz: %d", r.status)
	}
	if r := p.do("GET", "/.well-known/jwks.json", ""); r.status != 200 || !strings.Contains(string(r.body), `"OKP"`) {
		t.Errorf("jwks: %d %s", r.status, r.body)
	}

	// Unknown user and wrong password: the same answer.
	bad1 := p.do("POST", "/auth/login", fmt.Sprintf(`{"username":%q,"password":"wrong"}`, user), header...)
	bad2 := p.do("POST", "/auth/login", `{"username":"nobody","password":"wrong"}`, header...)
	if bad1.status != 401 || bad2.status != 401 || string(bad1.body) != string(bad2.body) {
		t.Errorf("wrong password %d %s; unknown user %d %s: want the same 401", bad1.status, bad1.body, bad2.status, bad2.body)
	}
	if r := p.do("GET", "/api/whoami", ""); r.status != 401 {
		t.Errorf("whoami without a token: %d", r.status)
	}

	tk := login(t, p, user, pw)
	r := whoami(t, p, tk.access)
	if r.status != 200 || r.json(t)["sub"] != user {
		t.Fatalf("whoami: %d %s", r.status, r.body)
	}
	sid := r.json(t)["sid"]

	r = refresh(t, p, tk.refresh)
	if r.status != 200 {
		t.Fatalf("refresh: %d %s", r.status, r.body)
	}
	m := r.json(t)
	tk2 := tokens{m["access_token"].(string), m["refresh_token"].(string)}
	if tk2.refresh == tk.refresh {
		t.Error("refresh did not rotate the refresh token")
	}
	r = whoami(t, p, tk2.access)
	if r.status != 200 || r.json(t)["sid"] != sid {
		t.Fatalf("whoami after refresh: %d %s (want sid %v)", r.status, r.body, sid)
	}

	if r := p.do("POST", "/auth/logout", "", "Authorization", "Bearer "+tk2.access); r.status != 204 {
		t.Fatalf("logout: %d %s", r.status, r.body)
	}
	// The local replica learns of the logout through the feed: wait for it.
	for _, a := range []string{tk.access, tk2.access} {
		waitFor(t, 5*time.Second, "the old access token to be refused", func() bool { return whoami(t, p, a).status == 401 })
	}
	if r := whoami(t, p, tk2.access); r.json(t)["error"] != "revoked" {
		t.Errorf("old token after logout: %s, want error revoked", r.body)
	}
	if r := refresh(t, p, tk2.refresh); r.status != 401 {
		t.Errorf("refresh after logout: %d %s, want 401", r.status, r.body)
	}
	return []string{tk.access, tk.refresh, tk2.access, tk2.refresh}
}

// checkLogs checks that no secret reached the logs and that the security
// events were logged with their stable names.
func checkLogs(t *testing.T, p *proc, secrets []string, events ...string) {
	t.Helper()
	logs := p.stderr()
	for _, s := range secrets {
		if s != "" && strings.Contains(logs, s) {
			t.Errorf("%s logged a secret (%.12s…)", p.name, s)
		}
	}
	got := strings.Join(p.events(), ",")
	for _, e := range events {
		if !strings.Contains(got, e) {
			t.Errorf("%s logged events %s; want %s among them", p.name, got, e)
		}
	}
}

func TestMemoryDemo(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	p := startSessiond(t, "sessiond", dir, nil)
	pw := p.demoPassword()
	secrets := walk(t, p, "demo", pw)
	checkLogs(t, p, append(secrets, pw), "login_success", "login_failure", "logout")

	// First start on a fresh directory: keyset and development master key,
	// both private, and loud warnings.
	for _, name := range []string{"sesame-keys.json", "sesame-master.key"} {
		fi, err := os.Stat(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm() != 0o600 {
			t.Errorf("%s has mode %v, want 0600", name, fi.Mode().Perm())
		}
	}
	mk, _ := os.ReadFile(filepath.Join(dir, "sesame-master.key"))
	checkLogs(t, p, []string{strings.TrimSpace(string(mk))})
	for _, w := range []string{"DEVELOPMENT ONLY", "insecure cookies", "demo user"} {
		if !strings.Contains(p.stderr(), w) {
			t.Errorf("no start-up warning containing %q", w)
		}
	}

	// Cookie transport: plain HTTP on loopback turned insecure cookies on.
	r := p.do("POST", "/auth/login", fmt.Sprintf(`{"username":"demo","password":%q}`, pw))
	if r.status != 200 {
		t.Fatalf("cookie login: %d %s", r.status, r.body)
	}
	for _, c := range r.header.Values("Set-Cookie") {
		if !strings.HasPrefix(c, "sesame=") && !strings.HasPrefix(c, "sesame-refresh=") && !strings.HasPrefix(c, "sesame-device=") || strings.Contains(c, "Secure") {
			t.Errorf("cookie %q: want an unprefixed cookie without Secure on plain-HTTP loopback", c)
		}
	}

	r = p.do("GET", "/metrics", "")
	for _, m := range []string{"sesame_replica_lag_seconds", "sesame_keyset_version", `route="/api/whoami"`, `sesame_limiter_fallback{limiter="login_user"} 0`} {
		if r.status != 200 || !strings.Contains(string(r.body), m) {
			t.Errorf("/metrics: status %d, no %s", r.status, m)
		}
	}

	// SIGHUP reloads and keeps serving.
	if err := p.cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 5*time.Second, "the SIGHUP reload", func() bool { return p.logLine("SIGHUP: reloading the keyset and the users file") != nil })
	if r := p.do("GET", "/healthz", ""); r.status != 200 {
		t.Errorf("healthz after SIGHUP: %d", r.status)
	}

	if code := p.stop(syscall.SIGTERM); code != 0 {
		t.Errorf("SIGTERM: exit code %d, want 0\n%s", code, p.stderr())
	}
	if p.logLine("stopped") == nil {
		t.Error("no \"stopped\" log line after SIGTERM")
	}

	// A second start reuses the keyset and its master key.
	p2 := startSessiond(t, "sessiond-2", dir, nil)
	first, again := p.logLine("keys: keyset loaded"), p2.logLine("keys: keyset loaded")
	if first == nil || again == nil || first["version"] != again["version"] || first["active"] != again["active"] {
		t.Errorf("restart loaded keyset %v, want the one made at first start %v", again, first)
	}
	if strings.Contains(p2.stderr(), "created a") {
		t.Error("restart created a new keyset or master key")
	}
	if code := p2.stop(syscall.SIGINT); code != 0 {
		t.Errorf("SIGINT: exit code %d, want 0", code)
	}
}

// addUser adds a user to the users file at path, as `sessionctl users add`
// does but with cheap hash parameters: the tests measure sessiond, not
// argon2id.
func addUser(t *testing.T, path, name, pw string) {
	t.Helper()
	u, err := users.NewUser(name, pw, users.Params{Time: 1, MemoryKiB: 1024, Threads: 1}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if err := users.Edit(path, func(f *users.File) error { return f.Put(u, false) }); err != nil {
		t.Fatal(err)
	}
}

func TestRedis(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t, nil)
	url := "redis://" + srv.Addr() + "/0"
	dir := t.TempDir()
	usersFile := filepath.Join(dir, "users.json")
	addUser(t, usersFile, "alice", "alice-pw")
	env := []string{"SESAME_MASTER_KEY=" + testMasterKey, "SESAME_REDIS_URL=" + url, "SESAME_KEYSET=" + url, "SESAME_USERS=" + usersFile}

	p := startSessiond(t, "sessiond", dir, env)
	r := p.do("GET", "/readyz?verbose", "") // details: from this machine
	if st := r.json(t)["store"].(map[string]any); st["backend"] != "redis" || st["ok"] != true {
		t.Errorf("readyz store: %v", st)
	}
	if l := r.json(t)["limits"]; l != "shared" {
		t.Errorf("readyz limits: %v, want shared", l)
	}
	secrets := walk(t, p, "alice", "alice-pw")
	checkLogs(t, p, append(secrets, "alice-pw", testMasterKey), "login_success", "login_failure", "logout")
	if _, err := os.Stat(filepath.Join(dir, "sesame-master.key")); err == nil {
		t.Error("a development master key file was made although SESAME_MASTER_KEY is set")
	}

	// A user added to the file logs in without a restart.
	addUser(t, usersFile, "bob", "bob-pw")
	waitFor(t, 10*time.Second, "the users file reload", func() bool { return p.logLine("users: reloaded") != nil })
	bob := login(t, p, "bob", "bob-pw")

	// A user removed from the file: once it is reloaded, their next refresh
	// ends all their sessions (401 revoked), and their access token with it.
	if err := users.Edit(usersFile, func(f *users.File) error { f.Remove("bob"); return nil }); err != nil {
		t.Fatal(err)
	}
	rt := bob.refresh
	waitFor(t, 10*time.Second, "bob's refresh refused", func() bool {
		r := refresh(t, p, rt)
		if r.status == 200 { // not reloaded yet
			rt = r.json(t)["refresh_token"].(string)
			bob.access = r.json(t)["access_token"].(string)
			return false
		}
		if r.status != 401 || r.json(t)["error"] != "revoked" {
			t.Fatalf("bob's refresh after his removal: %d %s, want 401 revoked", r.status, r.body)
		}
		return true
	})
	if r := whoami(t, p, bob.access); r.status != 401 {
		t.Errorf("bob's access token after his removal: %d %s", r.status, r.body)
	}
	if !slices.Contains(p.events(), "user_inactive") {
		t.Errorf("events %v: no user_inactive", p.events())
	}

	// Redis gone: readiness says so, with the failing part.
	srv.Kill()
	waitFor(t, 10*time.Second, "readyz 503", func() bool {
		if r := p.do("GET", "/readyz", ""); r.status != 503 || r.json(t)["reason"] != "store" {
			return false
		}
		r := p.do("GET", "/readyz?verbose", "")
		return r.status == 503 && r.json(t)["store"].(map[string]any)["ok"] == false
	})
	// Logins stay limited, by this node alone, and readiness names it.
	if r := p.do("POST", "/auth/login", `{"username":"alice","password":"wrong"}`, header...); r.status != 401 {
		t.Errorf("failed login with Redis gone: %d %s", r.status, r.body)
	}
	if l := p.do("GET", "/readyz?verbose", "").json(t)["limits"]; l != "fallback" {
		t.Errorf("readyz limits with Redis gone: %v, want fallback", l)
	}

	if code := p.stop(syscall.SIGTERM); code != 0 {
		t.Errorf("SIGTERM: exit code %d, want 0", code)
	}
}

// TestRedisWaitReplicas: with --redis-wait-replicas a login is answered
// once a replica has the new family; with no replica to confirm it, 503.
func TestRedisWaitReplicas(t *testing.T) {
	t.Parallel()
	sn := redistest.StartSentinel(t, nil)
	lone := redistest.Start(t, nil)
	// The replica gets 2s to confirm (a loaded machine can be slow); with
	// none, 300ms is enough to be sure.
	for _, tc := range []struct {
		name, url, wait string
		want            int
	}{
		{"sentinel", "redis-sentinel://" + strings.Join(sn.SentinelAddrs(), ",") + "/" + sn.MasterName(), "2s", 200},
		{"no replica", "redis://" + lone.Addr() + "/0", "300ms", 503},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			usersFile := filepath.Join(dir, "users.json")
			addUser(t, usersFile, "alice", "alice-pw")
			env := []string{"SESAME_MASTER_KEY=" + testMasterKey, "SESAME_REDIS_URL=" + tc.url, "SESAME_USERS=" + usersFile,
				"SESAME_REDIS_WAIT_REPLICAS=1", "SESAME_REDIS_WAIT_TIMEOUT=" + tc.wait}
			p := startSessiond(t, "sessiond", dir, env)
			r := p.do("POST", "/auth/login", `{"username":"alice","password":"alice-pw"}`, header...)
			if r.status != tc.want {
				t.Fatalf("login: %d %s, want %d", r.status, r.body, tc.want)
			}
			if tc.want == 503 && (r.json(t)["error"] != "unavailable" || r.header.Get("Retry-After") == "") {
				t.Errorf("unconfirmed login: %s, Retry-After %q", r.body, r.header.Get("Retry-After"))
			}
			if code := p.stop(syscall.SIGTERM); code != 0 {
				t.Errorf("SIGTERM: exit code %d", code)
			}
		})
	}
}

func TestFleet(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t, nil)
	url := "redis://" + srv.Addr() + "/0"
	usersFile := filepath.Join(t.TempDir(), "users.json")
	addUser(t, usersFile, "alice", "alice-pw")
	mkFile := filepath.Join(t.TempDir(), "master.key")
	os.WriteFile(mkFile, []byte(base64.StdEncoding.EncodeToString(make([]byte, 32))+"\n"), 0o600)
	args := []string{"--redis", url, "--keyset", url, "--users", usersFile, "--master-key-file", mkFile}

	// Both nodes start at once: one creates the keyset, the other uses it.
	type started struct {
		p   *proc
		err error
	}
	ch := make(chan started, 2)
	for _, name := range []string{"A", "B"} {
		dir := t.TempDir()
		go func() {
			p, err := launch(t, name, dir, nil, args...)
			ch <- started{p, err}
		}()
	}
	var a, b *proc
	for range 2 {
		s := <-ch
		if s.err != nil {
			t.Fatal(s.err)
		}
		if s.p.name == "A" {
			a = s.p
		} else {
			b = s.p
		}
	}

	tk := login(t, a, "alice", "alice-pw")
	if r := whoami(t, b, tk.access); r.status != 200 {
		t.Fatalf("token from A on B: %d %s", r.status, r.body)
	}
	// A refresh on B of A's token works: one service.
	r := refresh(t, b, tk.refresh)
	if r.status != 200 {
		t.Fatalf("refresh on B: %d %s", r.status, r.body)
	}
	access := r.json(t)["access_token"].(string)
	if r := a.do("POST", "/auth/logout", "", "Authorization", "Bearer "+access); r.status != 204 {
		t.Fatalf("logout on A: %d %s", r.status, r.body)
	}
	start := time.Now()
	waitFor(t, 5*time.Second, "B to refuse the token ended on A", func() bool { return whoami(t, b, access).status == 401 })
	t.Logf("logout on A refused on B after %v", time.Since(start).Round(time.Millisecond))
	if r := whoami(t, b, tk.access); r.status != 401 {
		t.Errorf("the first token of the session on B: %d, want 401", r.status)
	}

	for _, p := range []*proc{a, b} {
		if code := p.stop(syscall.SIGTERM); code != 0 {
			t.Errorf("%s: SIGTERM exit code %d, want 0", p.name, code)
		}
	}
}

// TestRedisNoAutoPipeline: by default a login's script goes to Redis in a
// pipeline (auto-pipelining); --redis-no-auto-pipeline sends it as a
// command of its own, which the Redis metrics show as evalsha.
func TestRedisNoAutoPipeline(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t, nil)
	// The login limits run their scripts on their own either way (each is
	// awaited before the password check), so only the difference tells.
	var pipelined float64
	for _, tc := range []struct {
		name, flag string
		evalsha    bool // the login's script was sent on its own
	}{
		{"default", "", false},
		{"off", "true", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			usersFile := filepath.Join(dir, "users.json")
			addUser(t, usersFile, "alice", "alice-pw")
			env := []string{"SESAME_MASTER_KEY=" + testMasterKey, "SESAME_REDIS_URL=redis://" + srv.Addr() + "/0",
				"SESAME_USERS=" + usersFile, "SESAME_REDIS_NO_AUTO_PIPELINE=" + tc.flag}
			p := startSessiond(t, "sessiond", dir, env)
			if r := p.do("POST", "/auth/login", `{"username":"alice","password":"alice-pw"}`, header...); r.status != 200 {
				t.Fatalf("login: %d %s", r.status, r.body)
			}
			fams := scrape(t, p)
			const m = "sesame_redis_command_duration_seconds"
			// (Other reads use pipelines too, so only evalsha tells.)
			evalsha := value(fams, m, "command", "evalsha")
			if !tc.evalsha {
				pipelined = evalsha
			} else if evalsha <= pipelined {
				t.Errorf("after a login: %v evalsha commands, want more than the %v with auto-pipelining", evalsha, pipelined)
			}
			if code := p.stop(syscall.SIGTERM); code != 0 {
				t.Errorf("SIGTERM: exit code %d", code)
			}
		})
	}
}
