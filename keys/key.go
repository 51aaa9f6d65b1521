package keys

import (
	"crypto/cipher"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"io"
	"log/slog"
	"time"
)

// secretSize is the size of a key generation's secret: 256 bits, from which
// both the signing key and the payload key are derived.
const secretSize = 32

// kidBytes is the number of random bytes in a key id. 64 bits keep ids short in
// every token header while making a collision between the handful of live
// generations negligible (and a collision is refused by [NewKeyset] anyway).
const kidBytes = 8

// Key is one key generation: an id, a 32-byte secret, and the Ed25519 signing
// key and XChaCha20-Poly1305 payload key derived from that secret.
//
// A Key is immutable and safe for concurrent use; lifecycle changes return a
// modified copy that shares the derived material. The secret never appears in
// String, GoString, LogValue, fmt verbs or JSON.
type Key struct {
	id          string
	state       State
	created     time.Time
	activated   time.Time // zero until the key first signed
	deactivated time.Time // zero until the key stopped signing or verifying
	retiresAt   time.Time // zero unless the lifecycle set when a verify-only key may go
	m           *material
}

// Generate makes a new pending key generation from crypto/rand.
func Generate(now time.Time) (*Key, error) { return generateFrom(rand.Reader, now) }

// generateFrom makes a new pending key generation reading randomness from r.
// Tests use it with a deterministic reader to produce fixed vectors; anything
// else should call [Generate].
//
// A generated id never starts with '-', so it can be passed as a command-line
// argument (sessionctl keys revoke KID) without being taken for a flag; a draw
// that would is thrown away whole and drawn again (1 in 64).
func generateFrom(r io.Reader, now time.Time) (*Key, error) {
	var raw [kidBytes + secretSize]byte
	var id string
	for {
		if _, err := io.ReadFull(r, raw[:]); err != nil {
			return nil, fmt.Errorf("keys: reading randomness: %w", err)
		}
		id = base64.RawURLEncoding.EncodeToString(raw[:kidBytes])
		if id[0] != '-' {
			break
		}
	}
	var secret [secretSize]byte
	copy(secret[:], raw[kidBytes:])
	clear(raw[:])
	return newKey(id, secret, Pending, now, time.Time{}, time.Time{})
}

// newKey builds a Key from stored fields. It is the single place where the
// secret becomes key material.
func newKey(id string, secret [secretSize]byte, st State, created, activated, deactivated time.Time) (*Key, error) {
	if err := validKID(id); err != nil {
		return nil, err
	}
	if st < Pending || st > Revoked {
		return nil, fmt.Errorf("keys: key %q has invalid state %d", id, uint8(st))
	}
	m, err := derive(secret)
	if err != nil {
		return nil, err
	}
	return &Key{
		id:          id,
		state:       st,
		created:     created.UTC(),
		activated:   activated.UTC(),
		deactivated: deactivated.UTC(),
		m:           m,
	}, nil
}

// validKID accepts the ids this package generates: 1 to 64 base64url characters.
// Anything else (path separators, quotes, control characters) is refused so an
// id can be logged and used in file names and Redis keys without escaping.
func validKID(id string) error {
	if len(id) == 0 || len(id) > 64 {
		return fmt.Errorf("keys: invalid key id length %d", len(id))
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_') {
			return fmt.Errorf("keys: invalid character in key id %q", id)
		}
	}
	return nil
}

// ID returns the key id, the JWS `kid`.
func (k *Key) ID() string { return k.id }

// State returns the key's lifecycle state.
func (k *Key) State() State { return k.state }

// Created returns when the generation was made.
func (k *Key) Created() time.Time { return k.created }

// Activated returns when the key started signing, or the zero time.
func (k *Key) Activated() time.Time { return k.activated }

// Deactivated returns when the key stopped signing (became verify-only) or
// stopped verifying (revoked, retired), or the zero time.
func (k *Key) Deactivated() time.Time { return k.deactivated }

// RetiresAt returns the earliest time a verify-only key may be pruned, as
// recorded by the rotation that deactivated it, or the zero time. Pruning
// waits for the later of this and its own policy's retention.
func (k *Key) RetiresAt() time.Time { return k.retiresAt }

// PublicKey returns the Ed25519 verification key.
func (k *Key) PublicKey() ed25519.PublicKey { return k.m.pub }

// SigningKey returns the Ed25519 private key. Callers must not modify it.
func (k *Key) SigningKey() ed25519.PrivateKey { return k.m.priv }

// AEAD returns the XChaCha20-Poly1305 cipher that seals token payloads under
// this generation. It is safe for concurrent use.
func (k *Key) AEAD() cipher.AEAD { return k.m.aead }

// withState returns a copy of k moved to state st at time at. It records
// activation and deactivation times; it does not check that the transition is
// allowed, which is the keyset's job.
func (k *Key) withState(st State, at time.Time) *Key {
	c := *k
	c.state = st
	at = at.UTC()
	switch st {
	case Active:
		c.activated = at
		c.deactivated = time.Time{}
		c.retiresAt = time.Time{}
	case VerifyOnly, Retired, Revoked:
		if c.deactivated.IsZero() || st == Revoked {
			c.deactivated = at
		}
	}
	return &c
}

// String describes the key without its secret.
func (k *Key) String() string {
	if k == nil {
		return "keys.Key(nil)"
	}
	return fmt.Sprintf("keys.Key{kid=%s state=%s}", k.id, k.state)
}

// GoString is String, so %#v cannot print the secret either.
func (k *Key) GoString() string { return k.String() }

// Format makes every fmt verb print String: %v, %+v, %#v, %s, %q, %x.
func (k *Key) Format(f fmt.State, verb rune) { io.WriteString(f, k.String()) }

// LogValue logs the key's id and state, never its secret.
func (k *Key) LogValue() slog.Value {
	return slog.GroupValue(slog.String("kid", k.id), slog.String("state", k.state.String()))
}

// MarshalJSON encodes the public view of the key (id, state, times, public
// key). The secret is never encoded by this method; storage uses its own,
// sealed encoding.
func (k *Key) MarshalJSON() ([]byte, error) { return marshalPublicView(k) }
