package users

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"golang.org/x/crypto/argon2"
)

// Params are argon2id cost parameters. The zero value means [DefaultParams].
type Params struct {
	// Time is the number of passes over memory.
	Time uint32
	// MemoryKiB is the memory used by one hash, in KiB.
	MemoryKiB uint32
	// Threads is the degree of parallelism.
	Threads uint8
}

// DefaultParams are the costs of new hashes: one pass over 64 MiB with two
// lanes, which takes about 0.2 s on one current server core. This is above
// the OWASP minimum for argon2id (19 MiB with two passes, or 46 MiB with one)
// and is RFC 9106's memory-constrained recommendation with one pass instead
// of three, so a login stays well under a second on small machines. Raise
// Time first if logins may be slower; hashes record their parameters, so old
// hashes keep verifying after a change.
var DefaultParams = Params{Time: 1, MemoryKiB: 64 << 10, Threads: 2}

const (
	saltLen = 16 // 128 bits: RFC 9106 recommends 16 bytes
	keyLen  = 32 // 256 bits of tag

	// Bounds on the parameters accepted from a stored hash, so that a bad or
	// hostile users file cannot make one login use gigabytes or minutes.
	maxTime      = 16
	maxMemoryKiB = 1 << 20 // 1 GiB
	maxThreads   = 16
	maxSaltLen   = 64
	maxKeyLen    = 64
)

// errBadHash means a stored hash is not a PHC argon2id string this package
// can verify. It never says which part is wrong.
var errBadHash = errors.New("users: malformed password hash")

func (p Params) withDefaults() Params {
	if p == (Params{}) {
		return DefaultParams
	}
	return p
}

func (p Params) validate() error {
	if p.Time < 1 || p.Time > maxTime || p.MemoryKiB < 8*uint32(p.Threads) || p.MemoryKiB > maxMemoryKiB || p.Threads < 1 || p.Threads > maxThreads {
		return fmt.Errorf("users: argon2id parameters t=%d m=%d p=%d out of range", p.Time, p.MemoryKiB, p.Threads)
	}
	return nil
}

// Hash returns the argon2id hash of password in the PHC string format
//
//	$argon2id$v=19$m=65536,t=1,p=2$<salt>$<hash>
//
// (salt and hash in unpadded standard base64), with a random 16-byte salt and
// a 32-byte tag. Zero params mean [DefaultParams].
func Hash(password string, p Params) (string, error) {
	p = p.withDefaults()
	if err := p.validate(); err != nil {
		return "", err
	}
	salt := make([]byte, saltLen)
	rand.Read(salt) // never fails (crypto/rand, Go 1.24+)
	key := argon2.IDKey([]byte(password), salt, p.Time, p.MemoryKiB, p.Threads, keyLen)
	b64 := base64.RawStdEncoding
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s",
		argon2.Version, p.MemoryKiB, p.Time, p.Threads, b64.EncodeToString(salt), b64.EncodeToString(key)), nil
}

// phc is a parsed argon2id hash.
type phc struct {
	p         Params
	salt, key []byte
}

func parseHash(s string) (*phc, error) {
	parts := strings.Split(s, "$")
	if len(parts) != 6 || parts[0] != "" || parts[1] != "argon2id" || parts[2] != "v="+strconv.Itoa(argon2.Version) {
		return nil, errBadHash
	}
	var h phc
	for _, kv := range strings.Split(parts[3], ",") {
		k, v, ok := strings.Cut(kv, "=")
		if !ok {
			return nil, errBadHash
		}
		n, err := strconv.ParseUint(v, 10, 32)
		if err != nil {
			return nil, errBadHash
		}
		switch k {
		case "m":
			h.p.MemoryKiB = uint32(n)
		case "t":
			h.p.Time = uint32(n)
		case "p":
			if n > 255 {
				return nil, errBadHash
			}
			h.p.Threads = uint8(n)
		default:
			return nil, errBadHash
		}
	}
	if h.p.validate() != nil {
		return nil, errBadHash
	}
	b64 := base64.RawStdEncoding
	if len(parts[4]) > b64.EncodedLen(maxSaltLen) || len(parts[5]) > b64.EncodedLen(maxKeyLen) {
		return nil, errBadHash
	}
	var err error
	if h.salt, err = b64.DecodeString(parts[4]); err != nil || len(h.salt) < 8 {
		return nil, errBadHash
	}
	if h.key, err = b64.DecodeString(parts[5]); err != nil || len(h.key) < 16 {
		return nil, errBadHash
	}
	return &h, nil
}

// verify reports whether password matches the parsed hash, comparing in
// constant time.
func (h *phc) verify(password string) bool {
	key := argon2.IDKey([]byte(password), h.salt, h.p.Time, h.p.MemoryKiB, h.p.Threads, uint32(len(h.key)))
	return subtle.ConstantTimeCompare(key, h.key) == 1
}

// Verify reports whether password matches the PHC argon2id string hash. The
// error is non-nil only when hash is malformed.
func Verify(hash, password string) (bool, error) {
	h, err := parseHash(hash)
	if err != nil {
		return false, err
	}
	return h.verify(password), nil
}
