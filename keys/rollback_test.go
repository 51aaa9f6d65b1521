package keys

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/sesame-go/sesame/internal/redistest"
)

// TestRevocationSurvivesRollback is the probe's W5: revoke a key, restore an
// older keyset file, rotate twice. Before, the second rotation produced a
// keyset newer than any node held, in which the revoked key verified again.
// Now the file store refuses the restored file (its watermark remembers the
// version and the revocation), and a running node refuses any keyset that
// makes the key usable again, even one written with the watermark deleted.
func TestRevocationSurvivesRollback(t *testing.T) {
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "keyset.json")
	st := NewFileStore(path, testMasterKey(t, 1))
	if err := st.CompareAndSwap(ctx, 0, mustInit(t)); err != nil {
		t.Fatal(err)
	}
	rotated := rotateIn(t, st)
	k := rotated.Keys()[0] // verify-only after the rotation
	if k.State() != VerifyOnly {
		t.Fatalf("key 0 is %s", k.State())
	}
	backup, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	revoked, err := Update(ctx, st, func(cur *Keyset) (*Keyset, error) { return cur.Revoke(k.ID(), t0) })
	if err != nil {
		t.Fatal(err)
	}
	h, err := NewHolder(ctx, st, nil)
	if err != nil {
		t.Fatal(err)
	}

	// The restore.
	if err := os.WriteFile(path, backup, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := st.Load(ctx); !errors.Is(err, ErrRollback) {
		t.Fatalf("load of the restored file: got %v, want ErrRollback", err)
	}
	for range 2 {
		if _, err := Update(ctx, st, func(cur *Keyset) (*Keyset, error) { return cur.Rotate(noDelay, t0) }); !errors.Is(err, ErrRollback) {
			t.Fatalf("rotate on the restored file: got %v, want ErrRollback", err)
		}
	}
	if got, _ := os.ReadFile(path); string(got) != string(backup) {
		t.Fatal("a refused rotation wrote the keyset file")
	}
	if err := h.Reload(ctx); !errors.Is(err, ErrRollback) || !errors.Is(h.Status().LastError, ErrRollback) {
		t.Fatalf("holder reload: got %v, want ErrRollback", err)
	}

	// A writer without the watermark (deleted, or another host's copy)
	// rotates twice: the store lets it, the running node does not.
	if err := os.Remove(path + ".watermark"); err != nil {
		t.Fatal(err)
	}
	rotateIn(t, st)
	ahead := rotateIn(t, st)
	if ahead.Version() <= revoked.Version() {
		t.Fatalf("version %d is not ahead of %d", ahead.Version(), revoked.Version())
	}
	if _, err := ahead.Verifier(k.ID()); err != nil {
		t.Fatalf("setup: the revoked key should verify in the rolled-back keyset: %v", err)
	}
	if err := h.Reload(ctx); !errors.Is(err, ErrRollback) {
		t.Fatalf("holder reload of a newer keyset reviving %q: got %v, want ErrRollback", k.ID(), err)
	}
	if _, err := h.Current().Verifier(k.ID()); !errors.Is(err, ErrKeyRevoked) {
		t.Fatalf("holder's key %q: got %v, want ErrKeyRevoked", k.ID(), err)
	}
}

// TestTombstonesOutlivePrune checks that a revoked key's id stays in the
// keyset after the key is pruned, through storage, so a node that starts
// after the prune still knows it and refuses a keyset bringing it back.
func TestTombstonesOutlivePrune(t *testing.T) {
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "keyset.json")
	st := NewFileStore(path, testMasterKey(t, 1))
	if err := st.CompareAndSwap(ctx, 0, mustInit(t)); err != nil {
		t.Fatal(err)
	}
	rotated := rotateIn(t, st)
	k := rotated.Keys()[0]
	backup, _ := os.ReadFile(path)
	if _, err := Update(ctx, st, func(cur *Keyset) (*Keyset, error) { return cur.Revoke(k.ID(), t0) }); err != nil {
		t.Fatal(err)
	}
	pruned, err := Update(ctx, st, func(cur *Keyset) (*Keyset, error) { return cur.Prune(noDelay, t0.Add(48*time.Hour)) })
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := pruned.Key(k.ID()); ok {
		t.Fatal("the revoked key was not pruned")
	}
	if !slices.Contains(pruned.Revoked(), k.ID()) {
		t.Fatalf("tombstones %v lack %q", pruned.Revoked(), k.ID())
	}
	if _, err := pruned.Verifier(k.ID()); !errors.Is(err, ErrKeyRevoked) {
		t.Fatalf("verifier of a pruned revoked key: got %v, want ErrKeyRevoked", err)
	}
	// Stored as v2 and read back with the tombstone.
	if raw, _ := os.ReadFile(path); !strings.Contains(string(raw), `"format":"sesame-keyset/v2"`) {
		t.Fatalf("stored format: %.40s", raw)
	}
	loaded, err := NewFileStore(path, testMasterKey(t, 1)).Load(ctx)
	if err != nil || !slices.Equal(loaded.Revoked(), pruned.Revoked()) {
		t.Fatalf("reloaded tombstones %v, %v; want %v", loaded.Revoked(), err, pruned.Revoked())
	}

	// A node that starts now (no memory of its own) and a rolled-back
	// keyset rotated ahead of it.
	h, err := NewHolder(ctx, st, nil)
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(path, backup, 0o600)
	os.Remove(path + ".watermark")
	for range 4 {
		rotateIn(t, st)
	}
	if err := h.Reload(ctx); !errors.Is(err, ErrRollback) {
		t.Fatalf("holder started after the prune: got %v, want ErrRollback", err)
	}
}

func TestKeysetRefusesRevivedTombstone(t *testing.T) {
	ks := mustInit(t)
	a, _ := ks.Signer()
	if _, err := newKeyset(ks.Version(), []string{a.ID()}, ks.Keys()...); !errors.Is(err, ErrInvalidKeyset) {
		t.Fatalf("active key listed as revoked: got %v, want ErrInvalidKeyset", err)
	}
}

func TestHolderRefusesForkAtSameVersion(t *testing.T) {
	ctx := t.Context()
	v1 := mustInit(t)
	a, _ := v1.Revoke(v1.pending().ID(), t0)
	b, _ := v1.Rotate(noDelay, t0)
	h, err := NewHolder(ctx, NewMemoryStore(a), nil)
	if err != nil {
		t.Fatal(err)
	}
	h.store = NewMemoryStore(b) // same version, other content
	if err := h.Reload(ctx); !errors.Is(err, ErrRollback) || h.Current() != a {
		t.Fatalf("fork at version %d: got %v, want ErrRollback", a.Version(), err)
	}
}

// TestRedisStoreRefusesRestoredFields writes an older keyset's version and
// blob fields back into the Redis hash, as a restore of "the keyset" from a
// backup would: the watermark in the same hash refuses it.
func TestRedisStoreRefusesRestoredFields(t *testing.T) {
	ctx := t.Context()
	srv := redistest.Start(t, nil)
	client := srv.Client()
	st := NewRedisStore(client, testMasterKey(t, 1), nil)
	if err := st.CompareAndSwap(ctx, 0, mustInit(t)); err != nil {
		t.Fatal(err)
	}
	k := rotateIn(t, st).Keys()[0]
	backup, err := client.HMGet(ctx, "sesame:keyset", "version", "blob").Result()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Update(ctx, st, func(cur *Keyset) (*Keyset, error) { return cur.Revoke(k.ID(), t0) }); err != nil {
		t.Fatal(err)
	}
	if err := client.HSet(ctx, "sesame:keyset", "version", backup[0], "blob", backup[1]).Err(); err != nil {
		t.Fatal(err)
	}
	if _, err := st.Load(ctx); !errors.Is(err, ErrRollback) {
		t.Fatalf("load of restored fields: got %v, want ErrRollback", err)
	}
	if _, err := Update(ctx, st, func(cur *Keyset) (*Keyset, error) { return cur.Rotate(noDelay, t0) }); !errors.Is(err, ErrRollback) {
		t.Fatalf("rotate on restored fields: got %v, want ErrRollback", err)
	}
	// Without the watermark (a RESTORE of the whole hash loses it) the
	// store cannot tell; a running Holder can, see TestRevocationSurvivesRollback.
	client.HDel(ctx, "sesame:keyset", "hwm")
	if _, err := st.Load(ctx); err != nil {
		t.Fatalf("load without a watermark: %v", err)
	}
}
