package auth_test

import (
	"encoding/json"
	"net/url"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/sesame-go/sesame/auth"
	"github.com/sesame-go/sesame/clients"
	"github.com/sesame-go/sesame/internal/sesametest"
	"github.com/sesame-go/sesame/internal/testclock"
)

// introspectEnv is an env with one introspection client, "gw".
func introspectEnv(t *testing.T, opts ...envOpt) (*env, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "clients.json")
	c, secret, err := clients.Generate("gw", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if err := clients.Edit(path, func(f *clients.File) error { return f.Add(c) }); err != nil {
		t.Fatal(err)
	}
	set, err := clients.Open(path, &clients.Options{PollInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	return newEnv(t, newMemoryStore(t), append([]envOpt{func(c *auth.Config[Profile]) { c.Gateway.IntrospectionClients = set }}, opts...)...), secret
}

// introspect posts form to /auth/introspect as client id with secret; hdr
// adds header pairs, a Content-Type among them replacing the form's.
func (e *env) introspect(id, secret string, form url.Values, hdr ...string) sesametest.Response {
	e.t.Helper()
	var h []string
	if !slices.Contains(hdr, "Content-Type") {
		h = []string{"Content-Type", "application/x-www-form-urlencoded"}
	}
	if id != "" {
		h = append(h, sesametest.BasicAuth(id, secret)...)
	}
	return e.Do(nil, "POST", "/auth/introspect", form.Encode(), append(h, hdr...)...)
}

func TestIntrospection(t *testing.T) {
	clk := testclock.New(time.Now())
	// The clock goes forward and back (the "expired" case): the per-client
	// cap, whose budget follows it, is off here; TestIntrospectionThrottled
	// tests it.
	e, secret := introspectEnv(t, func(c *auth.Config[Profile]) { c.Now, c.Gateway.IntrospectionsPerClient = clk.Now, -1 })
	tk := e.LoginAs("alice")
	form := func(tok string) url.Values { return url.Values{"token": {tok}, "token_type_hint": {"access_token"}} }

	t.Run("active", func(t *testing.T) {
		r := e.introspect("gw", secret, form(tk.AccessToken))
		if r.Status != 200 || r.Header.Get("Cache-Control") != "no-store" {
			t.Fatalf("got %d, Cache-Control %q: %s", r.Status, r.Header.Get("Cache-Control"), r.Body)
		}
		var got struct {
			Active    bool    `json:"active"`
			Sub       string  `json:"sub"`
			SID       string  `json:"sid"`
			Exp       int64   `json:"exp"`
			Iat       int64   `json:"iat"`
			TokenType string  `json:"token_type"`
			Data      Profile `json:"data"`
		}
		r.JSON(t, &got)
		var all map[string]any
		r.JSON(t, &all)
		if !got.Active || got.Sub != "uid-alice" || got.SID == "" || got.TokenType != "access_token" || got.Data.Name != "Alice" ||
			got.Exp <= got.Iat || got.Iat == 0 {
			t.Errorf("got %s", r.Body)
		}
		for _, k := range []string{"exp", "iat", "iss", "aud"} {
			if _, ok := all[k]; !ok {
				t.Errorf("no %q in %s", k, r.Body)
			}
		}
		if all["iss"] != "sesame" || all["aud"] != "sesame" {
			t.Errorf("iss %v, aud %v: want sesame", all["iss"], all["aud"])
		}
	})

	inactive := []struct {
		name   string
		token  func() string
		before func()
		after  func()
	}{
		{name: "garbage", token: func() string { return "garbage" }},
		{name: "forged", token: func() string { return tk.AccessToken[:len(tk.AccessToken)-4] + "AAAA" }},
		{name: "a refresh token", token: func() string { return tk.RefreshToken }},
		{name: "expired", token: func() string { return tk.AccessToken },
			before: func() { clk.Advance(10*time.Minute + 31*time.Second) }, after: func() { clk.Advance(-(10*time.Minute + 31*time.Second)) }},
		{name: "revoked", token: func() string {
			tk := e.LoginAs("bob")
			if r := e.Do(nil, "POST", "/auth/logout", "", sesametest.Bearer(tk.AccessToken)...); r.Status != 204 {
				t.Fatalf("logout: %d", r.Status)
			}
			return tk.AccessToken
		}},
	}
	for _, tc := range inactive {
		t.Run(tc.name, func(t *testing.T) {
			if tc.before != nil {
				tc.before()
				defer tc.after()
			}
			r := e.introspect("gw", secret, form(tc.token()))
			if r.Status != 200 || strings.TrimSpace(r.Body) != `{"active":false}` {
				t.Fatalf("got %d %s, want 200 {\"active\":false}", r.Status, r.Body)
			}
		})
	}

	for _, tc := range []struct {
		name, id, secret string
	}{
		{"no credentials", "", ""},
		{"wrong secret", "gw", secret[:42] + "x"},
		{"unknown client", "other", secret},
	} {
		t.Run("refused: "+tc.name, func(t *testing.T) {
			r := e.introspect(tc.id, tc.secret, form(tk.AccessToken))
			if r.Status != 401 || !strings.HasPrefix(r.Header.Get("WWW-Authenticate"), "Basic") || strings.Contains(r.Body, "active") {
				t.Fatalf("got %d %q %s, want 401 Basic invalid_client", r.Status, r.Header.Get("WWW-Authenticate"), r.Body)
			}
		})
	}

	for _, tc := range []struct {
		name string
		body url.Values
		hdr  []string
	}{
		{"no token", url.Values{"token_type_hint": {"access_token"}}, nil},
		{"empty token", url.Values{"token": {""}}, nil},
		{"two tokens", url.Values{"token": {tk.AccessToken, tk.AccessToken}}, nil},
		{"JSON body", form(tk.AccessToken), []string{"Content-Type", "application/json"}},
	} {
		t.Run("malformed: "+tc.name, func(t *testing.T) {
			r := e.introspect("gw", secret, tc.body, tc.hdr...)
			if r.Status != 400 || !strings.Contains(r.Body, "invalid_request") {
				t.Fatalf("got %d %s, want 400 invalid_request", r.Status, r.Body)
			}
		})
	}

	s := e.m.Stats().Introspections
	want := map[string]uint64{"active": 1, "inactive": 5, "invalid_client": 3, "bad_request": 4}
	for k, n := range want {
		if s[k] != n {
			t.Errorf("Stats.Introspections[%q] = %d, want %d (all: %v)", k, s[k], n, s)
		}
	}
	if _, ok := s[secret]; ok {
		t.Error("a secret is a stats key")
	}
}

func TestIntrospectionThrottled(t *testing.T) {
	clk := testclock.New(time.Now())
	e, secret := introspectEnv(t, func(c *auth.Config[Profile]) {
		c.Now = clk.Now
		c.Gateway.IntrospectionsPerClient = 3
		c.Gateway.IntrospectionWindow = time.Minute
	})
	form := url.Values{"token": {"x"}}
	for i := range 3 {
		if r := e.introspect("gw", secret, form); r.Status != 200 {
			t.Fatalf("call %d: %d", i+1, r.Status)
		}
	}
	r := e.introspect("gw", secret, form)
	if r.Status != 429 || r.Header.Get("Retry-After") == "" {
		t.Fatalf("call 4: %d, Retry-After %q; want 429 with Retry-After", r.Status, r.Header.Get("Retry-After"))
	}
	// A wrong secret is refused as such, and does not count for the client.
	if r := e.introspect("gw", "wrong", form); r.Status != 401 {
		t.Fatalf("wrong secret while throttled: %d", r.Status)
	}
	clk.Advance(time.Minute)
	if r := e.introspect("gw", secret, form); r.Status != 200 {
		t.Fatalf("next window: %d", r.Status)
	}
	if n := e.m.Stats().Introspections["rate_limited"]; n != 1 {
		t.Errorf("rate_limited counted %d, want 1", n)
	}
}

func TestIntrospectionOff(t *testing.T) {
	e := newEnv(t, newMemoryStore(t))
	tk := e.LoginAs("alice")
	r := e.introspect("gw", "x", url.Values{"token": {tk.AccessToken}})
	if r.Status != 404 {
		t.Fatalf("without IntrospectionClients: %d %s, want 404", r.Status, r.Body)
	}
	var b map[string]any
	json.Unmarshal([]byte(r.Body), &b)
	if _, ok := b["active"]; ok {
		t.Errorf("404 body %s talks about the token", r.Body)
	}
	if n := e.m.Stats().Introspections["disabled"]; n != 1 {
		t.Errorf("disabled counted %d, want 1", n)
	}
}

func TestIntrospectionUnavailable(t *testing.T) {
	up := newEnv(t, newMemoryStore(t))
	tk := up.LoginAs("alice")
	e, secret := introspectEnv(t, func(c *auth.Config[Profile]) { c.Denylist = unavailable{} })
	r := e.introspect("gw", secret, url.Values{"token": {tk.AccessToken}})
	if r.Status != 503 || r.Header.Get("Retry-After") == "" {
		t.Fatalf("stale replica: %d %s, want 503 with Retry-After", r.Status, r.Body)
	}
}
