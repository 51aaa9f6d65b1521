package token_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/sesame-go/sesame/token"
)

// rawString is a Encoding that seals a string's bytes as they are,
// refusing one byte value so that decoding can fail.
type rawString struct{}

func (rawString) Marshal(s string) ([]byte, error) { return []byte(s), nil }
func (rawString) Unmarshal(b []byte, s *string) error {
	if strings.IndexByte(string(b), '!') >= 0 {
		return errors.New("refused")
	}
	*s = string(b)
	return nil
}

func TestPayloadCodec(t *testing.T) {
	f := newFixture(t)
	jsonCodec := mustCodec[string](t, &token.Options{Now: f.clk.Now})
	raw := jsonCodec.WithEncoding(rawString{})
	if jsonCodec.WithEncoding(nil) == jsonCodec {
		t.Fatal("WithEncoding returned its receiver, not a copy")
	}

	tok, _, err := raw.Mint(f.ks, token.NewSessionID(), "hello")
	if err != nil {
		t.Fatal(err)
	}
	got, err := raw.Parse(f.ks, tok)
	if err != nil || got.Payload != "hello" {
		t.Fatalf("round trip: %v, %v", got, err)
	}
	// The receiver kept JSON: "hello" without quotes is not JSON.
	if _, err := jsonCodec.Parse(f.ks, tok); !errors.Is(err, token.ErrDecrypt) {
		t.Fatalf("JSON codec on a raw payload: got %v, want ErrDecrypt", err)
	}
	// nil means JSON again.
	if _, err := jsonCodec.WithEncoding(nil).Parse(f.ks, tok); !errors.Is(err, token.ErrDecrypt) {
		t.Fatalf("nil codec on a raw payload: got %v, want ErrDecrypt", err)
	}
	jtok, _, err := jsonCodec.WithEncoding(nil).Mint(f.ks, token.NewSessionID(), "hello")
	if err != nil {
		t.Fatal(err)
	}
	if got, err := jsonCodec.Parse(f.ks, jtok); err != nil || got.Payload != "hello" {
		t.Fatalf("nil codec mints JSON: %v, %v", got, err)
	}

	// An Unmarshal error is ErrDecrypt, with no detail and no token.
	tok, _, err = raw.Mint(f.ks, token.NewSessionID(), "no!")
	if err != nil {
		t.Fatal(err)
	}
	if got, err := raw.Parse(f.ks, tok); got != nil || !errors.Is(err, token.ErrDecrypt) || strings.Contains(err.Error(), "refused") {
		t.Fatalf("undecodable payload: got %v, %v; want nil and ErrDecrypt alone", got, err)
	}

	// MaxPayloadSize bounds the encoded bytes: 1536 raw bytes fit, 1537 do not.
	if _, _, err := raw.Mint(f.ks, token.NewSessionID(), strings.Repeat("x", 1536)); err != nil {
		t.Fatalf("payload at the limit: %v", err)
	}
	if _, _, err := raw.Mint(f.ks, token.NewSessionID(), strings.Repeat("x", 1537)); !errors.Is(err, token.ErrPayloadTooLarge) {
		t.Fatalf("payload past the limit: got %v, want ErrPayloadTooLarge", err)
	}
}
