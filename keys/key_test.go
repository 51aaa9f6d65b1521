package keys

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/sesame-go/sesame/internal/testrand"
)

var t0 = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

func TestDeriveKnownAnswer(t *testing.T) {
	k, err := generateFrom(&testrand.Counter{}, t0)
	if err != nil {
		t.Fatal(err)
	}
	// The secret is bytes 0x08..0x27; the id is base64url of 0x00..0x07.
	if got, want := k.ID(), "AAECAwQFBgc"; got != want {
		t.Errorf("kid = %q, want %q", got, want)
	}
	// Pinned so that a change to the HKDF labels or the derivation is noticed:
	// it would make every stored keyset derive different keys.
	if got, want := hex.EncodeToString(k.PublicKey()), knownPublicKey; got != want {
		t.Errorf("public key = %s, want %s", got, want)
	}
	seed := k.SigningKey().Seed()
	if bytes.Equal(seed, k.m.secret[:]) {
		t.Error("signing seed equals the raw secret: HKDF not applied")
	}
}

// A first draw whose id would start with '-' (0xf8 encodes as '-') is
// discarded whole; the key comes from the second draw.
func TestGeneratedIDNeverStartsWithDash(t *testing.T) {
	first := bytes.Repeat([]byte{0xf8}, kidBytes+secretSize)
	k, err := generateFrom(io.MultiReader(bytes.NewReader(first), &testrand.Counter{}), t0)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := k.ID(), "AAECAwQFBgc"; got != want {
		t.Errorf("kid = %q, want %q (the second draw)", got, want)
	}
	if got := hex.EncodeToString(k.PublicKey()); got != knownPublicKey {
		t.Errorf("public key = %s, want the second draw's %s", got, knownPublicKey)
	}
	for range 2000 {
		k, err := Generate(t0)
		if err != nil {
			t.Fatal(err)
		}
		if strings.HasPrefix(k.ID(), "-") {
			t.Fatalf("generated kid %q starts with '-'", k.ID())
		}
	}
}

const knownPublicKey = "f16bf15de6c2e65d78a08e5a6871a78c16c058e1338b2b33ebdea768813f444f"

func TestDerivedKeysAreIndependent(t *testing.T) {
	k, err := Generate(t0)
	if err != nil {
		t.Fatal(err)
	}
	// Seal with the AEAD key and check the signing seed cannot open it: the two
	// labels must yield different keys.
	m2, err := derive(k.m.secret)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(m2.pub, k.PublicKey()) {
		t.Fatal("derivation is not deterministic")
	}
	nonce := make([]byte, k.AEAD().NonceSize())
	ct := k.AEAD().Seal(nil, nonce, []byte("hello"), nil)
	if _, err := m2.aead.Open(nil, nonce, ct, nil); err != nil {
		t.Fatalf("same secret must open: %v", err)
	}
	other, err := derive([secretSize]byte{1})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := other.aead.Open(nil, nonce, ct, nil); err == nil {
		t.Fatal("a different secret opened the payload")
	}
}

func TestSecretNeverPrinted(t *testing.T) {
	k, err := Generate(t0)
	if err != nil {
		t.Fatal(err)
	}
	k = k.withState(Active, t0)
	secrets := map[string]string{
		"secret hex":    hex.EncodeToString(k.m.secret[:]),
		"seed hex":      hex.EncodeToString(k.SigningKey().Seed()),
		"secret bytes":  string(k.m.secret[:]),
		"secret %v":     fmt.Sprint(k.m.secret[:]),
		"secret base64": b64(k.m.secret[:]),
		"seed base64":   b64(k.SigningKey().Seed()),
	}
	var logs bytes.Buffer
	slog.New(slog.NewJSONHandler(&logs, nil)).Info("key", "key", k)
	j, err := json.Marshal(k)
	if err != nil {
		t.Fatal(err)
	}
	ks, err := NewKeyset(1, k)
	if err != nil {
		t.Fatal(err)
	}
	outputs := map[string]string{
		"String": k.String(),
		"%v":     fmt.Sprintf("%v", k),
		"%+v":    fmt.Sprintf("%+v", k),
		"%#v":    fmt.Sprintf("%#v", k),
		"%x":     fmt.Sprintf("%x", k),
		"%s":     fmt.Sprintf("%s", k),
		"struct": fmt.Sprintf("%+v", struct{ K *Key }{k}),
		"keyset": fmt.Sprintf("%v %+v", ks, ks),
		"json":   string(j),
		"slog":   logs.String(),
	}
	for oname, out := range outputs {
		if !strings.Contains(out, k.ID()) && oname != "keyset" {
			t.Errorf("%s output %q does not name the key", oname, out)
		}
		for sname, s := range secrets {
			if strings.Contains(out, s) {
				t.Errorf("%s output contains the %s", oname, sname)
			}
		}
	}
}

func TestNewKeysetInvariants(t *testing.T) {
	a := mustGen(t).withState(Active, t0)
	b := mustGen(t).withState(Active, t0)
	p := mustGen(t)
	tests := []struct {
		name string
		keys []*Key
		ok   bool
	}{
		{"one active", []*Key{a}, true},
		{"active and pending", []*Key{a, p}, true},
		{"empty", nil, false},
		{"only pending", []*Key{p}, false},
		{"two active", []*Key{a, b}, false},
		{"duplicate id", []*Key{a, a.withState(VerifyOnly, t0)}, false},
		{"nil key", []*Key{a, nil}, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := NewKeyset(1, tc.keys...)
			if tc.ok && err != nil {
				t.Fatalf("got error %v, want none", err)
			}
			if !tc.ok && !errors.Is(err, ErrInvalidKeyset) {
				t.Fatalf("got error %v, want ErrInvalidKeyset", err)
			}
		})
	}
}

func TestVerifierByState(t *testing.T) {
	active := mustGen(t).withState(Active, t0)
	states := map[State]error{
		Pending:    ErrUnknownKey,
		VerifyOnly: nil,
		Retired:    ErrUnknownKey,
		Revoked:    ErrKeyRevoked,
	}
	for st, want := range states {
		t.Run(st.String(), func(t *testing.T) {
			k := mustGen(t).withState(st, t0)
			ks, err := NewKeyset(7, active, k)
			if err != nil {
				t.Fatal(err)
			}
			got, err := ks.Verifier(k.ID())
			if !errors.Is(err, want) || (want == nil && got != k) {
				t.Fatalf("Verifier(%s key) = %v, %v; want error %v", st, got, err, want)
			}
			if s, err := ks.Signer(); err != nil || s != active {
				t.Fatalf("Signer = %v, %v; want the active key", s, err)
			}
		})
	}
	ks, _ := NewKeyset(1, active)
	if _, err := ks.Verifier("nope"); !errors.Is(err, ErrUnknownKey) {
		t.Fatalf("unknown kid: got %v", err)
	}
	if _, err := ks.Verifier(active.ID()); err != nil {
		t.Fatalf("active key must verify: %v", err)
	}
}

func TestStateText(t *testing.T) {
	for s := Pending; s <= Revoked; s++ {
		b, err := s.MarshalText()
		if err != nil {
			t.Fatal(err)
		}
		var back State
		if err := back.UnmarshalText(b); err != nil || back != s {
			t.Fatalf("round trip of %s gave %v, %v", s, back, err)
		}
	}
	if _, err := parseState("Active"); err == nil {
		t.Fatal("state names are case-sensitive")
	}
	if _, err := State(0).MarshalText(); err == nil {
		t.Fatal("zero state must not encode")
	}
}

func TestInvalidKID(t *testing.T) {
	for _, id := range []string{"", "../etc", "a b", "a\nb", strings.Repeat("a", 65), `"x"`} {
		if _, err := newKey(id, [secretSize]byte{}, Active, t0, t0, time.Time{}); err == nil {
			t.Errorf("kid %q accepted", id)
		}
	}
}

func mustGen(t *testing.T) *Key {
	t.Helper()
	k, err := Generate(t0)
	if err != nil {
		t.Fatal(err)
	}
	return k
}
