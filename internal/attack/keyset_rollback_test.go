package attack

import (
	"context"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/sesame-go/sesame/auth"
	"github.com/sesame-go/sesame/internal/sesametest"
	"github.com/sesame-go/sesame/keys"
	"github.com/sesame-go/sesame/users"
)

// TestKeysetRollback is the probe's W5 from outside: a key is revoked, an
// older keyset file is restored from a backup, and rotations are run on it
// (as `sessionctl keys rotate` twice, or a node's rotator). Before, the
// revoked key came back verify-only and the tokens it signed were accepted
// again. Now the restored file is refused by the store (so no rotation is
// written) and by the running node, which keeps refusing those tokens.
func TestKeysetRollback(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "keyset.json")
	mk, err := keys.NewMasterKey(make([]byte, keys.MasterKeySize))
	if err != nil {
		t.Fatal(err)
	}
	store := keys.NewFileStore(path, mk)
	u, err := users.NewUser("alice", "alice-pw", users.Params{Time: 1, MemoryKiB: 1024, Threads: 1}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	people, err := users.Static([]users.User{u}, nil)
	if err != nil {
		t.Fatal(err)
	}
	m, err := auth.NewLocal(people, &auth.Config[users.Profile]{KeyStore: store})
	if err != nil {
		t.Fatal(err)
	}
	n := sesametest.Serve(t, m, true, nil) // a protected GET /app; closes m at the end
	holder := m.Parts().Keys

	status := func(access string) int {
		return n.Do(nil, "GET", "/app", "", sesametest.Bearer(access)...).Status
	}
	tk := n.Login("alice", "alice-pw")
	k, err := holder.Current().Signer()
	if err != nil {
		t.Fatal(err)
	}
	noDelay := keys.RotationPolicy{PublishDelay: -1}
	update := func(change func(*keys.Keyset) (*keys.Keyset, error)) (*keys.Keyset, error) {
		return keys.Update(ctx, store, change)
	}
	// The key that signed the token stops signing, then is revoked: the
	// token is refused.
	if _, err := update(func(cur *keys.Keyset) (*keys.Keyset, error) { return cur.Rotate(noDelay, time.Now()) }); err != nil {
		t.Fatal(err)
	}
	backup, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	revoked, err := update(func(cur *keys.Keyset) (*keys.Keyset, error) { return cur.Revoke(k.ID(), time.Now()) })
	if err != nil {
		t.Fatal(err)
	}
	if err := holder.Reload(ctx); err != nil || holder.Current().Version() != revoked.Version() {
		t.Fatalf("reload of the revocation: %v", err)
	}
	if s := status(tk.AccessToken); s != http.StatusUnauthorized {
		t.Fatalf("token of the revoked key: %d, want 401", s)
	}

	// The attack: the older file comes back, and rotations run on it.
	if err := os.WriteFile(path, backup, 0o600); err != nil {
		t.Fatal(err)
	}
	for i := range 2 {
		if _, err := update(func(cur *keys.Keyset) (*keys.Keyset, error) { return cur.Rotate(noDelay, time.Now()) }); !errors.Is(err, keys.ErrRollback) {
			t.Fatalf("rotation %d on the restored keyset: %v, want keys.ErrRollback", i+1, err)
		}
	}
	if err := holder.Reload(ctx); !errors.Is(err, keys.ErrRollback) {
		t.Fatalf("the node's reload of the restored keyset: %v, want keys.ErrRollback", err)
	}
	if holder.Current().Version() != revoked.Version() {
		t.Fatalf("the node moved to keyset version %d, want to stay on %d", holder.Current().Version(), revoked.Version())
	}
	if s := status(tk.AccessToken); s != http.StatusUnauthorized {
		t.Fatalf("token of the revoked key after the restore: %d, want 401", s)
	}
}
