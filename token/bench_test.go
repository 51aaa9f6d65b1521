package token_test

import (
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"strings"
	"testing"
)

func BenchmarkMint(b *testing.B) {
	f := newFixture(b)
	var n int
	b.ReportAllocs()
	for b.Loop() {
		raw, _, err := f.codec.Mint(f.ks, "c2Vzc2lvbi0xMjM0NTY3OA", refSession)
		if err != nil {
			b.Fatal(err)
		}
		n = len(raw)
	}
	b.ReportMetric(float64(n), "token-bytes")
}

func BenchmarkParse(b *testing.B) {
	f := newFixture(b)
	raw := f.mint(b)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := f.codec.Parse(f.ks, raw); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(len(raw)), "token-bytes")
}

// BenchmarkFloor is the bare cryptographic cost of the same token: base64
// decoding of its three segments, one ed25519.Verify, one XChaCha20-Poly1305
// open of enc. Parse can only add JSON decoding and checks on top of this.
func BenchmarkFloor(b *testing.B) {
	f := newFixture(b)
	raw := f.mint(b)
	_, claims, _ := segments(b, raw)
	enc := claims["enc"].(string)
	sid, jti, kid := claims["sid"].(string), claims["jti"].(string), f.active.ID()
	ad := []byte("sesame/v1 at+jwt enc\x00" + kid + "\x00" + jti + "\x00" + sid)
	dot := strings.LastIndexByte(raw, '.')
	pub, aead := f.active.PublicKey(), f.active.AEAD()
	b.ReportAllocs()
	for b.Loop() {
		parts := strings.SplitN(raw, ".", 3)
		if _, err := base64.RawURLEncoding.DecodeString(parts[0]); err != nil {
			b.Fatal(err)
		}
		if _, err := base64.RawURLEncoding.DecodeString(parts[1]); err != nil {
			b.Fatal(err)
		}
		sig, err := base64.RawURLEncoding.DecodeString(parts[2])
		if err != nil {
			b.Fatal(err)
		}
		if !ed25519.Verify(pub, []byte(raw[:dot]), sig) {
			b.Fatal("signature")
		}
		sealed, err := base64.RawURLEncoding.DecodeString(enc)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := aead.Open(sealed[24:24], sealed[:24], sealed[24:], ad); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(len(raw)), "token-bytes")
}

// TestFloorMatchesFormat keeps BenchmarkFloor honest: the additional data it
// uses must be the one Parse uses, or the floor would measure a failing open.
func TestFloorMatchesFormat(t *testing.T) {
	f := newFixture(t)
	raw := f.mint(t)
	_, claims, _ := segments(t, raw)
	sealed, _ := base64.RawURLEncoding.DecodeString(claims["enc"].(string))
	ad := []byte("sesame/v1 at+jwt enc\x00" + f.active.ID() + "\x00" + claims["jti"].(string) + "\x00" + claims["sid"].(string))
	pt, err := f.active.AEAD().Open(nil, sealed[:24], sealed[24:], ad)
	if err != nil {
		t.Fatal(err)
	}
	var s Session
	if err := json.Unmarshal(pt, &s); err != nil || s.Email != refSession.Email {
		t.Fatalf("opened %q: %v", pt, err)
	}
}
