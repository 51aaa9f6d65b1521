package keys

import (
	"bytes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"

	"golang.org/x/crypto/chacha20poly1305"
)

// MasterKeySize is the size of the master key that seals keysets at rest.
const MasterKeySize = chacha20poly1305.KeySize

// MasterKeyEnv is the environment variable [LoadMasterKey] reads when no file
// is given: the base64 (standard or URL alphabet, padding optional) of 32
// random bytes, e.g. from `head -c 32 /dev/urandom | base64`.
const MasterKeyEnv = "SESAME_MASTER_KEY"

// MasterKey seals keyset secrets at rest with XChaCha20-Poly1305. It never
// prints its value. A MasterKey is safe for concurrent use.
type MasterKey struct {
	aead cipher.AEAD
	raw  []byte // for Derive; never printed
}

// NewMasterKey returns the master key made of the 32 bytes b.
func NewMasterKey(b []byte) (*MasterKey, error) {
	if len(b) != MasterKeySize {
		return nil, fmt.Errorf("keys: master key is %d bytes, want %d", len(b), MasterKeySize)
	}
	aead, err := chacha20poly1305.NewX(b)
	if err != nil {
		return nil, fmt.Errorf("keys: master key: %v", err)
	}
	return &MasterKey{aead: aead, raw: bytes.Clone(b)}, nil
}

// Derive returns a 32-byte key for another use of the master key, such as
// sealing session data at rest, derived with HKDF-SHA256 (no salt) under
// label. Keys derived under different labels are independent: knowing one
// tells nothing about the master key or the others, so the master key never
// has to be used directly for two purposes. Labels should name the purpose
// and a version ("sesame/v1 auth.Config.DataKey").
func (m *MasterKey) Derive(label string) []byte {
	k, err := hkdf.Key(sha256.New, m.raw, nil, label, 32)
	if err != nil { // only for lengths above 255*32 bytes
		panic("keys: internal error: " + err.Error())
	}
	return k
}

// ParseMasterKey decodes a base64 master key. Surrounding white space is
// ignored. The error never contains the input.
func ParseMasterKey(s string) (*MasterKey, error) {
	s = string(bytes.TrimSpace([]byte(s)))
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		if b, err := enc.DecodeString(s); err == nil {
			defer clear(b)
			return NewMasterKey(b)
		}
	}
	return nil, errors.New("keys: master key is not valid base64")
}

// LoadMasterKey reads the master key from file if file is not empty, and
// otherwise from the environment variable SESAME_MASTER_KEY. Programs must
// not take the key itself from a command-line flag: argv is visible to every
// user of the machine (ps, /proc) and ends up in shell history.
func LoadMasterKey(file string) (*MasterKey, error) {
	if file != "" {
		b, err := os.ReadFile(file)
		if err != nil {
			return nil, fmt.Errorf("keys: reading master key file: %w", err)
		}
		defer clear(b)
		mk, err := ParseMasterKey(string(b))
		if err != nil {
			return nil, fmt.Errorf("%w (in %q)", err, file)
		}
		return mk, nil
	}
	v, ok := os.LookupEnv(MasterKeyEnv)
	if !ok || v == "" {
		return nil, fmt.Errorf("keys: no master key: set %s (base64 of 32 bytes) or give a master key file", MasterKeyEnv)
	}
	mk, err := ParseMasterKey(v)
	if err != nil {
		return nil, fmt.Errorf("%w (in %s)", err, MasterKeyEnv)
	}
	return mk, nil
}

// String never prints the key.
func (*MasterKey) String() string { return "keys.MasterKey(REDACTED)" }

// GoString never prints the key.
func (m *MasterKey) GoString() string { return m.String() }

// Format makes every fmt verb print String.
func (m *MasterKey) Format(f fmt.State, verb rune) { io.WriteString(f, m.String()) }

// LogValue never logs the key.
func (*MasterKey) LogValue() slog.Value { return slog.StringValue("REDACTED") }
