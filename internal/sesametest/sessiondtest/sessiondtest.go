// Package sessiondtest is what the tests that run the real sessiond (and
// sessionctl) as processes share: the binaries, built from this module, and
// a users file. It is apart from sesametest because it needs the users
// package, whose own tests use sesametest.
package sessiondtest

import (
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/sesame-go/sesame/users"
)

// Build builds the module's commands named (cmd/NAME: "sessiond",
// "sessionctl") into dir and returns the path of the first.
func Build(t testing.TB, dir string, names ...string) string {
	t.Helper()
	var first string
	for _, n := range names {
		bin := filepath.Join(dir, n)
		if out, err := exec.Command("go", "build", "-o", bin, "github.com/sesame-go/sesame/cmd/"+n).CombinedOutput(); err != nil {
			t.Fatalf("go build %s: %v\n%s", n, err, out)
		}
		if first == "" {
			first = bin
		}
	}
	return first
}

// UsersFile writes dir/users.json with one user, alice (password
// alice-pw, hashed with the cheapest Argon2 parameters: a test's), and
// returns its path.
func UsersFile(t testing.TB, dir string) string {
	t.Helper()
	path := filepath.Join(dir, "users.json")
	u, err := users.NewUser("alice", "alice-pw", users.Params{Time: 1, MemoryKiB: 1024, Threads: 1}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if err := users.Edit(path, func(f *users.File) error { return f.Put(u, false) }); err != nil {
		t.Fatal(err)
	}
	return path
}
