// Package attack_test is sesame's attack suite: tokens, requests and races an
// attacker would try, each sent through a real TLS server (an auth.Manager
// on the memory store and on a real redis-server) and each asserting the
// exact outcome: status, reason code, that the protected handler never ran,
// that the victim's session and the revocation state did not change, and
// that the server is still healthy.
package attack_test

import (
	"context"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/sesame-go/sesame/auth"
	"github.com/sesame-go/sesame/internal/redistest"
	"github.com/sesame-go/sesame/internal/sesametest"
	"github.com/sesame-go/sesame/internal/testclock"
	"github.com/sesame-go/sesame/keys"
	"github.com/sesame-go/sesame/revocation"
)

// Profile is the session data. Email and Name are personal data that must
// never appear in a token's clear parts.
type Profile struct {
	Name  string `json:"name"`
	Email string `json:"email"`
}

var users = map[string]string{"alice": "alice-pw", "bob": "bob-pw", "mallory": "mallory-pw"}

// keySource is an auth.KeySource the test swaps (rotation, revocation).
type keySource struct{ p atomic.Pointer[keys.Keyset] }

func (k *keySource) Current() *keys.Keyset { return k.p.Load() }

// countingAuth is an Authenticator that does, as the auth docs require, the
// same work for an unknown user as for a wrong password (it "hashes" a dummy
// password), and counts both its calls and its hashes.
type countingAuth struct {
	calls, hashes atomic.Int64
}

func (a *countingAuth) Authenticate(_ context.Context, u, p string) (string, Profile, error) {
	a.calls.Add(1)
	want, ok := users[u]
	if !ok {
		want = "dummy-password-for-unknown-users"
	}
	a.hashes.Add(1) // one password verification either way
	if !ok || p != want {
		return "", Profile{}, auth.ErrInvalidCredentials
	}
	return "uid-" + u, Profile{Name: strings.ToUpper(u[:1]) + u[1:], Email: u + "@example.com"}, nil
}

// options select a deployment.
type options struct {
	redis  *redistest.Server // nil: memory store
	prefix string            // Redis key prefix ("" means a fresh one)
	grace  time.Duration     // store grace window (0: default)
	clk    *testclock.Offset // shared clock (nil: a new one)
	keys   *keySource        // shared keys (nil: a new keyset)
	cfg    func(*auth.Config[Profile])
}

type env struct {
	*sesametest.Node[Profile] // Do, Try, Login, Refresh
	t                         *testing.T
	name                      string
	clk                       *testclock.Offset // real time plus an offset, shared by the manager, the store and the replica
	keys                      *keySource
	store                     revocation.Store
	rep                       *revocation.Replica
	m                         *auth.Manager[Profile]
	cfg                       auth.Config[Profile]
	srv                       *httptest.Server
	authn                     *countingAuth
	mu                        sync.Mutex
	hits                      sesametest.Hits
	events                    []auth.Event
	victim                    sesametest.Tokens // alice's session, header transport, made at start
	victimG                   uint64            // its family's generation at start
}

var prefixN atomic.Int64

func newKeySource(t testing.TB) *keySource {
	src := &keySource{}
	src.p.Store(sesametest.NewKeyset(t))
	return src
}

func newEnv(t *testing.T, o options) *env {
	t.Helper()
	e := &env{t: t, clk: o.clk, keys: o.keys, authn: &countingAuth{}}
	if e.clk == nil {
		e.clk = &testclock.Offset{}
	}
	if e.keys == nil {
		e.keys = newKeySource(t)
	}
	var err error
	if o.redis == nil {
		e.name = "memory"
		e.store, err = revocation.NewMemory(&revocation.MemoryOptions{Now: e.clk.Now, GraceWindow: o.grace})
	} else {
		e.name = "redis"
		prefix := o.prefix
		if prefix == "" {
			prefix = "atk" + string(rune('a'+prefixN.Add(1)%26)) + time.Now().Format("150405.000000") + ":"
		}
		e.store, err = revocation.NewRedis(o.redis.Client(), &revocation.RedisOptions{KeyPrefix: prefix, Now: e.clk.Now, GraceWindow: o.grace})
	}
	if err != nil {
		t.Fatal(err)
	}
	e.rep = sesametest.StartReplica(t, e.store.(revocation.Feed), &revocation.ReplicaOptions{StalenessBound: 2 * time.Second, Now: e.clk.Now})
	e.waitFresh()

	e.cfg = auth.Config[Profile]{
		Keys:          e.keys,
		Store:         e.store,
		Denylist:      e.rep,
		Authenticator: e.authn,
		DataKey:       []byte("attack-harness-data-key-32-bytes"),
		Now:           e.clk.Now,
		Logger:        slog.New(slog.DiscardHandler),
		OnEvent: func(_ context.Context, ev auth.Event) {
			e.mu.Lock()
			e.events = append(e.events, ev)
			e.mu.Unlock()
		},
	}
	if o.cfg != nil {
		o.cfg(&e.cfg)
	}
	e.m, err = auth.New(e.cfg)
	if err != nil {
		t.Fatal(err)
	}
	hit := func(name string) http.HandlerFunc {
		return e.hits.Handler(name, func(r *http.Request) (string, bool) {
			s, ok := auth.FromContext[Profile](r.Context())
			if !ok {
				return "", false
			}
			return s.UserID, true
		})
	}
	e.Node = sesametest.Serve(t, e.m, true, func(r chi.Router) {
		r.With(e.m.Require()).Get("/app", hit("app"))
		r.With(e.m.Require()).Post("/app", hit("app"))
		r.With(e.m.Optional()).Get("/maybe", hit("maybe"))
		r.With(e.m.Strict()).Post("/pay", hit("pay"))
		r.Get("/healthz", func(w http.ResponseWriter, r *http.Request) {
			if e.rep.Status().Stale {
				w.WriteHeader(503)
				return
			}
			io.WriteString(w, "ok")
		})
	})
	e.Passwords = users
	e.srv = e.Node.Srv

	e.victim = e.LoginAs("alice")
	e.victimG = e.family(e.victim.RefreshToken).Generation
	return e
}

// waitFresh waits until the replica confirms it is current (after start,
// or after the clock jumped).
func (e *env) waitFresh() {
	e.t.Helper()
	waitFor(e.t, 5*time.Second, func() bool { return !e.rep.Status().Stale })
}

func (e *env) hitCount(name string) int { return e.hits.Count(name) }

func (e *env) totalHits() int { return e.hits.Total() }

func (e *env) eventCount(k auth.EventKind) int {
	e.mu.Lock()
	defer e.mu.Unlock()
	n := 0
	for _, ev := range e.events {
		if ev.Kind == k {
			n++
		}
	}
	return n
}

// family returns the live family of a refresh token (failing if it is gone).
func (e *env) family(rt string) revocation.Family {
	e.t.Helper()
	fid, ok := revocation.TokenFamilyID(rt)
	if !ok {
		e.t.Fatalf("not a refresh token")
	}
	f, found, err := e.store.GetFamily(context.Background(), fid)
	if err != nil || !found {
		e.t.Fatalf("family %s: found=%v err=%v", fid, found, err)
	}
	return f
}

func (e *env) familyGone(rt string) bool {
	fid, _ := revocation.TokenFamilyID(rt)
	_, found, err := e.store.GetFamily(context.Background(), fid)
	return err == nil && !found
}

// intact asserts the victim's session is untouched and the server healthy:
// its access token works (strict check included, so the store agrees), its
// family did not move, nothing denylisted it, and /healthz answers.
func (e *env) intact(t *testing.T) {
	t.Helper()
	if r := e.Do(nil, "GET", "/healthz", ""); r.Status != 200 {
		t.Fatalf("server unhealthy: %d", r.Status)
	}
	if r := e.Do(nil, "GET", "/app", "", sesametest.Bearer(e.victim.AccessToken)...); r.Status != 200 {
		t.Fatalf("victim session broken: %d %s", r.Status, r.Body)
	}
	if r := e.Do(nil, "POST", "/pay", "", sesametest.Bearer(e.victim.AccessToken)...); r.Status != 200 {
		t.Fatalf("victim session refused by the strict check: %d %s", r.Status, r.Body)
	}
	if g := e.family(e.victim.RefreshToken).Generation; g != e.victimG {
		t.Fatalf("victim family generation %d, want %d", g, e.victimG)
	}
}

// backends runs f on the memory store and on a real redis-server.
func backends(t *testing.T, f func(t *testing.T, o options)) {
	t.Run("memory", func(t *testing.T) { t.Parallel(); f(t, options{}) })
	t.Run("redis", func(t *testing.T) {
		t.Parallel()
		f(t, options{redis: redistest.Start(t, nil)})
	})
}

func (e *env) accessCookie(tok string) []string {
	return []string{"Cookie", "__Host-sesame=" + tok}
}

// waitFor polls cond (for propagation through a replica or a real process).
func waitFor(t testing.TB, d time.Duration, cond func() bool) {
	t.Helper()
	sesametest.WaitFor(t, 2*time.Millisecond, d, "", cond)
}

// outbound is a loopback listener that counts connections: headers that
// name URLs (jku, x5u) point at it, and it must see none.
type outbound struct {
	l     net.Listener
	conns atomic.Int64
	url   string
}

func newOutbound(t *testing.T) *outbound {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	o := &outbound{l: l, url: "https://" + l.Addr().String() + "/jwks.json"}
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			o.conns.Add(1)
			c.Close()
		}
	}()
	t.Cleanup(func() { l.Close() })
	return o
}

// --- token surgery ---

var b64 = base64.RawURLEncoding

func enc(s string) string { return b64.EncodeToString([]byte(s)) }

func split(t testing.TB, raw string) (hdr, claims, sig string) {
	t.Helper()
	p := strings.Split(raw, ".")
	if len(p) != 3 {
		t.Fatalf("token has %d segments", len(p))
	}
	h, err1 := b64.DecodeString(p[0])
	c, err2 := b64.DecodeString(p[1])
	if err1 != nil || err2 != nil {
		t.Fatal("token does not decode")
	}
	return string(h), string(c), p[2]
}

// claimsMap decodes a token's claims.
func claimsMap(t testing.TB, raw string) map[string]any {
	_, c, _ := split(t, raw)
	m := map[string]any{}
	d := json.NewDecoder(strings.NewReader(c))
	d.UseNumber()
	if err := d.Decode(&m); err != nil {
		t.Fatal(err)
	}
	return m
}

func mustJSON(t testing.TB, v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// signEd signs the exact header and claims JSON with an Ed25519 key: a token
// only a key holder could make, to reach the checks after the signature.
func signEd(priv ed25519.PrivateKey, hdrJSON, claimsJSON string) string {
	in := enc(hdrJSON) + "." + enc(claimsJSON)
	return in + "." + b64.EncodeToString(ed25519.Sign(priv, []byte(in)))
}

// canonical is the one header sesame mints for kid.
func canonical(kid string) string {
	return `{"alg":"EdDSA","kid":"` + kid + `","typ":"at+jwt"}`
}

func (e *env) signer() *keys.Key {
	k, err := e.keys.Current().Signer()
	if err != nil {
		e.t.Fatal(err)
	}
	return k
}

// resign signs claims (a map, re-encoded) with the active key under the
// canonical header.
func (e *env) resign(claims map[string]any) string {
	k := e.signer()
	return signEd(k.SigningKey(), canonical(k.ID()), mustJSON(e.t, claims))
}
