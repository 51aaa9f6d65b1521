package main

import (
	"os"
	"path/filepath"
	"slices"
	"testing"
)

// TestKeysRestoredFileRefused is the probe's W5 through the CLI: revoke a
// key, restore an older keyset file from backup, rotate twice. Before, both
// rotations succeeded and the revoked key was verify-only again; now each is
// refused, loudly, and the file is left as restored for the operator.
func TestKeysRestoredFileRefused(t *testing.T) {
	t.Parallel()
	c := newCLI(t)
	path := filepath.Join(c.dir, "keyset.json")
	ks := "file:" + path
	fast := []string{"--publish-delay=-1s", "--keyset", ks}
	c.ok("keys", "init", "--keyset", ks)
	c.ok(append([]string{"keys", "rotate"}, fast...)...)
	k := c.list(ks).byState("verify-only")[0]
	backup := fileBytes(t, path)
	c.ok("keys", "revoke", k, "--keyset", ks)
	if !slices.Contains(c.list(ks).byState("revoked"), k) {
		t.Fatalf("%s not revoked", k)
	}

	if err := os.WriteFile(path, backup, 0o600); err != nil {
		t.Fatal(err)
	}
	for range 2 {
		r := c.run(append([]string{"keys", "rotate"}, fast...)...)
		if r.code == 0 {
			l := c.list(ks)
			t.Fatalf("rotate on the restored keyset succeeded (version %d); %s is verify-only again: %v", l.Version, k, slices.Contains(l.byState("verify-only"), k))
		}
		c.fails("keyset rollback refused", append([]string{"keys", "rotate"}, fast...)...)
	}
	c.fails("was restored from an older copy", "keys", "list", "--keyset", ks)
	if string(fileBytes(t, path)) != string(backup) {
		t.Fatal("the restored file was changed")
	}
}
