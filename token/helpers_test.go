package token_test

import (
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/sesame-go/sesame/internal/testclock"
	"github.com/sesame-go/sesame/keys"
	"github.com/sesame-go/sesame/token"
)

// t0 is the fixed "now" of these tests; tokens are minted at t0.
var t0 = time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC)

// Session is the payload type most tests carry.
type Session struct {
	UserID string   `json:"uid"`
	Email  string   `json:"email"`
	Name   string   `json:"name"`
	Roles  []string `json:"roles"`
	Tenant string   `json:"tid"`
	Locale string   `json:"loc"`
}

// refSession matches bench/internal/ref/reference-session.json (208 bytes
// of JSON), so token sizes here are comparable with the benchmarks.
var refSession = Session{
	UserID: "usr_01J9ZK3M7Q4W2B8D5F6G7H8J9K",
	Email:  "a.richardson@example-corp.com",
	Name:   "Alexandra Richardson",
	Roles:  []string{"admin", "billing:read", "billing:write", "support"},
	Tenant: "tnt_7f3a9c2e41b8",
	Locale: "en-GB",
}

type fixture struct {
	active, old, pending *keys.Key
	ks                   *keys.Keyset
	clk                  *testclock.Clock
	codec                *token.Codec[Session]
}

// newFixture builds a keyset with an active, a verify-only and a pending key,
// as a rotation leaves it, and a codec on an injected clock.
func newFixture(t testing.TB) *fixture {
	t.Helper()
	f := &fixture{clk: testclock.New(t0)}
	ks, err := keys.Init(t0.Add(-2 * time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	f.old = mustSigner(t, ks)
	if ks, err = ks.Rotate(testPolicy, t0.Add(-time.Hour)); err != nil {
		t.Fatal(err)
	}
	f.ks, f.active, f.pending = ks, mustSigner(t, ks), pendingKey(t, ks)
	f.codec = mustCodec[Session](t, &token.Options{Issuer: "https://id.example", Audience: "shop", Now: f.clk.Now})
	return f
}

// testPolicy is the rotation policy of the fixtures: the defaults.
var testPolicy = keys.RotationPolicy{}

func mustSigner(t testing.TB, ks *keys.Keyset) *keys.Key {
	t.Helper()
	k, err := ks.Signer()
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func pendingKey(t testing.TB, ks *keys.Keyset) *keys.Key {
	t.Helper()
	for _, k := range ks.Keys() {
		if k.State() == keys.Pending {
			return k
		}
	}
	t.Fatalf("no pending key in %v", ks)
	return nil
}

func mustCodec[T any](t testing.TB, o *token.Options) *token.Codec[T] {
	t.Helper()
	c, err := token.New[T](o)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func (f *fixture) mint(t testing.TB) string {
	t.Helper()
	raw, _, err := f.codec.Mint(f.ks, token.NewSessionID(), refSession)
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

// segments splits a compact JWS and decodes its header and claims.
func segments(t testing.TB, raw string) (hdr, claims map[string]any, sig string) {
	t.Helper()
	parts := strings.Split(raw, ".")
	if len(parts) != 3 {
		t.Fatalf("token has %d segments", len(parts))
	}
	dec := func(s string) map[string]any {
		b, err := base64.RawURLEncoding.DecodeString(s)
		if err != nil {
			t.Fatal(err)
		}
		var m map[string]any
		if err := json.Unmarshal(b, &m); err != nil {
			t.Fatal(err)
		}
		return m
	}
	return dec(parts[0]), dec(parts[1]), parts[2]
}

// resign signs arbitrary header and claims with k's Ed25519 key: a token only
// a key holder could make, to reach the checks that run after the signature.
func resign(t testing.TB, k *keys.Key, hdr, claims map[string]any) string {
	t.Helper()
	h, err := json.Marshal(hdr)
	if err != nil {
		t.Fatal(err)
	}
	c, err := json.Marshal(claims)
	if err != nil {
		t.Fatal(err)
	}
	input := base64.RawURLEncoding.EncodeToString(h) + "." + base64.RawURLEncoding.EncodeToString(c)
	return input + "." + base64.RawURLEncoding.EncodeToString(ed25519.Sign(k.SigningKey(), []byte(input)))
}

// hs256 signs header and claims with HMAC-SHA256 under secret.
func hs256(t testing.TB, secret []byte, hdr, claims map[string]any) string {
	t.Helper()
	tok := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims(claims))
	tok.Header = hdr
	s, err := tok.SignedString(secret)
	if err != nil {
		t.Fatal(err)
	}
	return s
}
