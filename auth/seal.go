package auth

import (
	"crypto/cipher"
	"crypto/rand"
	"errors"
	"fmt"

	"golang.org/x/crypto/chacha20poly1305"
)

// The session data kept with a refresh family lives in the store (Redis)
// for the whole session, and holds whatever the application put in it
// (names, e-mail addresses). With Config.PayloadKey set, it is sealed with
// XChaCha20-Poly1305 before it leaves the process, with the session id as
// additional data, so that the store holds neither the data nor a blob that
// could be moved to another session. The format is a version byte, a random
// 24-byte nonce, then the ciphertext.
const sealedPayloadV1 = 0x01

type payloadSealer struct{ aead cipher.AEAD }

func newPayloadSealer(key []byte) (*payloadSealer, error) {
	if key == nil {
		return nil, nil
	}
	aead, err := chacha20poly1305.NewX(key)
	if err != nil {
		return nil, fmt.Errorf("auth: PayloadKey: %w", err)
	}
	return &payloadSealer{aead}, nil
}

func payloadAD(sid string) []byte { return []byte("sesame/v1 family payload\x00" + sid) }

func (p *payloadSealer) seal(plain []byte, sid string) []byte {
	if p == nil {
		return plain
	}
	out := make([]byte, 1+chacha20poly1305.NonceSizeX, 1+chacha20poly1305.NonceSizeX+len(plain)+chacha20poly1305.Overhead)
	out[0] = sealedPayloadV1
	rand.Read(out[1:])
	return p.aead.Seal(out, out[1:], plain, payloadAD(sid))
}

var errPayloadOpen = errors.New("auth: stored session data cannot be opened (wrong PayloadKey or corrupted)")

func (p *payloadSealer) open(stored []byte, sid string) ([]byte, error) {
	if p == nil {
		return stored, nil
	}
	const hdr = 1 + chacha20poly1305.NonceSizeX
	if len(stored) < hdr+chacha20poly1305.Overhead || stored[0] != sealedPayloadV1 {
		return nil, errPayloadOpen
	}
	pt, err := p.aead.Open(nil, stored[1:hdr], stored[hdr:], payloadAD(sid))
	if err != nil {
		return nil, errPayloadOpen
	}
	return pt, nil
}
