package auth_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/sesame-go/sesame/auth"
	"github.com/sesame-go/sesame/internal/redistest"
	"github.com/sesame-go/sesame/internal/sesametest"
	"github.com/sesame-go/sesame/revocation"
)

// secretSet collects every secret a test handed out or received, in the
// forms a careless log line might print it.
type secretSet struct {
	mu sync.Mutex
	m  map[string]string // secret → what it is
}

func (s *secretSet) add(what, v string) {
	if len(v) < 6 {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.m == nil {
		s.m = map[string]string{}
	}
	s.m[v] = what
}

// addToken adds a token and, for a JWS, its payload and signature segments
// (the header is the same for every token and says nothing).
func (s *secretSet) addToken(what, tok string) {
	s.add(what, tok)
	if parts := strings.Split(tok, "."); len(parts) == 3 {
		s.add(what+" payload segment", parts[1])
		s.add(what+" signature", parts[2])
	}
}

func (s *secretSet) addBytes(what string, b []byte) {
	s.add(what+" (hex)", hex.EncodeToString(b))
	s.add(what+" (base64)", base64.StdEncoding.EncodeToString(b))
	s.add(what+" (base64url)", base64.RawURLEncoding.EncodeToString(b))
	s.add(what+" (raw)", string(b))
}

// check reports every secret found in text.
func (s *secretSet) check(t *testing.T, where, text string) {
	t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	for v, what := range s.m {
		if strings.Contains(text, v) {
			t.Errorf("%s holds a secret: %s", where, what)
		}
	}
}

// TestNoSecretsInLogs drives every auth endpoint, successes and failures
// (bad credentials, throttling, malformed bodies, replayed and reused
// refresh tokens, revoked and forged access tokens, cross-origin requests,
// an authenticator failure, a payload that does not open, and Redis going
// away), with everything the
// manager logs captured at DEBUG and every security event recorded, and
// checks that no token, refresh token, password, key or payload key appears
// in a log line, an event, or an error body.
func TestNoSecretsInLogs(t *testing.T) {
	srv := redistest.Start(t, nil)
	store, err := revocation.NewRedis(srv.Client(&redis.Options{
		DialTimeout: 200 * time.Millisecond, ReadTimeout: 200 * time.Millisecond,
		WriteTimeout: 200 * time.Millisecond, MaxRetries: -1,
	}), nil)
	if err != nil {
		t.Fatal(err)
	}
	var logs sesametest.LogBuffer
	logger := slog.New(slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	// The default logger too, for what the replica logs. This test is not
	// parallel, so no other test runs while it is replaced.
	old := slog.Default()
	slog.SetDefault(logger)
	t.Cleanup(func() { slog.SetDefault(old) })
	var events sesametest.LogBuffer
	payloadKey := bytes.Repeat([]byte{0x5a}, 32)
	e := newEnv(t, store, func(c *auth.Config[Profile]) {
		c.Logger = logger
		c.DataKey = payloadKey
		c.Limits = auth.Limits{LoginsPerAddress: 1000, FailuresPerUser: 3, Window: time.Hour}
		c.OnEvent = func(_ context.Context, ev auth.Event) { fmt.Fprintf(&events, "%+v\n", ev) }
		c.Authenticator = auth.AuthenticatorFunc[Profile](func(ctx context.Context, u, p string) (string, Profile, error) {
			if u == "broken" {
				return "", Profile{}, errors.New("user database unreachable")
			}
			return authenticate(ctx, u, p)
		})
	})

	var sec secretSet
	for u, pw := range testUsers {
		sec.add("password of "+u, pw)
	}
	for _, pw := range []string{"wrong-password-1", "wrong-password-2", "broken-password-3"} {
		sec.add("a wrong password", pw)
	}
	for _, k := range testKeys().Keys() {
		sec.addBytes("signing key seed "+k.ID(), k.SigningKey().Seed())
		sec.addBytes("signing key "+k.ID(), k.SigningKey())
	}
	sec.addBytes("payload key", payloadKey)

	type call struct {
		c      *http.Client
		method string
		path   string
		body   string
		hdr    []string
	}
	var bodies []string
	do := func(c call) sesametest.Response {
		t.Helper()
		r := e.Do(c.c, c.method, c.path, c.body, c.hdr...)
		if r.Status >= 400 {
			bodies = append(bodies, fmt.Sprintf("%s %s → %d %s", c.method, c.path, r.Status, r.Body))
		}
		for _, ck := range r.Header.Values("Set-Cookie") {
			if name, v, ok := strings.Cut(strings.SplitN(ck, ";", 2)[0], "="); ok && v != "" {
				sec.addToken("cookie "+name, v)
			}
		}
		return r
	}
	hdrT := []string{"X-Session-Transport", "header"}
	// post sends a header-transport login or refresh and records the
	// tokens it is given as secrets no log line may hold.
	post := func(path, body string) (sesametest.Response, sesametest.Tokens) {
		r := do(call{nil, "POST", path, body, hdrT})
		var tk sesametest.Tokens
		if r.Status == 200 {
			r.JSON(t, &tk)
			sec.addToken("access token", tk.AccessToken)
			sec.addToken("refresh token", tk.RefreshToken)
		}
		return r, tk
	}
	login := func(user, pw string) (sesametest.Response, sesametest.Tokens) {
		return post("/auth/login", fmt.Sprintf(`{"username":%q,"password":%q}`, user, pw))
	}
	refresh := func(rt string) (sesametest.Response, sesametest.Tokens) {
		return post("/auth/refresh", fmt.Sprintf(`{"refresh_token":%q}`, rt))
	}
	with := func(tok string, extra ...string) []string {
		return append(append(sesametest.Bearer(tok), hdrT...), extra...)
	}

	// Logins: success, wrong password, unknown user, throttled, malformed,
	// authenticator failure.
	_, a0 := login("alice", "alice-pw")
	for _, c := range []struct{ user, pw string }{
		{"bob", "wrong-password-1"}, {"nobody", "wrong-password-2"}, {"broken", "broken-password-3"},
		{"bob", "wrong-password-1"}, {"bob", "wrong-password-1"}, {"bob", "bob-pw"}, // the last one is throttled
	} {
		if r, _ := login(c.user, c.pw); r.Status == 200 {
			t.Fatalf("login %s with %s succeeded", c.user, c.pw)
		}
	}
	do(call{nil, "POST", "/auth/login", `{"username":"alice","password":`, hdrT})
	do(call{nil, "POST", "/auth/login", `username=alice&password=alice-pw`, append([]string{"Content-Type", "application/x-www-form-urlencoded"}, hdrT...)})
	do(call{nil, "POST", "/auth/login", `{"username":"alice","password":"` + strings.Repeat("p", 5000) + `"}`, hdrT})

	// Refresh: rotate, replay, rotate twice more, reuse of the first (theft),
	// garbage, a forged token made from a real one, empty.
	_, a1 := refresh(a0.RefreshToken)
	refresh(a0.RefreshToken)
	_, a2 := refresh(a1.RefreshToken)
	_, a3 := refresh(a2.RefreshToken)
	if r, _ := refresh(a0.RefreshToken); r.Status != 401 {
		t.Errorf("reuse: %d %s", r.Status, r.Body)
	}
	refresh(a3.RefreshToken) // the family is gone
	refresh("garbage")
	refresh(a3.RefreshToken[:len(a3.RefreshToken)-4] + "AAAA")
	do(call{nil, "POST", "/auth/refresh", `{}`, hdrT})

	// Access tokens: valid, revoked (the stolen session), forged, expired-looking, on every route.
	_, b0 := login("alice", "alice-pw")
	forged := b0.AccessToken[:len(b0.AccessToken)-6] + "AAAAAA"
	sec.addToken("forged access token", forged)
	for _, tok := range []string{b0.AccessToken, a3.AccessToken, forged, "not.a.token"} {
		do(call{nil, "GET", "/auth/session", "", with(tok)})
		do(call{nil, "GET", "/auth/sessions", "", with(tok)})
		do(call{nil, "GET", "/app", "", with(tok)})
		do(call{nil, "GET", "/maybe", "", with(tok)})
		do(call{nil, "POST", "/pay", "", with(tok)})
		do(call{nil, "POST", "/cart?item=book", "", with(tok)})
		do(call{nil, "DELETE", "/auth/sessions/no-such-sid", "", with(tok)})
	}
	// Two Authorization headers, a token in the wrong scheme, in a cookie
	// while asking for the header transport.
	do(call{nil, "GET", "/app", "", []string{"Authorization", "Bearer " + b0.AccessToken, "Authorization", "Bearer " + forged}})
	do(call{nil, "GET", "/app", "", []string{"Authorization", "Basic " + b0.AccessToken}})
	do(call{nil, "GET", "/auth/session", "", append([]string{"Cookie", "__Host-sesame=" + forged}, hdrT...)})

	// End one session by sid, then the rest: logout, logout-all, and again
	// with the dead tokens.
	_, c0 := login("alice", "alice-pw")
	var sess []struct {
		SID string `json:"sid"`
	}
	do(call{nil, "GET", "/auth/sessions", "", with(c0.AccessToken)}).JSON(t, &sess)
	for _, s := range sess {
		do(call{nil, "DELETE", "/auth/sessions/" + s.SID, "", with(c0.AccessToken)})
	}
	_, d0 := login("alice", "alice-pw")
	do(call{nil, "POST", "/auth/logout", "", with(d0.AccessToken)})
	do(call{nil, "POST", "/auth/logout", fmt.Sprintf(`{"refresh_token":%q}`, d0.RefreshToken), hdrT})
	_, f0 := login("alice", "alice-pw")
	do(call{nil, "POST", "/auth/logout-all", "", with(f0.AccessToken)})
	do(call{nil, "POST", "/auth/logout-all", "", with(f0.AccessToken)})

	// Cookie transport, and a cross-origin request carrying the cookies.
	br := e.browser()
	do(call{br, "POST", "/auth/login", `{"username":"bob","password":"bob-pw"}`, nil})
	do(call{br, "GET", "/auth/session", "", nil})
	do(call{br, "POST", "/auth/refresh", "", nil})
	do(call{br, "POST", "/auth/logout", "", []string{"Origin", "https://evil.example", "Sec-Fetch-Site", "cross-site"}})
	do(call{br, "POST", "/cart?item=x", "", []string{"Origin", "https://evil.example", "Sec-Fetch-Site", "cross-site"}})
	do(call{br, "POST", "/auth/logout", "", nil})
	do(call{br, "GET", "/auth/session", "", nil})

	// A node with another payload key cannot open the stored session data:
	// the refresh fails and is logged.
	_, h0 := login("alice", "alice-pw")
	other := newEnv(t, store, func(c *auth.Config[Profile]) {
		c.Logger = logger
		c.DataKey = bytes.Repeat([]byte{0xa5}, 32)
	})
	sec.addBytes("other payload key", bytes.Repeat([]byte{0xa5}, 32))
	if r := other.Do(nil, "POST", "/auth/refresh", fmt.Sprintf(`{"refresh_token":%q}`, h0.RefreshToken), hdrT...); r.Status < 400 {
		t.Errorf("refresh with the wrong payload key: %d", r.Status)
	} else {
		bodies = append(bodies, r.Body)
	}

	// Redis goes away: every state-changing endpoint answers 503 and logs
	// the store error; the replica turns stale.
	_, g0 := login("bob", "bob-pw")
	srv.Kill()
	login("bob", "bob-pw")
	refresh(g0.RefreshToken)
	do(call{nil, "GET", "/auth/sessions", "", with(g0.AccessToken)})
	do(call{nil, "POST", "/pay", "", with(g0.AccessToken)})
	do(call{nil, "POST", "/cart?item=y", "", with(g0.AccessToken)})
	do(call{nil, "POST", "/auth/logout", "", with(g0.AccessToken)})
	do(call{nil, "POST", "/auth/logout-all", "", with(g0.AccessToken)})
	waitFor(t, 10*time.Second, func() bool { return e.replica.Status().Stale })
	do(call{nil, "GET", "/app", "", with(g0.AccessToken)})

	out := logs.String()
	if !strings.Contains(out, "does not decode") || !strings.Contains(out, "authenticator failed") {
		t.Errorf("the failures were not logged (is the logger wired?):\n%s", out)
	}
	if !strings.Contains(events.String(), string(auth.EventRefreshReused)) {
		t.Errorf("no refresh reuse event among:\n%s", events.String())
	}
	sec.check(t, "the logs", out)
	sec.check(t, "the security events", events.String())
	for _, b := range bodies {
		sec.check(t, "error body of "+strings.SplitN(b, " → ", 2)[0], b)
	}
	if t.Failed() {
		t.Logf("logs:\n%s", out)
	}
}
