package sesametest

import (
	"context"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/redis/go-redis/v9"

	"github.com/sesame-go/sesame/auth"
	"github.com/sesame-go/sesame/keys"
)

// NewKeyset returns a new keyset whose first key was made an hour ago, for
// nodes that share fixed keys (give each node's KeyStore the same one).
func NewKeyset(t testing.TB) *keys.Keyset {
	t.Helper()
	ks, err := keys.Init(time.Now().Add(-time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	return ks
}

// Node is one sesame node under test: a Manager served by an httptest
// server until the test ends.
type Node[T any] struct {
	M   *auth.Manager[T]
	Srv *httptest.Server
	// Passwords are the test users' passwords, by user name, for LoginAs.
	Passwords map[string]string
	t         testing.TB
}

// Serve serves m until t ends: its auth routes under /auth, and the routes
// that routes adds (nil: GET /app behind m.Require, answering "ok"), over
// TLS when tls. The server's error log is discarded: clients that hang up
// at cleanup are not failures. The cleanup closes the server, then m.
func Serve[T any](t testing.TB, m *auth.Manager[T], tls bool, routes func(r chi.Router)) *Node[T] {
	t.Helper()
	t.Cleanup(func() { m.Close() })
	r := chi.NewRouter()
	r.Mount("/auth", m.Routes())
	if routes == nil {
		r.With(m.Require()).Get("/app", func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, "ok") })
	} else {
		routes(r)
	}
	srv := httptest.NewUnstartedServer(r)
	srv.Config.ErrorLog = log.New(io.Discard, "", 0)
	if tls {
		srv.StartTLS()
	} else {
		srv.Start()
	}
	t.Cleanup(srv.Close)
	return &Node[T]{M: m, Srv: srv, t: t}
}

// NodeOptions are how StartNode and OpenNode start a node.
type NodeOptions struct {
	// Keys is the keyset of the memory keyset store StartNode makes when
	// the Config has no KeyStore (nil: NewKeyset). Nodes given the same
	// keyset verify each other's tokens.
	Keys *keys.Keyset
	// Timeout bounds auth.Start or auth.Open (0: 10 s).
	Timeout time.Duration
	// TLS serves the node over TLS.
	TLS bool
}

// StartNode starts a node as a deployment does, with auth.Start over
// cfg.Store (required) and cfg.KeyStore (nil: a memory store holding
// o.Keys), and serves it (Serve, with the default routes). It fails t
// unless the node's denylist replica is ready.
func StartNode[T any](t testing.TB, authn auth.Authenticator[T], cfg *auth.Config[T], o *NodeOptions) *Node[T] {
	t.Helper()
	if o == nil {
		o = &NodeOptions{}
	}
	c := *cfg
	if c.KeyStore == nil {
		ks := o.Keys
		if ks == nil {
			ks = NewKeyset(t)
		}
		c.KeyStore = keys.NewMemoryStore(ks)
	}
	ctx, cancel := context.WithTimeout(context.Background(), o.timeout())
	defer cancel()
	m, err := auth.Start(ctx, authn, &c)
	if err != nil {
		t.Fatal(err)
	}
	return served(t, m, o)
}

// OpenNode starts a node of a fleet on one Redis with auth.Open (client,
// master key mk, cfg as Open takes them) and serves it (Serve, with the
// default routes). It fails t unless the node's denylist replica is ready.
func OpenNode[T any](t testing.TB, client redis.UniversalClient, mk *keys.MasterKey, authn auth.Authenticator[T], cfg *auth.Config[T], o *NodeOptions) *Node[T] {
	t.Helper()
	if o == nil {
		o = &NodeOptions{}
	}
	ctx, cancel := context.WithTimeout(context.Background(), o.timeout())
	defer cancel()
	m, err := auth.Open(ctx, client, mk, authn, cfg)
	if err != nil {
		t.Fatal(err)
	}
	return served(t, m, o)
}

func (o *NodeOptions) timeout() time.Duration {
	if o.Timeout == 0 {
		return 10 * time.Second
	}
	return o.Timeout
}

func served[T any](t testing.TB, m *auth.Manager[T], o *NodeOptions) *Node[T] {
	t.Helper()
	n := Serve(t, m, o.TLS, nil)
	if !m.Parts().Replica.Status().Ready {
		t.Fatal("the node's replica is not ready")
	}
	return n
}

// URL is the node's URL for path.
func (n *Node[T]) URL(path string) string { return n.Srv.URL + path }

// Try sends a request to the node's path with c (nil: the server's own
// client); see Do.
func (n *Node[T]) Try(c *http.Client, method, path, body string, hdr ...string) (Response, error) {
	if c == nil {
		c = n.Srv.Client()
	}
	return Do(c, method, n.Srv.URL+path, body, hdr...)
}

// Do is Try that fails the node's test when the request gets no answer.
func (n *Node[T]) Do(c *http.Client, method, path, body string, hdr ...string) Response {
	n.t.Helper()
	if c == nil {
		c = n.Srv.Client()
	}
	return Send(n.t, c, method, n.Srv.URL+path, body, hdr...)
}

// Login logs user in with password on the node (see Login).
func (n *Node[T]) Login(user, password string, hdr ...string) Tokens {
	n.t.Helper()
	return Login(n.t, n.Srv.Client(), n.Srv.URL, user, password, hdr...)
}

// LoginAs logs user in with the password Passwords holds for it.
func (n *Node[T]) LoginAs(user string, hdr ...string) Tokens {
	n.t.Helper()
	pw, ok := n.Passwords[user]
	if !ok {
		n.t.Fatalf("sesametest: no password for user %q", user)
	}
	return n.Login(user, pw, hdr...)
}

// Refresh refreshes rt on the node (see Refresh).
func (n *Node[T]) Refresh(rt string, hdr ...string) (Response, Tokens) {
	n.t.Helper()
	return Refresh(n.t, n.Srv.Client(), n.Srv.URL, rt, hdr...)
}
