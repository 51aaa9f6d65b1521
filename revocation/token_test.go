package revocation

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"strings"
	"testing"
)

func TestDeriveFamilyID(t *testing.T) {
	sid := newSID()
	fid, ok := DeriveFamilyID("alice", sid)
	if !ok || fid != userTag("alice")+sid || !validFamilyID(fid) {
		t.Fatalf("DeriveFamilyID(alice, %q) = %q, %v", sid, fid, ok)
	}
	if again, _ := DeriveFamilyID("alice", sid); again != fid {
		t.Fatalf("not deterministic: %q then %q", fid, again)
	}
	tok := formatToken(fid, newSecret())
	if got, ok := TokenFamilyID(tok.Reveal()); !ok || got != fid {
		t.Fatalf("TokenFamilyID(token of %q) = %q, %v", fid, got, ok)
	}
	for _, tc := range []struct{ name, user, sid string }{
		{"no user", "", sid},
		{"no sid", "alice", ""},
		{"short", "alice", sid[:21]},
		{"long", "alice", sid + "A"},
		{"spare bits", "alice", sid[:21] + "B"},
		{"padding", "alice", sid[:20] + "=="},
		{"std alphabet", "alice", strings.Repeat("/", 22)},
		{"NUL", "alice", sid[:21] + "\x00"},
	} {
		if fid, ok := DeriveFamilyID(tc.user, tc.sid); ok || fid != "" {
			t.Errorf("%s: DeriveFamilyID(%q, %q) = %q, %v; want refused", tc.name, tc.user, tc.sid, fid, ok)
		}
	}
}

// TestNextSecretIsHMAC: the written-out successor is HMAC-SHA256 keyed by
// the secret, byte for byte, so chains made before it still verify.
func TestNextSecretIsHMAC(t *testing.T) {
	for i := range 200 {
		s := newSecret()
		if i == 0 {
			s = [secretLen]byte{} // all zero
		}
		m := hmac.New(sha256.New, s[:])
		m.Write([]byte(nextLabel))
		if got, want := nextSecret(s), m.Sum(nil); !bytes.Equal(got[:], want) {
			t.Fatalf("nextSecret(%x) = %x, want HMAC %x", s, got, want)
		}
	}
	if n := testing.AllocsPerRun(100, func() { _ = nextSecret([secretLen]byte{1}) }); n != 0 {
		t.Errorf("nextSecret allocates %v times", n)
	}
}
