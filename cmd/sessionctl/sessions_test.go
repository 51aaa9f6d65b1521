package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/sesame-go/sesame/auth"
	"github.com/sesame-go/sesame/internal/redistest"
	"github.com/sesame-go/sesame/keys"
	"github.com/sesame-go/sesame/revocation"
)

// staleBound is the replica's staleness bound in these tests, sessiond's
// default: a revocation must be seen within it.
const staleBound = 5 * time.Second

// node is an in-process sesame node on a test Redis: a manager, its denylist
// replica, and an HTTP server with the auth routes and a protected /app.
type node struct {
	t   *testing.T
	srv *httptest.Server
}

func startNode(t *testing.T, srv *redistest.Server) *node {
	t.Helper()
	client := srv.Client()
	store, err := revocation.NewRedis(client, &revocation.RedisOptions{EntryTTL: 10*time.Minute + authLeeway})
	if err != nil {
		t.Fatal(err)
	}
	return startNodeOn(t, store, store)
}

// startNodeOn starts a node on any revocation store and its feed.
func startNodeOn(t *testing.T, store revocation.Store, feed revocation.Feed) *node {
	t.Helper()
	rep, err := revocation.NewReplica(feed, &revocation.ReplicaOptions{StalenessBound: staleBound})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { rep.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	ks, err := keys.Init(time.Now())
	if err != nil {
		t.Fatal(err)
	}
	m, err := auth.New(auth.Config[string]{
		Keys:     auth.StaticKeys(ks),
		Store:    store,
		Denylist: rep,
		Authenticator: auth.AuthenticatorFunc[string](func(_ context.Context, u, p string) (string, string, error) {
			if p != u+"-pw" {
				return "", "", auth.ErrInvalidCredentials
			}
			return u, u, nil
		}),
		Insecure: true,
		Logger:   slog.New(slog.DiscardHandler),
	})
	if err != nil {
		t.Fatal(err)
	}
	r := chi.NewRouter()
	r.Mount("/auth", m.Routes())
	r.With(m.Require()).Get("/app", func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") })
	n := &node{t: t, srv: httptest.NewServer(r)}
	t.Cleanup(n.srv.Close)
	waitUntil(t, 10*time.Second, "the replica's first snapshot", func() bool { return rep.Status().Ready })
	return n
}

type session struct{ access, refresh, sid string }

func (n *node) request(method, path, body string, hdr ...string) (int, string) {
	n.t.Helper()
	req, err := http.NewRequest(method, n.srv.URL+path, strings.NewReader(body))
	if err != nil {
		n.t.Fatal(err)
	}
	req.Header.Set("X-Session-Transport", "header")
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	res, err := n.srv.Client().Do(req)
	if err != nil {
		n.t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, string(b)
}

func (n *node) login(user, userAgent string) session {
	n.t.Helper()
	code, body := n.request("POST", "/auth/login", fmt.Sprintf(`{"username":%q,"password":%q}`, user, user+"-pw"), "User-Agent", userAgent)
	if code != 200 {
		n.t.Fatalf("login %s: %d %s", user, code, body)
	}
	var tk struct {
		Access  string `json:"access_token"`
		Refresh string `json:"refresh_token"`
	}
	json.Unmarshal([]byte(body), &tk)
	code, body = n.request("GET", "/auth/session", "", "Authorization", "Bearer "+tk.Access)
	var s struct {
		SID string `json:"sid"`
	}
	if json.Unmarshal([]byte(body), &s); code != 200 || s.SID == "" {
		n.t.Fatalf("session: %d %s", code, body)
	}
	return session{tk.Access, tk.Refresh, s.SID}
}

// accepted tells whether the node accepts the session's access token.
func (n *node) accepted(s session) bool {
	n.t.Helper()
	code, body := n.request("GET", "/app", "", "Authorization", "Bearer "+s.access)
	if code != 200 && code != 401 {
		n.t.Fatalf("/app: %d %s", code, body)
	}
	return code == 200
}

func (n *node) refreshes(s session) bool {
	n.t.Helper()
	code, _ := n.request("POST", "/auth/refresh", fmt.Sprintf(`{"refresh_token":%q}`, s.refresh))
	return code == 200
}

// waitUntil polls cond every 5ms until it holds, or fails t after d.
func waitUntil(t *testing.T, d time.Duration, what string, cond func() bool) time.Duration {
	t.Helper()
	start := time.Now()
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		if time.Since(start) > d {
			t.Fatalf("timed out after %v waiting for %s", d, what)
		}
		<-tick.C
	}
	return time.Since(start)
}

type listed struct {
	SID       string    `json:"sid"`
	User      string    `json:"user"`
	Created   time.Time `json:"created"`
	LastUsed  time.Time `json:"last_used"`
	UserAgent string    `json:"user_agent"`
	IP        string    `json:"ip"`
}

func TestSessions(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t, nil)
	n := startNode(t, srv)
	audit := filepath.Join(t.TempDir(), "audit.log")
	c := newCLI(t, "SESAME_REDIS_URL=redis://"+srv.Addr()+"/0", "SESAME_AUDIT_LOG="+audit)

	phone := n.login("alice", "Phone/1.0")
	laptop := n.login("alice", "Laptop/2.0\u009b31m\tx")
	bob := n.login("bob", "Bob/1.0")

	// list: a table for people, JSON for scripts.
	out := c.ok("sessions", "list", "--user", "Alice")
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 3 || !strings.HasPrefix(lines[0], "SID") || !strings.Contains(lines[0], "LAST-USED") {
		t.Fatalf("sessions list table:\n%s", out)
	}
	if !strings.Contains(out, phone.sid) || !strings.Contains(out, laptop.sid) || strings.Contains(out, bob.sid) ||
		!strings.Contains(out, "Phone/1.0") || !strings.Contains(out, "127.0.0.1") || strings.ContainsAny(out, "\u009b\t") {
		t.Errorf("sessions list table:\n%s", out)
	}
	var got []listed
	if err := json.Unmarshal([]byte(c.ok("sessions", "list", "--user", "alice", "--json")), &got); err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0].SID != phone.sid || got[0].User != "alice" || got[0].UserAgent != "Phone/1.0" ||
		got[0].IP != "127.0.0.1" || got[0].Created.IsZero() || got[0].LastUsed.Before(got[0].Created) {
		t.Errorf("sessions list --json: %+v", got)
	}
	if out := c.ok("sessions", "list", "--user", "nobody", "--json"); strings.TrimSpace(out) != "[]" {
		t.Errorf("list of a user without sessions: %q, want []", out)
	}

	// One session, by sid: refused by the running node within the bound.
	if !n.accepted(phone) {
		t.Fatal("phone session refused before any revocation")
	}
	start := time.Now()
	out = c.ok("sessions", "revoke", "--sid", phone.sid) // found without --user
	cli := time.Since(start)
	after := waitUntil(t, staleBound, "the node to refuse the session revoked by sessionctl", func() bool { return !n.accepted(phone) })
	t.Logf("sessions revoke --sid: CLI ran %v; the node refused the session %v after the CLI returned", cli.Round(time.Millisecond), after.Round(time.Millisecond))
	if !strings.Contains(out, "revoked session "+phone.sid) {
		t.Errorf("revoke --sid output %q", out)
	}
	if n.refreshes(phone) {
		t.Error("the revoked session still refreshes")
	}
	if !n.accepted(laptop) || !n.accepted(bob) {
		t.Error("revoking one session ended others")
	}

	// All of a user's sessions.
	start = time.Now()
	var res struct {
		User    string   `json:"user"`
		Revoked []string `json:"revoked"`
		All     bool     `json:"all"`
	}
	if err := json.Unmarshal([]byte(c.ok("sessions", "revoke", "--user", "alice", "--json")), &res); err != nil {
		t.Fatal(err)
	}
	cli = time.Since(start)
	after = waitUntil(t, staleBound, "the node to refuse alice's last session", func() bool { return !n.accepted(laptop) })
	t.Logf("sessions revoke --user: CLI ran %v; the node refused the session %v after the CLI returned", cli.Round(time.Millisecond), after.Round(time.Millisecond))
	if res.User != "alice" || !res.All || len(res.Revoked) != 1 || res.Revoked[0] != laptop.sid {
		t.Errorf("revoke --user --json: %+v", res)
	}
	if n.refreshes(laptop) {
		t.Error("alice's session still refreshes after revoke --user")
	}
	if !n.accepted(bob) || !n.refreshes(bob) {
		t.Error("revoking alice's sessions ended bob's")
	}
	if out := c.ok("sessions", "list", "--user", "alice"); strings.Count(out, "\n") != 1 {
		t.Errorf("list after revoke --user: %q, want the header only", out)
	}
	// A new login after the revocation works.
	if again := n.login("alice", "Phone/1.0"); !n.accepted(again) {
		t.Error("a login after revoke --user is refused")
	}

	// The audit trail: one record per revocation, with the stable event name.
	b, err := os.ReadFile(audit)
	if err != nil {
		t.Fatal(err)
	}
	recs := strings.Split(strings.TrimSpace(string(b)), "\n")
	if len(recs) != 2 {
		t.Fatalf("audit log has %d records, want 2:\n%s", len(recs), b)
	}
	for i, want := range []bool{false, true} {
		var rec map[string]any
		if err := json.Unmarshal([]byte(recs[i]), &rec); err != nil {
			t.Fatal(err)
		}
		if rec["event"] != eventSessionRevokedByAdmin || rec["user_id"] != "alice" || rec["all"] != want {
			t.Errorf("audit record %d: %v", i, rec)
		}
	}
	for _, s := range []session{phone, laptop, bob} {
		for _, secret := range []string{s.access, s.refresh} {
			if strings.Contains(string(b), secret) {
				t.Error("the audit log holds a token")
			}
		}
	}
}

func TestSessionsErrors(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t, nil)
	n := startNode(t, srv)
	s := n.login("carol", "UA")
	url := "redis://" + srv.Addr() + "/0"
	c := newCLI(t, "SESAME_REDIS_URL="+url)

	c.fails("needs --sid SID or --user NAME", "sessions", "revoke")
	c.fails(`no live session "nope"`, "sessions", "revoke", "--sid", "nope")
	c.fails("needs --user", "sessions", "list")
	c.fails(`no live session "nope"`, "sessions", "revoke", "--user", "carol", "--sid", "nope")
	c.fails(`no live session`, "sessions", "revoke", "--user", "dave", "--sid", s.sid) // another user's sid
	c.fails("unknown flag", "sessions", "list", "--user", "carol", "--bogus")
	c.fails("access-ttl", "sessions", "list", "--user", "carol", "--access-ttl", "10ms")
	if !n.accepted(s) {
		t.Error("a failed revoke changed something")
	}

	none := newCLI(t)
	none.fails("no revocation store", "sessions", "list", "--user", "carol")
	// Unreachable or malformed: one line, and never the password.
	r := none.run("sessions", "list", "--user", "carol", "--redis", "redis://admin:s3cret-pw@127.0.0.1:1/0")
	if r.code != 1 || strings.Count(r.stderr, "\n") != 1 || strings.Contains(r.stderr, "s3cret-pw") || r.stdout != "" {
		t.Errorf("unreachable Redis: exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
	}
	r = none.run("sessions", "list", "--user", "carol", "--redis", "redis://admin:s3cret-pw@127.0.0.1:bad/0")
	if r.code != 1 || strings.Count(r.stderr, "\n") != 1 || strings.Contains(r.stderr, "s3cret-pw") {
		t.Errorf("malformed URL: exit %d, stderr %q", r.code, r.stderr)
	}

	// Without an audit file the audit record goes to stderr, as JSON.
	r = c.run("sessions", "revoke", "--user", "carol")
	if r.code != 0 || !strings.Contains(r.stdout, "revoked 1 session of user carol") {
		t.Fatalf("revoke --user: exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
	}
	var rec map[string]any
	if err := json.Unmarshal([]byte(r.stderr), &rec); err != nil || rec["event"] != eventSessionRevokedByAdmin {
		t.Errorf("audit record on stderr %q: %v", r.stderr, err)
	}
}
