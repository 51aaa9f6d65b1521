package keys

import (
	"crypto/rand"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"time"
)

// The at-rest encoding of a keyset, shared by every store:
//
//	{"format":"sesame-keyset/v1","version":7,"nonce":"<base64>","sealed":"<base64>"}
//
// sealed is the JSON list of keys, secrets included, sealed with
// XChaCha20-Poly1305 under the master key. The additional data is the format
// name and the version, so a sealed body cannot be replayed under another
// version number (which would slip an old keyset, with a since-revoked key,
// past a version check) nor be read by a future format as if it were its own.
// The 24-byte random nonce is safe to draw at random for any number of writes.
//
// Format v2 is the same envelope whose sealed plaintext is an object,
// {"keys":[...],"revoked":["<kid>",...]}, adding the tombstones of revoked
// keys since pruned ([Keyset.Revoked]). A keyset is written as v1 while its
// tombstones are all still present as revoked keys (so releases that read
// only v1 keep reading it), and as v2 from the first prune of a revoked key.
const (
	sealFormat   = "sesame-keyset/v1"
	sealFormatV2 = "sesame-keyset/v2"
)

// sealedV2 is the plaintext of format v2.
type sealedV2 struct {
	Keys    []storedKey `json:"keys"`
	Revoked []string    `json:"revoked"`
}

// maxSealedSize bounds what is read from storage before any decoding. A
// keyset holds a handful of keys of about 250 bytes each.
const maxSealedSize = 1 << 20

type envelope struct {
	Format  string `json:"format"`
	Version uint64 `json:"version"`
	Nonce   []byte `json:"nonce"`
	Sealed  []byte `json:"sealed"`
}

type storedKey struct {
	KID         string    `json:"kid"`
	State       State     `json:"state"`
	Created     time.Time `json:"created"`
	Activated   time.Time `json:"activated,omitzero"`
	Deactivated time.Time `json:"deactivated,omitzero"`
	RetiresAt   time.Time `json:"retires_at,omitzero"`
	Secret      []byte    `json:"secret"`
}

func sealAD(format string, version uint64) []byte {
	return binary.BigEndian.AppendUint64([]byte(format+"\x00"), version)
}

// seal encodes s for storage.
func seal(mk *MasterKey, s *Keyset) ([]byte, error) {
	stored := make([]storedKey, len(s.keys))
	for i, k := range s.keys {
		stored[i] = storedKey{
			KID: k.id, State: k.state, Created: k.created,
			Activated: k.activated, Deactivated: k.deactivated, RetiresAt: k.retiresAt,
			Secret: k.m.secret[:],
		}
	}
	format := sealFormat
	var v any = stored
	if !allPresent(s) {
		format, v = sealFormatV2, sealedV2{Keys: stored, Revoked: s.revoked}
	}
	plain, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("keys: encoding keyset: %w", err)
	}
	defer clear(plain)
	nonce := make([]byte, mk.aead.NonceSize())
	rand.Read(nonce)
	return json.Marshal(envelope{
		Format:  format,
		Version: s.version,
		Nonce:   nonce,
		Sealed:  mk.aead.Seal(nil, nonce, plain, sealAD(format, s.version)),
	})
}

// allPresent reports whether every tombstone of s is a key s still holds.
func allPresent(s *Keyset) bool {
	for _, kid := range s.revoked {
		if _, ok := s.byID[kid]; !ok {
			return false
		}
	}
	return true
}

// open decodes and checks a stored keyset. Any failure to authenticate is
// [ErrCannotOpen], with no detail.
func open(mk *MasterKey, data []byte) (*Keyset, error) {
	if len(data) > maxSealedSize {
		return nil, fmt.Errorf("%w: stored keyset is %d bytes, more than %d", ErrCannotOpen, len(data), maxSealedSize)
	}
	var env envelope
	if err := json.Unmarshal(data, &env); err != nil || env.Format == "" {
		return nil, ErrCannotOpen
	}
	if env.Format != sealFormat && env.Format != sealFormatV2 {
		return nil, fmt.Errorf("keys: unsupported keyset format %q", env.Format)
	}
	if len(env.Nonce) != mk.aead.NonceSize() {
		return nil, ErrCannotOpen
	}
	plain, err := mk.aead.Open(nil, env.Nonce, env.Sealed, sealAD(env.Format, env.Version))
	if err != nil {
		return nil, ErrCannotOpen
	}
	defer clear(plain)
	var v2 sealedV2
	var err2 error
	if env.Format == sealFormatV2 {
		err2 = json.Unmarshal(plain, &v2)
	} else {
		err2 = json.Unmarshal(plain, &v2.Keys)
	}
	if err2 != nil {
		return nil, fmt.Errorf("keys: decoding keyset: %v", err2)
	}
	stored := v2.Keys
	ks := make([]*Key, len(stored))
	for i, sk := range stored {
		var secret [secretSize]byte
		if len(sk.Secret) != secretSize {
			return nil, fmt.Errorf("keys: stored key %q has a %d-byte secret", sk.KID, len(sk.Secret))
		}
		copy(secret[:], sk.Secret)
		clear(sk.Secret)
		k, err := newKey(sk.KID, secret, sk.State, sk.Created, sk.Activated, sk.Deactivated)
		clear(secret[:])
		if err != nil {
			return nil, err
		}
		k.retiresAt = sk.RetiresAt.UTC()
		ks[i] = k
	}
	return newKeyset(env.Version, v2.Revoked, ks...)
}
