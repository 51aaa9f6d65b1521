package token

import (
	"encoding/base64"
	"fmt"
	"io"

	"github.com/sesame-go/sesame/keys"
	"golang.org/x/crypto/chacha20poly1305"
)

const (
	nonceSize = chacha20poly1305.NonceSizeX // 24 bytes: random nonces are safe
	tagSize   = chacha20poly1305.Overhead   // 16 bytes
	adLabel   = "sesame/v1 at+jwt enc"
)

// additionalData binds a sealed payload to its envelope: the key that sealed
// it, the token id and the session id. A sealed payload lifted into another
// token (even one signed by us, for another session) fails to open, because
// its additional data no longer matches. NUL separators keep the encoding
// unambiguous: none of the three values may contain a NUL (kid and the ids
// are base64url).
func additionalData(dst []byte, kid, jti, sid string) []byte {
	dst = append(dst, adLabel...)
	dst = append(dst, 0)
	dst = append(dst, kid...)
	dst = append(dst, 0)
	dst = append(dst, jti...)
	dst = append(dst, 0)
	return append(dst, sid...)
}

// seal encrypts plaintext under k with a fresh random 24-byte nonce and
// returns base64url(nonce || ciphertext || tag). XChaCha20's 192-bit nonce
// makes random nonces safe for any realistic number of tokens per key (the
// collision bound is about 2⁸⁰ messages, against 2³² for 96-bit nonces).
func seal(k *keys.Key, rand io.Reader, plaintext []byte, jti, sid string) (string, error) {
	buf := make([]byte, nonceSize, nonceSize+len(plaintext)+tagSize)
	if _, err := io.ReadFull(rand, buf); err != nil {
		return "", fmt.Errorf("token: reading nonce: %w", err)
	}
	var adBuf [160]byte
	ad := additionalData(adBuf[:0], k.ID(), jti, sid)
	buf = k.AEAD().Seal(buf, buf[:nonceSize], plaintext, ad)
	return b64.EncodeToString(buf), nil
}

// open decodes and decrypts enc in place. Lengths are checked before
// decoding and before the AEAD sees anything: a value too short to hold a
// nonce and a tag, or longer than the token bound allows, is rejected without
// being opened. Every failure is the same ErrDecrypt, with no detail.
func open(k *keys.Key, enc string, maxLen int, jti, sid string) ([]byte, error) {
	n := b64.DecodedLen(len(enc))
	if n < nonceSize+tagSize || len(enc) > maxLen {
		return nil, ErrDecrypt
	}
	buf := make([]byte, n)
	m, err := b64.Decode(buf, []byte(enc))
	if err != nil || m != n {
		return nil, ErrDecrypt
	}
	var adBuf [160]byte
	ad := additionalData(adBuf[:0], k.ID(), jti, sid)
	nonce, ct := buf[:nonceSize], buf[nonceSize:]
	pt, err := k.AEAD().Open(ct[:0], nonce, ct, ad)
	if err != nil {
		return nil, ErrDecrypt
	}
	return pt, nil
}

// b64 is the only base64 this package accepts: URL alphabet, no padding, and
// no spare bits in the last character (so one byte string has exactly one
// encoding).
var b64 = base64.RawURLEncoding.Strict()
