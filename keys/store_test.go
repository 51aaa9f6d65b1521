package keys

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sesame-go/sesame/internal/redistest"
)

func testMasterKey(t testing.TB, b byte) *MasterKey {
	t.Helper()
	mk, err := NewMasterKey(bytes.Repeat([]byte{b}, MasterKeySize))
	if err != nil {
		t.Fatal(err)
	}
	return mk
}

// noDelay rotates at any time, so concurrent writers always have work to do.
var noDelay = RotationPolicy{PublishDelay: -1, MaxTokenLifetime: time.Hour}

// storeFactory makes stores that share one backing: two stores from one
// factory see the same keyset, like two processes would.
type storeFactory func(t *testing.T, mk *MasterKey) Store

func storeKinds(t *testing.T) map[string]func(t *testing.T) storeFactory {
	return map[string]func(t *testing.T) storeFactory{
		"memory": func(t *testing.T) storeFactory {
			m := NewMemoryStore(nil)
			return func(*testing.T, *MasterKey) Store { return m }
		},
		"file": func(t *testing.T) storeFactory {
			path := filepath.Join(t.TempDir(), "keyset.json")
			return func(_ *testing.T, mk *MasterKey) Store { return NewFileStore(path, mk) }
		},
		"redis": func(t *testing.T) storeFactory {
			srv := redistest.Start(t, nil)
			return func(_ *testing.T, mk *MasterKey) Store { return NewRedisStore(srv.Client(), mk, nil) }
		},
	}
}

func sameKeyset(t *testing.T, got, want *Keyset) {
	t.Helper()
	if got.Version() != want.Version() {
		t.Fatalf("version %d, want %d", got.Version(), want.Version())
	}
	gk, wk := got.Keys(), want.Keys()
	if len(gk) != len(wk) {
		t.Fatalf("%d keys, want %d", len(gk), len(wk))
	}
	for i := range gk {
		g, w := gk[i], wk[i]
		if g.ID() != w.ID() || g.State() != w.State() || g.m.secret != w.m.secret ||
			!g.Created().Equal(w.Created()) || !g.Activated().Equal(w.Activated()) ||
			!g.Deactivated().Equal(w.Deactivated()) || !g.RetiresAt().Equal(w.RetiresAt()) {
			t.Fatalf("key %d: got %v, want %v", i, g, w)
		}
	}
}

func TestStores(t *testing.T) {
	for name, kind := range storeKinds(t) {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			ctx := t.Context()
			open := kind(t)
			mk := testMasterKey(t, 1)
			st := open(t, mk)

			if _, err := st.Load(ctx); !errors.Is(err, ErrNotFound) {
				t.Fatalf("Load of empty store: %v, want ErrNotFound", err)
			}
			v1 := mustInit(t)
			if err := st.CompareAndSwap(ctx, 0, v1); err != nil {
				t.Fatal(err)
			}
			if err := st.CompareAndSwap(ctx, 0, v1); !errors.Is(err, ErrConflict) {
				t.Fatalf("second create: %v, want ErrConflict", err)
			}
			got, err := st.Load(ctx)
			if err != nil {
				t.Fatal(err)
			}
			sameKeyset(t, got, v1)

			v2, _ := v1.Rotate(testPolicy, t0.Add(time.Hour))
			if err := st.CompareAndSwap(ctx, v1.Version(), v2); err != nil {
				t.Fatal(err)
			}
			stale, _ := v1.Revoke(v1.pending().ID(), t0)
			if err := st.CompareAndSwap(ctx, v1.Version(), stale); !errors.Is(err, ErrConflict) {
				t.Fatalf("stale CAS: %v, want ErrConflict", err)
			}
			if err := st.CompareAndSwap(ctx, v2.Version(), v1); err == nil {
				t.Fatal("CAS accepted a version that does not increase")
			}
			got, _ = st.Load(ctx)
			sameKeyset(t, got, v2)

			if name == "memory" {
				return // not sealed
			}
			t.Run("wrong master key", func(t *testing.T) {
				wrong := open(t, testMasterKey(t, 2))
				_, err := wrong.Load(ctx)
				if err == nil || err.Error() != "cannot open keyset: wrong master key or corrupted data" {
					t.Fatalf("Load with the wrong key: %v", err)
				}
				v3, _ := v2.Prune(testPolicy, t0.Add(10*time.Hour))
				if err := wrong.CompareAndSwap(ctx, v2.Version(), v3); !errors.Is(err, ErrCannotOpen) {
					t.Fatalf("CAS with the wrong key: %v, want ErrCannotOpen", err)
				}
				got, _ := st.Load(ctx)
				sameKeyset(t, got, v2)
			})
		})
	}
}

// TestConcurrentRotation has two writers (separate store values, so for the
// file store separate open files and flocks, as two processes would have)
// rotate one keyset concurrently. Every Update must land exactly once.
func TestConcurrentRotation(t *testing.T) {
	const writers, rounds = 2, 15
	for name, kind := range storeKinds(t) {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			ctx := t.Context()
			open := kind(t)
			mk := testMasterKey(t, 1)
			v1 := mustInit(t)
			if err := open(t, mk).CompareAndSwap(ctx, 0, v1); err != nil {
				t.Fatal(err)
			}
			var wg sync.WaitGroup
			errs := make(chan error, writers*rounds)
			for range writers {
				st := open(t, mk)
				wg.Go(func() {
					for range rounds {
						_, err := Update(ctx, st, func(cur *Keyset) (*Keyset, error) {
							return cur.Rotate(noDelay, t0)
						})
						errs <- err
					}
				})
			}
			wg.Wait()
			close(errs)
			for err := range errs {
				if err != nil {
					t.Fatal(err)
				}
			}
			final, err := open(t, mk).Load(ctx)
			if err != nil {
				t.Fatal(err)
			}
			n := countStates(final)
			if final.Version() != v1.Version()+writers*rounds || n[VerifyOnly] != writers*rounds || n[Active] != 1 || n[Pending] != 1 {
				t.Fatalf("final keyset version %d states %v; want version %d, %d verify-only, one active, one pending",
					final.Version(), n, v1.Version()+writers*rounds, writers*rounds)
			}
		})
	}
}

func TestFileStoreAtRest(t *testing.T) {
	ctx := t.Context()
	dir := t.TempDir()
	path := filepath.Join(dir, "keyset.json")
	mk := testMasterKey(t, 1)
	st := NewFileStore(path, mk)
	v1 := mustInit(t)
	if err := st.CompareAndSwap(ctx, 0, v1); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("mode %v, want 0600", fi.Mode().Perm())
	}
	data, _ := os.ReadFile(path)
	var env map[string]any
	if err := json.Unmarshal(data, &env); err != nil {
		t.Fatalf("stored file is not JSON: %v", err)
	}
	for _, k := range v1.Keys() {
		for _, s := range []string{b64(k.m.secret[:]), string(k.m.secret[:]), fmt.Sprintf("%x", k.m.secret)} {
			if bytes.Contains(data, []byte(s)) {
				t.Fatal("a secret is stored in the clear")
			}
		}
	}

	t.Run("tampered", func(t *testing.T) {
		cases := map[string]func(map[string]any){
			"version": func(m map[string]any) { m["version"] = 7 },
			"sealed":  func(m map[string]any) { s := m["sealed"].(string); m["sealed"] = "AAAA" + s[4:] },
			"nonce":   func(m map[string]any) { s := m["nonce"].(string); m["nonce"] = "AAAA" + s[4:] },
		}
		for name, tamper := range cases {
			var m map[string]any
			json.Unmarshal(data, &m)
			tamper(m)
			b, _ := json.Marshal(m)
			if _, err := open(mk, b); !errors.Is(err, ErrCannotOpen) {
				t.Errorf("%s changed: %v, want ErrCannotOpen", name, err)
			}
		}
		if _, err := open(mk, []byte("not json")); !errors.Is(err, ErrCannotOpen) {
			t.Errorf("garbage: %v", err)
		}
	})

	t.Run("crash while writing", func(t *testing.T) {
		fst := NewFileStore(path, mk).(*fileStore)
		fst.write = func(w io.Writer, b []byte) (int, error) {
			n, _ := w.Write(b[:len(b)/2])
			return n, errors.New("disk on fire")
		}
		v2, _ := v1.Rotate(testPolicy, t0.Add(time.Hour))
		if err := fst.CompareAndSwap(ctx, v1.Version(), v2); err == nil || !strings.Contains(err.Error(), "disk on fire") {
			t.Fatalf("got %v, want the write error", err)
		}
		got, err := st.Load(ctx)
		if err != nil {
			t.Fatal(err)
		}
		sameKeyset(t, got, v1)
		entries, _ := os.ReadDir(dir)
		for _, e := range entries {
			if strings.Contains(e.Name(), ".tmp-") {
				t.Errorf("temporary file %s left behind", e.Name())
			}
		}
		// The store still works afterwards.
		if err := st.CompareAndSwap(ctx, v1.Version(), v2); err != nil {
			t.Fatal(err)
		}
	})
}

func TestMasterKeyLoading(t *testing.T) {
	const good = "AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE=" // 32 × 0x01
	t.Setenv(MasterKeyEnv, good)
	if _, err := LoadMasterKey(""); err != nil {
		t.Fatalf("from env: %v", err)
	}
	file := filepath.Join(t.TempDir(), "mk")
	os.WriteFile(file, []byte(good+"\n"), 0o600)
	if _, err := LoadMasterKey(file); err != nil {
		t.Fatalf("from file: %v", err)
	}
	t.Setenv(MasterKeyEnv, "")
	if _, err := LoadMasterKey(""); err == nil || !strings.Contains(err.Error(), MasterKeyEnv) {
		t.Fatalf("no key: %v", err)
	}
	for _, bad := range []string{"c2hvcnQ=", "not base64 !!!", good + good} {
		_, err := ParseMasterKey(bad)
		if err == nil {
			t.Errorf("accepted %q", bad)
		} else if strings.Contains(err.Error(), bad) {
			t.Errorf("error echoes the input: %v", err)
		}
	}
	mk, _ := ParseMasterKey(good)
	for _, out := range []string{fmt.Sprint(mk), fmt.Sprintf("%#v %x %+v", mk, mk, mk)} {
		if strings.Contains(out, good) || strings.Contains(out, "0101") {
			t.Errorf("master key printed: %s", out)
		}
	}
}
