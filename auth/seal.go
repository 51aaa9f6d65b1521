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
// (names, e-mail addresses). With Config.DataKey set, it is sealed with
// XChaCha20-Poly1305 before it leaves the process, with the session id as
// additional data, so that the store holds neither the data nor a blob that
// could be moved to another session. The format is a version byte, a random
// 24-byte nonce, then the ciphertext.
const sealedDataV1 = 0x01

type dataSealer struct{ aead cipher.AEAD }

// DataKeyLabel is the label under which [Open] derives Config.DataKey from
// the master key ([keys.MasterKey.Derive]). Programs that set DataKey
// themselves from the same master key should use it too, so that every node
// and tool agrees on the key.
const DataKeyLabel = "sesame/v1 auth.Config.DataKey"

func newDataSealer(key []byte) (*dataSealer, error) {
	if key == nil {
		return nil, nil
	}
	aead, err := chacha20poly1305.NewX(key)
	if err != nil {
		return nil, fmt.Errorf("auth: Config.DataKey: %w", err)
	}
	return &dataSealer{aead}, nil
}

func dataAD(sid string) []byte { return []byte("sesame/v1 family payload\x00" + sid) }

func (p *dataSealer) seal(plain []byte, sid string) []byte {
	if p == nil {
		return plain
	}
	out := make([]byte, 1+chacha20poly1305.NonceSizeX, 1+chacha20poly1305.NonceSizeX+len(plain)+chacha20poly1305.Overhead)
	out[0] = sealedDataV1
	rand.Read(out[1:])
	return p.aead.Seal(out, out[1:], plain, dataAD(sid))
}

var errDataOpen = errors.New("auth: stored session data cannot be opened (wrong DataKey or corrupted)")

func (p *dataSealer) open(stored []byte, sid string) ([]byte, error) {
	if p == nil {
		return stored, nil
	}
	const hdr = 1 + chacha20poly1305.NonceSizeX
	if len(stored) < hdr+chacha20poly1305.Overhead || stored[0] != sealedDataV1 {
		return nil, errDataOpen
	}
	pt, err := p.aead.Open(nil, stored[1:hdr], stored[hdr:], dataAD(sid))
	if err != nil {
		return nil, errDataOpen
	}
	return pt, nil
}
