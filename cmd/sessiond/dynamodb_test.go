package main

import (
	"context"
	"encoding/base64"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/rogpeppe/go-internal/testscript"

	"github.com/sesame-go/sesame/internal/dynalitetest"
	"github.com/sesame-go/sesame/revocation"
)

// TestDynamoFleet runs two sessiond nodes on one DynamoDB table (dynalite):
// a session made on A refreshes on B, and a logout on A is refused on B
// within the staleness bound.
func TestDynamoFleet(t *testing.T) {
	t.Parallel()
	srv := dynalitetest.Start(t)
	if _, err := revocation.CreateDynamoTable(context.Background(), srv.Client(), "sessions"); err != nil {
		t.Fatal(err)
	}
	shared := t.TempDir()
	usersFile := filepath.Join(shared, "users.json")
	addUser(t, usersFile, "alice", "alice-pw")
	mkFile := filepath.Join(shared, "master.key")
	os.WriteFile(mkFile, []byte(base64.StdEncoding.EncodeToString(make([]byte, 32))+"\n"), 0o600)
	const bound = 5 * time.Second
	env := []string{
		"SESAME_STORE=dynamodb://sessions?region=" + dynalitetest.Region + "&endpoint=" + srv.Endpoint() + "&poll=20ms",
		"AWS_ACCESS_KEY_ID=test", "AWS_SECRET_ACCESS_KEY=test",
		"SESAME_KEYSET=file:" + filepath.Join(shared, "keys.json"), "SESAME_MASTER_KEY_FILE=" + mkFile,
		"SESAME_USERS=" + usersFile, "SESAME_STALENESS_BOUND=" + bound.String(),
	}
	// A creates the keyset file; B, started after, reads it.
	a := startSessiond(t, "A", t.TempDir(), env)
	b := startSessiond(t, "B", t.TempDir(), env)
	for _, p := range []*proc{a, b} {
		r := p.do("GET", "/readyz?verbose", "") // the details: from loopback only
		st, _ := r.json(t)["store"].(map[string]any)
		if r.status != 200 || st["backend"] != "dynamodb" || st["ok"] != true {
			t.Fatalf("%s readyz: %d %s", p.name, r.status, r.body)
		}
		if l := p.logLine("listening"); l["revocation"] != "dynamodb" {
			t.Errorf("%s logged revocation %v, want dynamodb", p.name, l["revocation"])
		}
	}

	tk := login(t, a, "alice", "alice-pw")
	if r := whoami(t, b, tk.access); r.status != 200 {
		t.Fatalf("token from A on B: %d %s", r.status, r.body)
	}
	r := refresh(t, b, tk.refresh)
	if r.status != 200 {
		t.Fatalf("refresh on B: %d %s", r.status, r.body)
	}
	access := r.json(t)["access_token"].(string)
	if r := refresh(t, a, tk.refresh); r.status != 200 || r.json(t)["access_token"] == nil {
		t.Fatalf("replay of the previous refresh token on A (lost answer): %d %s", r.status, r.body)
	}
	if r := a.do("POST", "/auth/logout", "", "Authorization", "Bearer "+access); r.status != 204 {
		t.Fatalf("logout on A: %d %s", r.status, r.body)
	}
	start := time.Now()
	waitFor(t, bound, "B to refuse the token ended on A", func() bool { return whoami(t, b, access).status == 401 })
	t.Logf("logout on A refused on B after %v", time.Since(start).Round(time.Millisecond))
	if r := whoami(t, b, access); r.json(t)["error"] != "revoked" {
		t.Errorf("on B after logout on A: %s, want error revoked", r.body)
	}
	if r := whoami(t, b, tk.access); r.status != 401 {
		t.Errorf("the first token of the session on B: %d, want 401", r.status)
	}
	if r := refresh(t, b, tk.refresh); r.status != 401 {
		t.Errorf("refresh on B after logout on A: %d %s, want 401", r.status, r.body)
	}

	// DynamoDB gone: readiness says so, in one word in public and in
	// detail to loopback.
	srv.Kill()
	waitFor(t, 10*time.Second, "readyz 503", func() bool {
		r := b.do("GET", "/readyz", "")
		return r.status == 503 && r.json(t)["reason"] == "store"
	})
	if st, _ := b.do("GET", "/readyz?verbose", "").json(t)["store"].(map[string]any); st["ok"] != false || st["error"] == nil {
		t.Errorf("verbose readyz with DynamoDB gone: store %v", st)
	}
	for _, p := range []*proc{a, b} {
		if code := p.stop(syscall.SIGTERM); code != 0 {
			t.Errorf("%s: SIGTERM exit code %d, want 0", p.name, code)
		}
	}
}

// TestDynamoStartErrors runs testdata/dynamo/*.txtar, sessiond's refusals
// of a DynamoDB store it cannot use, against one dynalite.
func TestDynamoStartErrors(t *testing.T) {
	t.Parallel()
	srv := dynalitetest.Start(t)
	testscript.Run(t, testscript.Params{
		Dir:                 filepath.Join("testdata", "dynamo"),
		RequireExplicitExec: true,
		RequireUniqueNames:  true,
		Setup: func(env *testscript.Env) error {
			env.Setenv("HOME", env.WorkDir)
			env.Setenv("DYNAMO_ENDPOINT", srv.Endpoint())
			env.Setenv("DYNAMO_REGION", dynalitetest.Region)
			env.Setenv("AWS_ACCESS_KEY_ID", "test")
			env.Setenv("AWS_SECRET_ACCESS_KEY", "test")
			return nil
		},
	})
}
