package main

import (
	"context"
	"encoding/json"
	"log/slog"
	"testing"
	"time"

	"github.com/sesame-go/sesame/auth"
	"github.com/sesame-go/sesame/internal/dynalitetest"
	"github.com/sesame-go/sesame/internal/redistest"
	"github.com/sesame-go/sesame/internal/sesametest"
	"github.com/sesame-go/sesame/keys"
	"github.com/sesame-go/sesame/revocation"
)

// staleBound is the replica's staleness bound in these tests, sessiond's
// default: a revocation must be seen within it.
const staleBound = 5 * time.Second

// node is an in-process sesame node on a test Redis: a manager, its denylist
// replica, and an HTTP server with the auth routes and a protected /app.
type node struct {
	t testing.TB
	*sesametest.Node[string]
}

func startNode(t testing.TB, srv *redistest.Server) *node {
	t.Helper()
	// Every node of a test shares the Redis and this master key, hence
	// the keyset (auth.Open creates it once, by compare-and-swap).
	mk, err := keys.NewMasterKey(make([]byte, keys.MasterKeySize))
	if err != nil {
		t.Fatal(err)
	}
	return &node{t, sesametest.OpenNode[string](t, srv.Client(), mk, nodeUsers, nodeConfig(), nil)}
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
	return &node{t, sesametest.StartNode[string](t, nodeUsers, cfg, nil)}
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

type session struct{ access, refresh, sid string }

// request sends a request in the header transport.
func (n *node) request(method, path, body string, hdr ...string) (int, string) {
	n.t.Helper()
	r := n.Do(nil, method, path, body, append(sesametest.HeaderTransport(), hdr...)...)
	return r.Status, r.Body
}

func (n *node) login(user, userAgent string) session {
	n.t.Helper()
	tk := n.Login(user, user+"-pw", "User-Agent", userAgent)
	code, body := n.request("GET", "/auth/session", "", sesametest.Bearer(tk.AccessToken)...)
	var s struct {
		SID string `json:"sid"`
	}
	if json.Unmarshal([]byte(body), &s); code != 200 || s.SID == "" {
		n.t.Fatalf("session: %d %s", code, body)
	}
	return session{tk.AccessToken, tk.RefreshToken, s.SID}
}

// accepted tells whether the node accepts the session's access token.
func (n *node) accepted(s session) bool {
	n.t.Helper()
	code, body := n.request("GET", "/app", "", sesametest.Bearer(s.access)...)
	if code != 200 && code != 401 {
		n.t.Fatalf("/app: %d %s", code, body)
	}
	return code == 200
}

func (n *node) refreshes(s session) bool {
	n.t.Helper()
	code, _ := n.request("POST", "/auth/refresh", sesametest.RefreshBody(s.refresh))
	return code == 200
}
