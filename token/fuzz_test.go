package token_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sesame-go/sesame/internal/testclock"
	"github.com/sesame-go/sesame/internal/testrand"
	"github.com/sesame-go/sesame/token"
)

// FuzzParse checks three properties on arbitrary input: Parse never panics;
// a rejected token yields a nil token and a known reason; and a token is
// accepted only if it is byte-for-byte one that was minted with a key of the
// keyset (no mutation of a real token, however clever, verifies). The seed
// corpus is testdata/vectors.json plus testdata/fuzz/FuzzParse.
func FuzzParse(f *testing.F) {
	_, _, ks := vectorKeys(f)
	clk := testclock.New(t0)
	codec, err := token.New[Session](&token.Options{Issuer: "https://id.example", Audience: "shop", Now: clk.Now})
	if err != nil {
		f.Fatal(err)
	}
	minted := make(map[string]bool)
	data, err := os.ReadFile(filepath.Join("testdata", "vectors.json"))
	if err != nil {
		f.Fatal(err)
	}
	var vs []vector
	if err := json.Unmarshal(data, &vs); err != nil {
		f.Fatal(err)
	}
	for _, v := range vs {
		if v.Reason == "" {
			minted[v.Token] = true
		}
		f.Add(v.Token)
	}
	// Minting is deterministic (fixed randomness) so that every fuzz worker
	// process builds the same set of minted tokens.
	minter, err := token.New[Session](&token.Options{Issuer: "https://id.example", Audience: "shop", Now: clk.Now, Rand: &testrand.Counter{N: 7}})
	if err != nil {
		f.Fatal(err)
	}
	for _, sid := range []string{"a", "b", "c"} {
		raw, _, err := minter.Mint(ks, sid, refSession)
		if err != nil {
			f.Fatal(err)
		}
		minted[raw] = true
		f.Add(raw)
		f.Add(raw + "=")
		f.Add(strings.Replace(raw, ".", "..", 1))
	}
	f.Add("")
	f.Add("..")
	f.Add(strings.Repeat(".", 1000))
	f.Add("eyJhbGciOiJub25lIn0.e30.")

	f.Fuzz(func(t *testing.T, raw string) {
		tok, err := codec.Parse(ks, raw)
		if err != nil {
			if tok != nil {
				t.Fatalf("rejected token returned %+v", tok)
			}
			if r := token.Reason(err); r == "invalid_token" || r == "" {
				t.Fatalf("error %v has no reason", err)
			}
			return
		}
		if !minted[raw] {
			t.Fatalf("accepted a token that was never minted: %q", raw)
		}
		again, err := codec.Parse(ks, raw)
		if err != nil || again.Claims != tok.Claims {
			t.Fatalf("re-verification differs: %v", err)
		}
	})
}
