package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/sesame-go/sesame/auth"
	"github.com/sesame-go/sesame/internal/dynalitetest"
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
	t   testing.TB
	srv *httptest.Server
}

func startNode(t testing.TB, srv *redistest.Server) *node {
	t.Helper()
	// Every node of a test shares the Redis and this master key, hence
	// the keyset (auth.Open creates it once, by compare-and-swap).
	mk, err := keys.NewMasterKey(make([]byte, keys.MasterKeySize))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	m, err := auth.Open[string](ctx, srv.Client(), mk, nodeUsers, nodeConfig())
	if err != nil {
		t.Fatal(err)
	}
	return serveNode(t, m)
}

// startDynamoNode starts a node whose revocation state is table on a
// dynalite server (its keyset stays in memory).
func startDynamoNode(t testing.TB, srv *dynalitetest.Server, table string) *node {
	t.Helper()
	store, err := revocation.NewDynamo(srv.Client(), &revocation.DynamoOptions{Table: table,
		EntryTTL: nodeConfig().EntryTTL(), PollInterval: 20 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	cfg := nodeConfig()
	cfg.Store, cfg.KeyStore, cfg.DataKey = store, keys.NewMemoryStore(nil), make([]byte, 32)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	m, err := auth.Start[string](ctx, nodeUsers, cfg)
	if err != nil {
		t.Fatal(err)
	}
	return serveNode(t, m)
}

// nodeUsers let anyone in whose password is their name plus "-pw".
var nodeUsers = auth.AuthenticatorFunc[string](func(_ context.Context, u, p string) (string, string, error) {
	if p != u+"-pw" {
		return "", "", auth.ErrInvalidCredentials
	}
	return u, u, nil
})

func nodeConfig() *auth.Config[string] {
	return &auth.Config[string]{
		Insecure: true,
		Replica:  revocation.ReplicaOptions{StalenessBound: staleBound},
		Logger:   slog.New(slog.DiscardHandler),
	}
}

// serveNode serves m's auth routes and a protected /app until the test ends.
func serveNode(t testing.TB, m *auth.Manager[string]) *node {
	t.Cleanup(func() { m.Close() })
	r := chi.NewRouter()
	r.Mount("/auth", m.Routes())
	r.With(m.Require()).Get("/app", func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") })
	n := &node{t: t, srv: httptest.NewServer(r)}
	t.Cleanup(n.srv.Close)
	if !m.Parts().Replica.Status().Ready {
		t.Fatal("the node's replica is not ready")
	}
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
