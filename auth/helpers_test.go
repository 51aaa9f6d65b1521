package auth_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/sesame-go/sesame/auth"
	"github.com/sesame-go/sesame/internal/sesametest"
	"github.com/sesame-go/sesame/keys"
	"github.com/sesame-go/sesame/revocation"
)

// Profile is the session data of the tests.
type Profile struct {
	Name string   `json:"name"`
	Cart []string `json:"cart,omitempty"`
}

// users is a tiny credential store: unknown users and wrong passwords both
// answer ErrInvalidCredentials.
var testUsers = map[string]string{"alice": "alice-pw", "bob": "bob-pw"}

func authenticate(_ context.Context, u, p string) (string, Profile, error) {
	if want, ok := testUsers[u]; !ok || want != p {
		return "", Profile{}, auth.ErrInvalidCredentials
	}
	return "uid-" + u, Profile{Name: strings.ToUpper(u[:1]) + u[1:]}, nil
}

// env is one sesame deployment under test: a store, a running replica, a
// manager and an httptest server with the auth routes and protected routes.
type env struct {
	*sesametest.Node[Profile] // Do, Try, Login, Refresh
	t                         *testing.T
	store                     revocation.Store
	replica                   *revocation.Replica
	m                         *auth.Manager[Profile]
	srv                       *httptest.Server
	hits                      sesametest.Hits
	mu                        sync.Mutex
	events                    []auth.Event
}

type envOpt func(*auth.Config[Profile])

// newMemoryStore returns the single-node backend.
func newMemoryStore(t *testing.T) revocation.Store {
	t.Helper()
	s, err := revocation.NewMemory(nil)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// testDataKey seals the session data kept with refresh families.
var testDataKey = []byte("0123456789abcdef0123456789abcdef")

var testKeys = sync.OnceValue(func() *keys.Keyset {
	ks, err := keys.Init(time.Now())
	if err != nil {
		panic(err)
	}
	return ks
})

func newEnv(t *testing.T, store revocation.Store, opts ...envOpt) *env {
	t.Helper()
	e := &env{t: t, store: store}
	cfg := auth.Config[Profile]{
		Keys:          testKeys(),
		Store:         store,
		Authenticator: auth.AuthenticatorFunc[Profile](authenticate),
		DataKey:       testDataKey,
		Replica:       revocation.ReplicaOptions{StalenessBound: 2 * time.Second},
		OnEvent: func(_ context.Context, ev auth.Event) {
			e.mu.Lock()
			e.events = append(e.events, ev)
			e.mu.Unlock()
		},
	}
	for _, o := range opts {
		o(&cfg)
	}
	// The Manager runs the replica of store (Config.Denylist is nil).
	m, err := auth.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	if e.replica = m.Parts().Replica; e.replica != nil {
		waitFor(t, 5*time.Second, func() bool { return !e.replica.Status().Stale })
	}
	e.m = m
	hit := func(name string) http.HandlerFunc {
		return e.hits.Handler(name, func(r *http.Request) (string, bool) {
			s, ok := auth.FromContext[Profile](r.Context())
			if !ok {
				return "", false
			}
			return s.Data.Name, true
		})
	}
	e.serve(func(r chi.Router) {
		r.With(m.Require()).Get("/app", hit("app"))
		r.With(m.Optional()).Get("/maybe", hit("maybe"))
		r.With(m.Strict()).Post("/pay", hit("pay"))
		r.With(m.Require()).Post("/cart", func(w http.ResponseWriter, r *http.Request) {
			s, _ := auth.FromContext[Profile](r.Context())
			d := s.Data
			d.Cart = append(slices.Clone(d.Cart), r.URL.Query().Get("item")) // s.Data is shared: copy before changing
			if _, err := m.Update(w, r, d); err != nil {
				http.Error(w, err.Error(), http.StatusServiceUnavailable)
				return
			}
			io.WriteString(w, strings.Join(d.Cart, ","))
		})
	})
	return e
}

// serve serves e.m with routes (see sesametest.Serve) until the test ends.
func (e *env) serve(routes func(chi.Router)) {
	e.Node = sesametest.Serve(e.t, e.m, true, routes)
	e.Passwords = testUsers
	e.srv = e.Node.Srv
}

func (e *env) hitCount(name string) int { return e.hits.Count(name) }

func (e *env) eventKinds() []auth.EventKind {
	e.mu.Lock()
	defer e.mu.Unlock()
	var out []auth.EventKind
	for _, ev := range e.events {
		out = append(out, ev.Kind)
	}
	return out
}

// browser returns a client with a cookie jar, as a browser would be.
func (e *env) browser() *http.Client {
	return sesametest.Browser(e.srv.Client()) // a copy: srv.Client() is shared by every plain request
}

// waitFor polls cond until it holds or the deadline passes. It is for
// propagation through real processes (Redis, a replica); logic under test
// uses injected clocks instead.
func waitFor(t *testing.T, d time.Duration, cond func() bool) {
	t.Helper()
	sesametest.WaitFor(t, 5*time.Millisecond, d, "", cond)
}
