package keys

import (
	"errors"
	"testing"
	"time"
)

// FuzzOpen checks that no stored input panics the decoder, and that anything
// it accepts is a valid keyset that survives a seal/open round trip. Only the
// seeds were made with the master key, so in practice every mutation must be
// rejected as [ErrCannotOpen] or a format error.
func FuzzOpen(f *testing.F) {
	mk := testMasterKey(f, 1)
	ks, err := Init(t0)
	if err != nil {
		f.Fatal(err)
	}
	ks2, _ := ks.Rotate(noDelay, t0.Add(time.Hour))
	for _, s := range []*Keyset{ks, ks2} {
		b, err := seal(mk, s)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte(`{"format":"sesame-keyset/v1","version":1,"nonce":"","sealed":""}`))
	f.Add([]byte(`{"format":"sesame-keyset/v2"}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		got, err := open(mk, data)
		if err != nil {
			if got != nil {
				t.Fatal("keyset returned with an error")
			}
			return
		}
		if _, err := got.Signer(); err != nil {
			t.Fatalf("accepted keyset has no signer: %v", err)
		}
		b, err := seal(mk, got)
		if err != nil {
			t.Fatal(err)
		}
		again, err := open(mk, b)
		if err != nil || again.Version() != got.Version() || len(again.Keys()) != len(got.Keys()) {
			t.Fatalf("round trip: %v", err)
		}
	})
}

func TestOpenWrongKeyIsOneError(t *testing.T) {
	b, _ := seal(testMasterKey(t, 1), mustInit(t))
	_, err := open(testMasterKey(t, 2), b)
	if err != ErrCannotOpen || !errors.Is(err, ErrCannotOpen) {
		t.Fatalf("got %v, want exactly ErrCannotOpen", err)
	}
}
