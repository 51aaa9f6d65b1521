package revocation

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"log/slog"
)

// Refresh tokens are "<family id>.<secret>":
//
//   - the family id is 24 base64url characters: 2 characters of hash tag
//     (12 bits of SHA-256 of the user id, so that a user's families and their
//     index share one Redis Cluster slot), then the session id, 22 characters
//     of 128 random bits (see [DeriveFamilyID]);
//   - the secret is 32 bytes, 43 base64url characters without padding.
//
// The store keeps only SHA-256 hashes of secrets. Each successor secret is
// derived from the one presented: next = HMAC-SHA256(key = secret,
// "sesame refresh next"). So the store can hand the same successor to every
// presentation of the previous token (races, lost answers) without storing
// it, and only a holder of the previous secret can compute it. Because the
// chain only runs forward, the store can also tell a genuine older token
// (theft) from a forged one by walking forward from the presented secret
// until it meets a stored hash.
//
// A family is one session, so its id is derived from the session's, not
// drawn separately: an access token then needs to carry only the session id
// (a clear claim) and the user id to name its family, 24 characters fewer in
// every token. This makes a family id public to anyone who has seen an access
// token or the user's session list, where before it appeared only in the
// refresh token. That is safe because a family id grants nothing:
//
//   - every operation a client can start on a family needs more than its id.
//     [Store.Refresh] needs the 256-bit secret, and a wrong one changes
//     nothing ([ErrInvalidToken]); package auth ends, updates or marks as
//     current only the family named by a verified access token (sealed
//     payload, signed claims), ends a session picked by sid only from the
//     caller's own [Store.ListFamilies], and logs out by refresh token only
//     after [Store.Refresh] has accepted it. No endpoint takes a family id
//     from a client. sessionctl, an administrator's tool, finds families by
//     user or session id;
//   - its randomness is the session id's, 128 bits, as unguessable as before
//     and already public in every access token;
//   - the one thing a known family id buys is a forged refresh for which the
//     store walks up to ReuseLookback HMACs before answering ErrInvalidToken
//     (an unknown id costs a lookup). auth throttles failed refreshes per
//     client address (auth's Limits.RefreshFailuresPerAddress), as it did for holders
//     of an old refresh token, which always carried the family id.
//
// Deriving also means one session can have only one family: CreateFamily
// refuses a session id whose family exists, rather than overwrite it (the
// create script and memoryStore check and write under one lock).
const (
	familyIDLen = 24
	tagLen      = 2
	secretLen   = 32
	secretB64   = 43
	tokenLen    = familyIDLen + 1 + secretB64
)

const nextLabel = "sesame refresh next"

// RefreshToken is an opaque refresh token as handed to a client. Its String,
// GoString and LogValue never show the value; call Reveal to send it.
type RefreshToken struct{ v string }

// Reveal returns the token's text, to be sent to its client and nowhere else.
func (t RefreshToken) Reveal() string { return t.v }

// IsZero reports whether t holds no token.
func (t RefreshToken) IsZero() bool { return t.v == "" }

func (t RefreshToken) String() string { return "REDACTED_REFRESH_TOKEN" }

// GoString keeps %#v from printing the value.
func (t RefreshToken) GoString() string { return "REDACTED_REFRESH_TOKEN" }

// LogValue implements slog.LogValuer.
func (t RefreshToken) LogValue() slog.Value { return slog.StringValue("REDACTED_REFRESH_TOKEN") }

// TokenFamilyID returns the family id a refresh token names, without any backend
// access. It checks only the format; ok is false for a malformed token.
func TokenFamilyID(token string) (id string, ok bool) {
	fid, _, ok := parseToken(token)
	return fid, ok
}

func parseToken(token string) (fid string, secret [secretLen]byte, ok bool) {
	if len(token) != tokenLen || token[familyIDLen] != '.' {
		return "", secret, false
	}
	fid = token[:familyIDLen]
	if !validFamilyID(fid) {
		return "", secret, false
	}
	n, err := base64.RawURLEncoding.Strict().Decode(secret[:], []byte(token[familyIDLen+1:]))
	if err != nil || n != secretLen {
		return "", secret, false
	}
	return fid, secret, true
}

func validFamilyID(fid string) bool {
	if len(fid) != familyIDLen {
		return false
	}
	for i := 0; i < len(fid); i++ {
		c := fid[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	// The session id part must decode strictly.
	return validSessionID(fid[tagLen:])
}

// userTag is the hash tag shared by a user's index and families.
func userTag(userID string) string {
	h := sha256.Sum256([]byte(userID))
	return base64.RawURLEncoding.EncodeToString(h[:2])[:tagLen]
}

// sessionIDLen is the length of a session id: 128 bits, base64url, no padding.
const sessionIDLen = familyIDLen - tagLen

// DeriveFamilyID returns the id of the refresh family of session sid of user
// userID: the user's 2-character hash tag followed by sid. ok is false when
// userID is empty or sid is not a session id as package token makes them
// (token.NewSessionID): 22 characters of strict base64url encoding 16 bytes.
// It needs no backend; it does not say whether the family exists.
func DeriveFamilyID(userID, sid string) (fid string, ok bool) {
	if userID == "" || !validSessionID(sid) {
		return "", false
	}
	return userTag(userID) + sid, true
}

// validSessionID reports whether sid is 128 bits in strict base64url (its
// last character carries 2 padding bits that must be zero), so that one
// session has exactly one spelling and one family id.
func validSessionID(sid string) bool {
	if len(sid) != sessionIDLen {
		return false
	}
	var b [16]byte
	n, err := base64.RawURLEncoding.Strict().Decode(b[:], []byte(sid))
	return err == nil && n == 16
}

func newSecret() (s [secretLen]byte) {
	if _, err := rand.Read(s[:]); err != nil {
		panic("revocation: crypto/rand failed: " + err.Error())
	}
	return s
}

// nextSecret is HMAC-SHA256(key = s, nextLabel), written out (RFC 2104 with a
// 32-byte key, zero-padded to the 64-byte block) so that it allocates
// nothing: a forgery check walks up to ReuseLookback of these.
// TestNextSecretIsHMAC holds it to crypto/hmac.
func nextSecret(s [secretLen]byte) [secretLen]byte {
	const block = 64
	var in [block + len(nextLabel)]byte
	var out [block + sha256.Size]byte
	for i := range block {
		k := byte(0)
		if i < secretLen {
			k = s[i]
		}
		in[i] = k ^ 0x36
		out[i] = k ^ 0x5c
	}
	copy(in[block:], nextLabel)
	inner := sha256.Sum256(in[:])
	copy(out[block:], inner[:])
	return sha256.Sum256(out[:])
}

func hashSecret(s [secretLen]byte) [32]byte { return sha256.Sum256(s[:]) }

func formatToken(fid string, s [secretLen]byte) RefreshToken {
	return RefreshToken{fid + "." + base64.RawURLEncoding.EncodeToString(s[:])}
}

func hashEqual(a []byte, b [32]byte) bool {
	return len(a) == 32 && subtle.ConstantTimeCompare(a, b[:]) == 1
}

// olderThan reports whether secret is a genuine ancestor of any of the given
// stored hashes, walking at most limit generations forward.
func isAncestor(secret [secretLen]byte, limit int, hashes ...[]byte) bool {
	s := secret
	for range limit {
		s = nextSecret(s)
		h := hashSecret(s)
		for _, want := range hashes {
			if hashEqual(want, h) {
				return true
			}
		}
	}
	return false
}
