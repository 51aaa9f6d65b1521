package keys_test

import (
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"io"
	"log"
	"log/slog"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/sesame-go/sesame/keys"
)

func states(ks *keys.Keyset) string {
	var s []string
	for _, k := range ks.Keys() {
		s = append(s, k.State().String())
	}
	return strings.Join(s, ", ")
}

// The lifecycle is a chain of pure functions: each returns the next keyset
// and never changes its receiver.
func ExampleKeyset_Rotate() {
	policy := keys.RotationPolicy{PublishDelay: 10 * time.Minute, MaxTokenLifetime: time.Hour}
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

	ks, err := keys.Init(start)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(states(ks))
	first := ks.Version() // the creation time in Unix seconds

	// The pending key must be published for the publish delay first.
	_, err = ks.Rotate(policy, start.Add(time.Minute))
	fmt.Println(errors.Is(err, keys.ErrTooEarly))

	old, _ := ks.Signer()
	msg := []byte("a token signed before the rotation")
	sig := ed25519.Sign(old.SigningKey(), msg)

	ks, err = ks.Rotate(policy, start.Add(24*time.Hour))
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(ks.Version()-first, states(ks))

	// Nobody is logged out: the old key still verifies what it signed.
	k, err := ks.Verifier(old.ID())
	fmt.Println(err == nil && ed25519.Verify(k.PublicKey(), msg, sig))

	// Once every token it signed has expired, it can be pruned.
	ks, _ = ks.Prune(policy, start.Add(26*time.Hour))
	fmt.Println(ks.Version()-first, states(ks))
	// Output:
	// active, pending
	// true
	// 1 verify-only, active, pending
	// true
	// 2 active, pending
}

// Stores change the keyset only by compare-and-swap; Update loads, applies
// a change and retries if another writer won the race.
func ExampleUpdate() {
	mk, err := keys.NewMasterKey(make([]byte, keys.MasterKeySize)) // use keys.LoadMasterKey("") in programs
	if err != nil {
		log.Fatal(err)
	}
	dir, _ := os.MkdirTemp("", "keyset")
	defer os.RemoveAll(dir)
	store := keys.NewFileStore(filepath.Join(dir, "keyset.json"), mk)
	ctx := context.Background()

	ks, _ := keys.Init(time.Now())
	if err := store.CompareAndSwap(ctx, 0, ks); err != nil {
		log.Fatal(err)
	}
	policy := keys.RotationPolicy{PublishDelay: -1} // no publish delay: demo only
	ks, err = keys.Update(ctx, store, func(cur *keys.Keyset) (*keys.Keyset, error) {
		return cur.Rotate(policy, time.Now())
	})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(states(ks))

	wrong, _ := keys.NewMasterKey([]byte(strings.Repeat("x", keys.MasterKeySize)))
	_, err = keys.NewFileStore(filepath.Join(dir, "keyset.json"), wrong).Load(ctx)
	fmt.Println(err)
	// Output:
	// verify-only, active, pending
	// cannot open keyset: wrong master key or corrupted data
}

// A node keeps its keyset in a Holder, which follows the store, and serves
// the JWKS from it. Every node may also run a Rotator: exactly one rotation
// per period happens fleet-wide.
func ExampleHolder() {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ks, _ := keys.Init(time.Now())
	store := keys.NewMemoryStore(ks) // keys.NewRedisStore(client, mk, nil) in a fleet

	logger := slog.New(slog.DiscardHandler)
	holder, err := keys.NewHolder(ctx, store, &keys.HolderOptions{Logger: logger})
	if err != nil {
		log.Fatal(err)
	}
	go holder.Run(ctx) // and call holder.Reload(ctx) on SIGHUP

	policy := keys.RotationPolicy{RotateEvery: 24 * time.Hour}
	rotator, err := keys.NewRotator(store, policy, &keys.RotatorOptions{Logger: logger})
	if err != nil {
		log.Fatal(err)
	}
	go rotator.Run(ctx)

	jwks := httptest.NewServer(keys.JWKSHandler(holder, policy)) // mount at /.well-known/jwks.json
	defer jwks.Close()
	resp, err := jwks.Client().Get(jwks.URL)
	if err != nil {
		log.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	fmt.Println(resp.Header.Get("Cache-Control"))
	fmt.Println(strings.Count(string(body), `"kty":"OKP"`), "keys published")

	signer, _ := holder.Current().Signer()
	fmt.Println(signer.State())
	// Output:
	// public, max-age=300
	// 2 keys published
	// active
}
