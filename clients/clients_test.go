package clients_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sesame-go/sesame/clients"
)

func TestFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "clients.json")
	kong, secret, err := clients.Generate("kong", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if len(secret) != 43 {
		t.Errorf("secret of %d characters, want 43 (256 bits, base64url)", len(secret))
	}
	if err := clients.Edit(path, func(f *clients.File) error { return f.Add(kong) }); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("file mode %v, want 0600", fi.Mode().Perm())
	}
	raw, _ := os.ReadFile(path)
	if strings.Contains(string(raw), secret) {
		t.Fatal("the clients file holds the secret in clear")
	}
	if err := clients.Edit(path, func(f *clients.File) error { return f.Add(kong) }); err == nil {
		t.Error("a second client of the same name was added")
	}

	s, err := clients.Open(path, &clients.Options{PollInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	wrong := secret[:42] + "A" // one character changed
	if secret[42] == 'A' {
		wrong = secret[:42] + "B"
	}
	for _, tc := range []struct {
		name, id, secret string
		want             bool
	}{
		{"right secret", "kong", secret, true},
		{"wrong secret", "kong", wrong, false},
		{"empty secret", "kong", "", false},
		{"unknown client", "tyk", secret, false},
		{"the stored hash as the secret", "kong", kong.Hash, false},
		{"the stored digest as the secret", "kong", strings.TrimPrefix(kong.Hash, "sha256:"), false},
	} {
		if got := s.AuthenticateClient(tc.id, tc.secret); got != tc.want {
			t.Errorf("%s: got %v, want %v", tc.name, got, tc.want)
		}
	}

	// A removal is picked up by Reload; a broken file keeps the last good set.
	if err := clients.Edit(path, func(f *clients.File) error {
		if !f.Remove("kong") {
			t.Error("Remove found no kong")
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if err := s.Reload(); err != nil {
		t.Fatal(err)
	}
	if s.AuthenticateClient("kong", secret) {
		t.Error("a removed client still authenticates")
	}
	apisix, secret2, _ := clients.Generate("apisix", time.Now())
	clients.Edit(path, func(f *clients.File) error { return f.Add(apisix) })
	s.Reload()
	os.WriteFile(path, []byte("{not json"), 0o600)
	if err := s.Reload(); err == nil {
		t.Error("a broken file reloaded without error")
	}
	if !s.AuthenticateClient("apisix", secret2) {
		t.Error("a broken file dropped the clients in use")
	}
}

func TestNames(t *testing.T) {
	for _, n := range []string{"", "Kong", "kong:1", "-kong", strings.Repeat("a", 65), "kong gw"} {
		if _, _, err := clients.Generate(n, time.Now()); err == nil {
			t.Errorf("name %q accepted", n)
		}
	}
	for _, n := range []string{"kong", "api-gw.prod_1", "7"} {
		if _, _, err := clients.Generate(n, time.Now()); err != nil {
			t.Errorf("name %q refused: %v", n, err)
		}
	}
}
