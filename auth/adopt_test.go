package auth_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/redis/go-redis/v9"

	"github.com/sesame-go/sesame/auth"
	"github.com/sesame-go/sesame/internal/redistest"
	"github.com/sesame-go/sesame/internal/sesametest"
	"github.com/sesame-go/sesame/internal/testclock"
	"github.com/sesame-go/sesame/keys"
	"github.com/sesame-go/sesame/revocation"
)

// The traps a new user fell into, one test each: every one failed on the
// code before NewLocal and Open, and passes now.

// localEnv is a NewLocal manager behind the test routes (see newEnv).
func localEnv(t *testing.T, cfg *auth.Config[Profile]) *env {
	t.Helper()
	m, err := auth.NewLocal[Profile](auth.AuthenticatorFunc[Profile](authenticate), cfg)
	if err != nil {
		t.Fatal(err)
	}
	return serveEnv(t, m)
}

// serveEnv puts a Manager behind the test routes until t ends, then
// closes it.
func serveEnv(t *testing.T, m *auth.Manager[Profile]) *env {
	e := &env{t: t, m: m, store: m.Parts().Store, replica: m.Parts().Replica}
	e.serve(func(r chi.Router) {
		r.With(m.Require()).Get("/app", func(w http.ResponseWriter, r *http.Request) {
			s, _ := auth.FromContext[Profile](r.Context())
			w.Write([]byte("hello " + s.Data.Name))
		})
	})
	return e
}

// Trap: forgetting `go replica.Run(ctx)` made every protected route answer
// 503 with nothing logged. A Manager now runs its replica itself when given
// none, and a replica that never loads is logged, loudly and once.
func TestForgottenReplicaIsLoud(t *testing.T) {
	store, err := revocation.NewMemory(nil)
	if err != nil {
		t.Fatal(err)
	}
	rep, err := revocation.NewReplica(store, nil) // never Run
	if err != nil {
		t.Fatal(err)
	}
	var logs sesametest.LogBuffer
	var events []auth.EventKind
	m, err := auth.New(auth.Config[Profile]{Keys: testKeys(), Store: store, Denylist: rep,
		Authenticator: auth.AuthenticatorFunc[Profile](authenticate),
		Logger:        slog.New(slog.NewTextHandler(&logs, nil)),
		OnEvent:       func(_ context.Context, e auth.Event) { events = append(events, e.Kind) }})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	e := serveEnv(t, m)
	tk := e.LoginAs("alice")
	for range 3 {
		if r := e.Do(nil, "GET", "/app", "", sesametest.Bearer(tk.AccessToken)...); r.Status != 503 {
			t.Fatalf("protected route with an unloaded replica: %d, want 503", r.Status)
		}
	}
	if n := strings.Count(logs.String(), "has not loaded its first snapshot (is its Run method running?"); n != 1 {
		t.Errorf("the unloaded replica was logged %d times, want once:\n%s", n, logs.String())
	}
	if len(events) != 2 || events[1] != auth.EventStale { // login_success, then the trip
		t.Errorf("events %v, want login_success then %s", events, auth.EventStale)
	}

	// Without a Denylist the Manager runs the replica: nothing to forget.
	m2, err := auth.New(auth.Config[Profile]{Keys: testKeys(), Store: store, Authenticator: auth.AuthenticatorFunc[Profile](authenticate)})
	if err != nil {
		t.Fatal(err)
	}
	defer m2.Close()
	e2 := serveEnv(t, m2)
	waitFor(t, 5*time.Second, func() bool { return m2.Parts().Replica.Status().Ready })
	if r := e2.Do(nil, "GET", "/app", "", sesametest.Bearer(e2.LoginAs("alice").AccessToken)...); r.Status != 200 {
		t.Errorf("protected route of a Manager running its own replica: %d %s", r.Status, r.Body)
	}
}

// Trap: AccessTTL: 15*time.Minute (or Leeway: time.Minute) alone made
// auth.New fail, because the store's entries were sized for the defaults.
// NewLocal and Open size the store from the Config.
func TestLifetimesFromOneConfig(t *testing.T) {
	for _, cfg := range []*auth.Config[Profile]{
		{AccessTTL: 15 * time.Minute},
		{Leeway: time.Minute},
		{AccessTTL: 2 * time.Hour, Leeway: 5 * time.Minute},
	} {
		e := localEnv(t, cfg)
		if r := e.Do(nil, "GET", "/app", "", sesametest.Bearer(e.LoginAs("alice").AccessToken)...); r.Status != 200 {
			t.Errorf("AccessTTL %v, Leeway %v: %d %s", cfg.AccessTTL, cfg.Leeway, r.Status, r.Body)
		}
		if ttl := e.store.(interface{ EntryTTL() time.Duration }).EntryTTL(); ttl < cfg.EntryTTL() {
			t.Errorf("AccessTTL %v, Leeway %v: store entries live %v, want at least %v", cfg.AccessTTL, cfg.Leeway, ttl, cfg.EntryTTL())
		}
	}
	srv := redistest.Start(t, nil)
	mk, _ := keys.NewMasterKey(bytes.Repeat([]byte{7}, keys.MasterKeySize))
	m, err := auth.Open(context.Background(), srv.Client(), mk, auth.Authenticator[Profile](auth.AuthenticatorFunc[Profile](authenticate)),
		&auth.Config[Profile]{AccessTTL: 15 * time.Minute})
	if err != nil {
		t.Fatalf("Open with a 15-minute AccessTTL: %v", err)
	}
	m.Close()
}

// Impossible combinations are refused by the constructor, with an error
// that names the fields.
func TestImpossibleLifetimesRefused(t *testing.T) {
	for _, tc := range []struct {
		cfg   auth.Config[Profile]
		names []string
	}{
		{auth.Config[Profile]{SessionLifetime: 48 * time.Hour, RememberLifetime: 24 * time.Hour}, []string{"SessionLifetime", "RememberLifetime"}},
		{auth.Config[Profile]{AccessTTL: time.Hour, Rotation: keys.RotationPolicy{MaxTokenLifetime: 10 * time.Minute}}, []string{"Rotation.MaxTokenLifetime", "AccessTTL"}},
		{auth.Config[Profile]{Leeway: 2 * time.Minute, Rotation: keys.RotationPolicy{Leeway: time.Minute}}, []string{"Rotation.Leeway", "Config.Leeway"}},
		{auth.Config[Profile]{AccessTTL: time.Millisecond}, []string{"AccessTTL"}},
		{auth.Config[Profile]{SessionLifetime: -1}, []string{"SessionLifetime"}},
	} {
		_, err := auth.NewLocal[Profile](auth.AuthenticatorFunc[Profile](authenticate), &tc.cfg)
		if err == nil {
			t.Errorf("%+v accepted", tc.names)
			continue
		}
		for _, n := range tc.names {
			if !strings.Contains(err.Error(), n) {
				t.Errorf("error %q does not name %s", err, n)
			}
		}
	}
}

// Trap: Config{RefreshIdle: -1} passed New, then every login answered 503.
// A negative RefreshIdle means no idle timeout.
func TestRefreshIdleOff(t *testing.T) {
	const month = 30 * 24 * time.Hour
	for _, tc := range []struct {
		idle time.Duration
		want int // after 8 days without a refresh
	}{
		{0, 401},  // the default, 7 days: the session ended
		{-1, 200}, // none: it lives to its absolute lifetime
	} {
		clk := testclock.New(time.Now())
		e := localEnv(t, &auth.Config[Profile]{RefreshIdle: tc.idle, SessionLifetime: month, RememberLifetime: month, Now: clk.Now})
		tk := e.LoginAs("alice")
		if tk.RefreshToken == "" {
			t.Fatalf("RefreshIdle %v: login failed", tc.idle)
		}
		fid, _ := revocation.TokenFamilyID(tk.RefreshToken)
		f, found, err := e.store.GetFamily(context.Background(), fid)
		if err != nil || !found {
			t.Fatalf("family: %v %v", found, err)
		}
		if off := f.IdleTimeout == 0; off != (tc.idle < 0) {
			t.Errorf("RefreshIdle %v: family idle timeout %v", tc.idle, f.IdleTimeout)
		}
		clk.Advance(8 * 24 * time.Hour)
		if r, _ := e.Refresh(tk.RefreshToken); r.Status != tc.want {
			t.Errorf("RefreshIdle %v: refresh after 8 idle days: %d %s, want %d", tc.idle, r.Status, r.Body, tc.want)
		}
	}
}

// Trap: with a nil PayloadKey the session data sat in Redis in clear. New
// refuses it for a store outside the process unless PlaintextData says so,
// and Open derives the key from the master key.
func TestSessionDataSealedInRedis(t *testing.T) {
	srv := redistest.Start(t, nil)
	client := srv.Client()
	store, err := revocation.NewRedis(client, nil)
	if err != nil {
		t.Fatal(err)
	}
	base := auth.Config[Profile]{Keys: testKeys(), Store: store, Authenticator: auth.AuthenticatorFunc[Profile](authenticate)}
	if _, err := auth.New(base); err == nil || !strings.Contains(err.Error(), "DataKey") {
		t.Errorf("New on Redis without a DataKey: %v, want a refusal naming DataKey", err)
	}
	plain := base
	plain.PlaintextData = true
	m, err := auth.New(plain)
	if err != nil {
		t.Fatalf("New with PlaintextData: %v", err)
	}
	m.Close()

	mk, _ := keys.NewMasterKey(bytes.Repeat([]byte{9}, keys.MasterKeySize))
	m, err = auth.Open(context.Background(), client, mk, auth.Authenticator[Profile](auth.AuthenticatorFunc[Profile](authenticate)), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	e := serveEnv(t, m)
	tk := e.LoginAs("alice")
	if r := e.Do(nil, "GET", "/app", "", sesametest.Bearer(tk.AccessToken)...); r.Status != 200 || r.Body != "hello Alice" {
		t.Fatalf("request through Open: %d %q", r.Status, r.Body)
	}
	keys, err := client.Keys(context.Background(), "*").Result()
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range keys {
		dump, err := client.Dump(context.Background(), k).Result()
		if err != nil && !errors.Is(err, redis.Nil) {
			t.Fatal(err)
		}
		if strings.Contains(dump, "Alice") {
			t.Errorf("Redis key %q holds the session data in clear", k)
		}
	}
	// The refresh opens it again.
	if r, tk2 := e.Refresh(tk.RefreshToken); r.Status != 200 || e.Do(nil, "GET", "/app", "", sesametest.Bearer(tk2.AccessToken)...).Body != "hello Alice" {
		t.Fatalf("refresh of sealed data: %d %s", r.Status, r.Body)
	}
}

// Start takes any store with a change feed and a keyset store: the general
// form NewLocal and Open are built on.
func TestStart(t *testing.T) {
	store, err := revocation.NewMemory(nil)
	if err != nil {
		t.Fatal(err)
	}
	authn := auth.AuthenticatorFunc[Profile](authenticate)
	if _, err := auth.Start[Profile](context.Background(), authn, &auth.Config[Profile]{Store: store}); err == nil {
		t.Error("Start without a KeyStore accepted")
	}
	m, err := auth.Start[Profile](context.Background(), authn, &auth.Config[Profile]{Store: store, KeyStore: keys.NewMemoryStore(nil)})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	if !m.Parts().Replica.Status().Ready || m.Parts().Keys == nil {
		t.Fatal("Start returned before its replica and keyset were ready")
	}
	e := serveEnv(t, m)
	if r := e.Do(nil, "GET", "/app", "", sesametest.Bearer(e.LoginAs("alice").AccessToken)...); r.Status != 200 {
		t.Errorf("request through Start: %d %s", r.Status, r.Body)
	}
}
