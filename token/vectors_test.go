package token_test

import (
	"encoding/json"
	"flag"
	"maps"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

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

// vectorKeys is a fixed keyset: key A (active) and key B (verify-only),
// generated from a counting reader, so the vectors are reproducible.
func vectorKeys(t testing.TB) (a, b *keys.Key, ks *keys.Keyset) {
	t.Helper()
	r := &counter{}
	a, err := keys.GenerateFrom(r, t0)
	if err != nil {
		t.Fatal(err)
	}
	b, err = keys.GenerateFrom(r, t0)
	if err != nil {
		t.Fatal(err)
	}
	a, b = a.WithState(keys.Active, t0), b.WithState(keys.VerifyOnly, t0)
	ks, err = keys.NewKeyset(1, a, b)
	if err != nil {
		t.Fatal(err)
	}
	return a, b, ks
}

// TestVectors pins the wire format: minting with fixed keys, clock and
// randomness gives byte-identical tokens, and each stored token parses to
// its recorded outcome. Run with -update after an intended format change.
func TestVectors(t *testing.T) {
	a, b, ks := vectorKeys(t)
	clk := &clock{now: t0}
	codec := mustCodec[Session](t, &token.Options{Issuer: "https://id.example", Audience: "shop", Now: clk.Now, Rand: &counter{n: 100}})
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
			clk.now = at
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
