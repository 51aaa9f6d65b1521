package keys

import (
	"crypto/cipher"
	"crypto/ed25519"
	"crypto/sha256"
	"fmt"
	"io"

	"golang.org/x/crypto/chacha20poly1305"
	"golang.org/x/crypto/hkdf"
)

// HKDF labels. Each derived key has its own label so that the signing key and
// the payload key are independent even though they come from one secret: a
// weakness found in one use cannot be turned against the other, and the labels
// carry a version so a future format derives fresh keys from the same secret.
const (
	labelSign = "sesame/v1 access-token signing key (Ed25519 seed)"
	labelSeal = "sesame/v1 access-token payload key (XChaCha20-Poly1305)"
)

// material is everything derived from one secret. It is shared by the copies
// a Key makes of itself and never leaves the package except through the
// typed accessors on Key.
type material struct {
	secret [secretSize]byte
	priv   ed25519.PrivateKey
	pub    ed25519.PublicKey
	aead   cipher.AEAD
}

// derive expands secret into the signing and payload keys with HKDF-SHA256.
// The secret is uniformly random, so no salt is needed (RFC 5869, section 3.1).
func derive(secret [secretSize]byte) (*material, error) {
	var seed [ed25519.SeedSize]byte
	if _, err := io.ReadFull(hkdf.New(sha256.New, secret[:], nil, []byte(labelSign)), seed[:]); err != nil {
		return nil, fmt.Errorf("keys: deriving signing key: %w", err)
	}
	var sealKey [chacha20poly1305.KeySize]byte
	if _, err := io.ReadFull(hkdf.New(sha256.New, secret[:], nil, []byte(labelSeal)), sealKey[:]); err != nil {
		return nil, fmt.Errorf("keys: deriving payload key: %w", err)
	}
	priv := ed25519.NewKeyFromSeed(seed[:])
	aead, err := chacha20poly1305.NewX(sealKey[:])
	clear(seed[:])
	clear(sealKey[:])
	if err != nil {
		return nil, fmt.Errorf("keys: payload cipher: %w", err)
	}
	return &material{
		secret: secret,
		priv:   priv,
		pub:    priv.Public().(ed25519.PublicKey),
		aead:   aead,
	}, nil
}
