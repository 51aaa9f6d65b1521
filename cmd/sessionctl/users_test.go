package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sesame-go/sesame/auth"
	"github.com/sesame-go/sesame/users"
)

// runUsers runs the sessionctl binary with stdin and a clean environment.
func runUsers(t *testing.T, dir, stdin string, args ...string) result {
	t.Helper()
	cmd := exec.Command(binary, args...)
	cmd.Dir = dir
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + dir}
	cmd.Stdin = strings.NewReader(stdin)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return result{out.String(), errb.String(), code}
}

func TestUsersAddListRemove(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "users.json")

	r := runUsers(t, dir, "s3cret pass\n", "users", "add", "Alice", "--users", path)
	if r.code != 0 || r.stderr != "" || !strings.Contains(r.stdout, `added user "alice"`) {
		t.Fatalf("add: %+v", r)
	}
	// No trailing newline is fine too (printf '%s' "$PW" | ...), and CRLF is trimmed.
	if r := runUsers(t, dir, "bob-pw\r\n", "users", "add", "bob", "--users", path); r.code != 0 {
		t.Fatalf("add bob: %+v", r)
	}
	if r := runUsers(t, dir, "carol-pw", "users", "add", "carol", "--users", path); r.code != 0 {
		t.Fatalf("add carol: %+v", r)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("users file mode %v, want 0600", fi.Mode().Perm())
	}

	// The stored hashes check the passwords exactly as typed (one line).
	a, err := users.Open(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		user, pw string
		ok       bool
	}{
		{"alice", "s3cret pass", true},
		{"bob", "bob-pw", true},
		{"bob", "bob-pw\r", false},
		{"carol", "carol-pw", true},
		{"alice", "s3cret pass\n", false},
	} {
		_, _, err := a.Authenticate(context.Background(), c.user, c.pw)
		if (err == nil) != c.ok || err != nil && err != auth.ErrInvalidCredentials {
			t.Errorf("login %s/%q: got %v, want ok=%v", c.user, c.pw, err, c.ok)
		}
	}

	r = runUsers(t, dir, "", "users", "list", "--users", path)
	lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
	if r.code != 0 || len(lines) != 4 || !strings.HasPrefix(lines[0], "NAME") || !strings.HasPrefix(lines[1], "alice ") {
		t.Errorf("list: %+v", r)
	}
	if strings.Contains(r.stdout, "argon2") {
		t.Error("list prints hashes")
	}

	// The users file can come from the environment too.
	cmd := exec.Command(binary, "users", "list", "--json")
	cmd.Env = []string{"SESAME_USERS=" + path}
	out, err := cmd.Output()
	if err != nil {
		t.Fatal(err)
	}
	var got []map[string]any
	if err := json.Unmarshal(out, &got); err != nil {
		t.Fatalf("list --json: %v\n%s", err, out)
	}
	if len(got) != 3 || got[0]["name"] != "alice" || got[0]["hash"] != nil || got[0]["created"] == nil {
		t.Errorf("list --json: got %v", got)
	}

	if r := runUsers(t, dir, "", "users", "remove", "BOB", "--users", path); r.code != 0 || !strings.Contains(r.stdout, `removed user "bob"`) {
		t.Errorf("remove: %+v", r)
	}
	f, err := users.Read(path)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := f.Lookup("bob"); ok || len(f.Users) != 2 {
		t.Errorf("after remove: %+v", f.Users)
	}
}

func TestUsersReplace(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "users.json")
	runUsers(t, dir, "old\n", "users", "add", "alice", "--users", path)
	r := runUsers(t, dir, "new\n", "users", "add", "alice", "--users", path)
	if r.code == 0 || !strings.Contains(r.stderr, "already exists") {
		t.Errorf("second add without --replace: %+v", r)
	}
	if r := runUsers(t, dir, "new\n", "users", "add", "alice", "--replace", "--users", path); r.code != 0 {
		t.Fatalf("add --replace: %+v", r)
	}
	f, _ := users.Read(path)
	u, _ := f.Lookup("alice")
	if ok, _ := users.Verify(u.Hash, "new"); !ok {
		t.Error("--replace did not set the new password")
	}
}

func TestUsersErrors(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "users.json")
	runUsers(t, dir, "pw\n", "users", "add", "alice", "--users", path)
	for _, tc := range []struct {
		name, stdin string
		args        []string
		want        string
	}{
		{"no users file", "pw\n", []string{"users", "add", "bob"}, "no users file"},
		{"empty password", "\n", []string{"users", "add", "bob", "--users", path}, "empty password"},
		{"no stdin", "", []string{"users", "add", "bob", "--users", path}, "empty password"},
		{"too long", strings.Repeat("x", 2000) + "\n", []string{"users", "add", "bob", "--users", path}, "longer than 1024"},
		{"bad name", "pw\n", []string{"users", "add", "bad name", "--users", path}, "only letters"},
		{"missing name", "", []string{"users", "add", "--users", path}, "accepts 1 arg"},
		{"remove unknown", "", []string{"users", "remove", "bob", "--users", path}, `no user "bob"`},
		{"remove from missing file", "", []string{"users", "remove", "bob", "--users", filepath.Join(dir, "nope.json")}, "no such file"},
		{"list missing file", "", []string{"users", "list", "--users", filepath.Join(dir, "nope.json")}, "no such file"},
		{"list broken file", "", []string{"users", "list", "--users", filepath.Join(dir, "broken.json")}, "not a users file"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			os.WriteFile(filepath.Join(dir, "broken.json"), []byte("{"), 0o600)
			r := runUsers(t, dir, tc.stdin, tc.args...)
			if r.code == 0 {
				t.Fatalf("exit 0, want failure: %+v", r)
			}
			if !strings.Contains(r.stderr, tc.want) || strings.Count(r.stderr, "\n") != 1 {
				t.Errorf("stderr %q: want one line containing %q", r.stderr, tc.want)
			}
		})
	}
	f, _ := users.Read(path)
	if len(f.Users) != 1 {
		t.Errorf("failed commands changed the file: %+v", f.Users)
	}
}
