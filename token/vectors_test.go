package token_test

import (
	"context"
	"encoding/json"
	"flag"
	"maps"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sesame-go/sesame/internal/testclock"
	"github.com/sesame-go/sesame/internal/testrand"
	"github.com/sesame-go/sesame/keys"
	"github.com/sesame-go/sesame/token"
)

var update = flag.Bool("update", false, "rewrite token/testdata/vectors.json")

type vector struct {
	Name   string `json:"name"`
	Token  string `json:"token"`
	At     string `json:"at"`     // the clock when parsing
	Reason string `json:"reason"` // "" means accepted
}

// vectorMasterKey seals testdata/vectors.keyset, the fixed keyset of the
// vectors: key A (active) and key B (verify-only). It is test data: the
// file changes only with the sealed keyset format, and then vectors.json is
// made anew with -update.
const vectorMasterKey = "c2VzYW1lLXRva2VuLXZlY3RvcnMtbWFzdGVyLWtleSE=" // "sesame-token-vectors-master-key!"

// vectorKeys loads the fixed keyset (from a copy: a file store records a
// watermark beside the file it reads).
func vectorKeys(t testing.TB) (a, b *keys.Key, ks *keys.Keyset) {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", "vectors.keyset"))
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "vectors.keyset")
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	mk, err := keys.ParseMasterKey(vectorMasterKey)
	if err != nil {
		t.Fatal(err)
	}
	ks, err = keys.NewFileStore(path, mk).Load(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	a, err = ks.Signer()
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range ks.Keys() {
		if k.State() == keys.VerifyOnly {
			b = k
		}
	}
	if b == nil || len(ks.Keys()) != 2 {
		t.Fatalf("vector keyset: %v", ks)
	}
	return a, b, ks
}

// TestVectors pins the wire format: minting with fixed keys, clock and
// randomness gives byte-identical tokens, and each stored token parses to
// its recorded outcome. Run with -update after an intended format change.
func TestVectors(t *testing.T) {
	a, b, ks := vectorKeys(t)
	clk := testclock.New(t0)
	codec := mustCodec[Session](t, &token.Options{Issuer: "https://id.example", Audience: "shop", Now: clk.Now, Rand: &testrand.Counter{N: 100}})
	valid, _, err := codec.Mint(ks, "c2Vzc2lvbi0xMjM0NTY3OA", refSession)
	if err != nil {
		t.Fatal(err)
	}
	hdr, claims, _ := segments(t, valid)
	tampered := maps.Clone(claims)
	tampered["enc"] = flipLast(claims["enc"].(string))
	swapped := maps.Clone(hdr)
	swapped["kid"] = b.ID()
	vs := []vector{
		{"valid", valid, t0.Format(time.RFC3339), ""},
		{"expired", valid, t0.Add(11 * time.Minute).Format(time.RFC3339), "expired"},
		{"tampered enc", resign(t, a, hdr, tampered), t0.Format(time.RFC3339), "bad_payload"},
		{"swapped kid", resign(t, a, swapped, claims), t0.Format(time.RFC3339), "bad_signature"},
	}
	path := filepath.Join("testdata", "vectors.json")
	if *update {
		data, err := json.MarshalIndent(vs, "", "  ")
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, append(data, '\n'), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var stored []vector
	if err := json.Unmarshal(data, &stored); err != nil {
		t.Fatal(err)
	}
	if len(stored) != len(vs) {
		t.Fatalf("stored %d vectors, generated %d", len(stored), len(vs))
	}
	for i, v := range stored {
		t.Run(v.Name, func(t *testing.T) {
			if v.Token != vs[i].Token {
				t.Errorf("minting with fixed inputs no longer gives the stored token: the format changed")
			}
			at, err := time.Parse(time.RFC3339, v.At)
			if err != nil {
				t.Fatal(err)
			}
			clk.Set(at)
			_, err = codec.Parse(ks, v.Token)
			if got := token.Reason(err); got != v.Reason {
				t.Errorf("reason %q, want %q (%v)", got, v.Reason, err)
			}
			if err != nil && !strings.HasPrefix(err.Error(), "token: ") {
				t.Errorf("unexpected error %v", err)
			}
		})
	}
}
