package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sesame-go/sesame/clients"
)

func TestClientsAddListRemove(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "clients.json")

	r := runUsers(t, dir, "", "clients", "add", "kong", "--clients", path)
	if r.code != 0 || !strings.Contains(r.stderr, `added client "kong"`) {
		t.Fatalf("add: %+v", r)
	}
	secret := strings.TrimSpace(r.stdout)
	if len(secret) != 43 || strings.ContainsAny(secret, " \n") {
		t.Fatalf("stdout %q: want the secret alone on one line", r.stdout)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("clients file mode %v, want 0600", fi.Mode().Perm())
	}
	raw, _ := os.ReadFile(path)
	if strings.Contains(string(raw), secret) {
		t.Fatal("the secret is in the clients file")
	}
	s, err := clients.Open(path, &clients.Options{PollInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	if !s.AuthenticateClient("kong", secret) {
		t.Fatal("the printed secret does not authenticate the client")
	}

	if r := runUsers(t, dir, "", "clients", "add", "kong", "--clients", path); r.code == 0 || !strings.Contains(r.stderr, "already exists") {
		t.Errorf("second add of kong: %+v", r)
	}
	if r := runUsers(t, dir, "", "clients", "add", "Bad:Name", "--clients", path); r.code == 0 {
		t.Errorf("bad name: %+v", r)
	}
	runUsers(t, dir, "", "clients", "add", "tyk", "--clients", path)
	r = runUsers(t, dir, "", "clients", "list", "--clients", path)
	if r.code != 0 || !strings.Contains(r.stdout, "kong") || !strings.Contains(r.stdout, "tyk") || strings.Contains(r.stdout, "sha256") {
		t.Errorf("list: %+v", r)
	}
	r = runUsers(t, dir, "", "clients", "list", "--json", "--clients", path)
	if r.code != 0 || !strings.Contains(r.stdout, `"name": "kong"`) || strings.Contains(r.stdout, "hash") {
		t.Errorf("list --json: %+v", r)
	}
	if r := runUsers(t, dir, "", "clients", "remove", "kong", "--clients", path); r.code != 0 {
		t.Fatalf("remove: %+v", r)
	}
	if err := s.Reload(); err != nil {
		t.Fatal(err)
	}
	if s.AuthenticateClient("kong", secret) {
		t.Error("a removed client still authenticates")
	}
	if r := runUsers(t, dir, "", "clients", "remove", "kong", "--clients", path); r.code == 0 {
		t.Errorf("second remove: %+v", r)
	}
	if r := runUsers(t, dir, "", "clients", "list"); r.code == 0 || !strings.Contains(r.stderr, "no clients file") {
		t.Errorf("no file given: %+v", r)
	}
}
