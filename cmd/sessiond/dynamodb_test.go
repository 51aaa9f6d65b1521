package main

import (
	"context"
	"encoding/base64"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

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

func TestDynamoStartErrors(t *testing.T) {
	t.Parallel()
	srv := dynalitetest.Start(t)
	endpoint := "&endpoint=" + srv.Endpoint()
	for _, tc := range []struct {
		name string
		env  []string
		want string
	}{
		{"no table", []string{"SESAME_STORE=dynamodb://absent?region=us-east-1" + endpoint}, "sessionctl store init --store dynamodb://absent"},
		{"store and redis", []string{"SESAME_STORE=dynamodb://t1?region=us-east-1" + endpoint, "SESAME_REDIS_URL=redis://127.0.0.1:1"}, "give one"},
		{"not dynamodb", []string{"SESAME_STORE=redis://127.0.0.1:1"}, "want dynamodb://TABLE"},
		{"credentials in the URL", []string{"SESAME_STORE=dynamodb://k:s3cr3t@t1?region=us-east-1"}, "credentials never go in the URL"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			cmd := exec.Command("sessiond", "--addr", "127.0.0.1:0")
			cmd.Dir = dir
			cmd.Env = append([]string{"PATH=" + os.Getenv("PATH"), "HOME=" + dir,
				"AWS_ACCESS_KEY_ID=test", "AWS_SECRET_ACCESS_KEY=test"}, tc.env...)
			out, err := cmd.CombinedOutput()
			if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() == 0 {
				t.Fatalf("got %v, want a non-zero exit\n%s", err, out)
			}
			if !strings.Contains(string(out), tc.want) {
				t.Errorf("output %s: want %q", out, tc.want)
			}
			if strings.Contains(string(out), "s3cr3t") {
				t.Error("a secret was printed")
			}
		})
	}
}
