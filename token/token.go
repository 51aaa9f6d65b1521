// Package token mints and parses sesame access tokens: compact JWS
// (RFC 7515) signed with Ed25519, whose session payload is sealed with
// XChaCha20-Poly1305.
//
// Most programs use package auth, which wraps this one. Use token directly to
// mint or verify tokens outside HTTP:
//
//	codec, err := token.New[Session](&token.Options{Issuer: "https://id.example", Audience: "shop"})
//	raw, claims, err := codec.Mint(keyset, sid, Session{UserID: "u1"})
//	tok, err := codec.Parse(keyset, raw)
//
// # Format
//
// Header, exactly: {"alg":"EdDSA","kid":"<key id>","typ":"at+jwt"}.
// Clear claims: iss, aud, iat, nbf, exp (integer seconds), jti (token id),
// sid (session id), and enc: base64url(nonce || XChaCha20-Poly1305(payload)),
// where payload is the caller's value as JSON (or as its [Encoding]
// encodes it, see [Codec.WithEncoding]), the nonce is 24 random bytes,
// and the additional data binds the ciphertext to kid, jti and sid. Anyone
// with the published JWKS can verify the signature and read the clear
// claims; only holders of the keyset can read the payload. Put nothing
// personal in the clear claims: the session id and token id are random.
//
// # Parsing guarantees
//
// [Codec.Parse] checks, in this order:
//
//  1. the size bound, before any base64 or JSON decoding;
//  2. the shape, as golang-jwt reads it: exactly three segments; the header
//     and then the claims decoded from strict base64url (no padding, no
//     spare bits) and from JSON; the header's alg naming an algorithm
//     golang-jwt knows; the signature segment decoded from strict base64url;
//  3. the algorithm, pinned to EdDSA and never taken from the token;
//  4. the header, byte for byte equal to the one sesame mints (so no extra,
//     duplicate or case-variant fields: no jwk, jku, x5u, crit, b64 or zip);
//  5. the kid, naming a key of the keyset that may verify;
//  6. the Ed25519 signature over header and claims;
//  7. exp, nbf and iat present and valid within the leeway; iss and aud
//     equal to the configured ones; jti and sid present; exp after iat; an
//     iat no older than MaxLifetime + leeway, and a lifetime (exp − iat) no
//     longer than allowed, both computed without overflow;
//  8. only then is enc opened, after its length is checked, and the payload
//     decoded.
//
// So header and claims are decoded before the signature is checked: that
// work is bounded by the size bound, and nothing decoded is trusted until
// step 6 passes (the alg, the header and the kid are only compared and
// looked up; no claim is acted on). The sealed payload is never opened for
// a token whose signature or claims fail. Every failure wraps one reason
// error (see [Reason]).
package token

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/sesame-go/sesame/keys"
)

// tokenType is the JWS typ header of sesame access tokens (RFC 9068 media type).
const tokenType = "at+jwt"

// Options configure a [Codec]. The zero value means the defaults; each field
// says its own.
type Options struct {
	// Issuer is the iss claim minted and required. Zero means "sesame".
	Issuer string
	// Audience is the aud claim minted and required. Zero means "sesame".
	Audience string
	// TTL is the lifetime of minted tokens. Zero means 10 minutes.
	TTL time.Duration
	// MaxLifetime rejects tokens whose exp − iat is longer, even with a valid
	// signature: it caps the damage of a key misuse that mints long-lived
	// tokens. Zero means TTL. Raise it for the duration of a TTL reduction so
	// tokens minted under the old TTL are not refused early.
	MaxLifetime time.Duration
	// Leeway is the clock skew allowed on exp, nbf and iat. Zero means 30s; a
	// negative value means none.
	Leeway time.Duration
	// MaxTokenSize bounds a token's length in bytes, checked before any
	// decoding, and the length of minted tokens. Zero means 8 KiB.
	MaxTokenSize int
	// MaxPayloadSize bounds the encoded payload at mint time. Zero means
	// 1536 bytes, which keeps a token under the ~4 KB browsers allow a cookie.
	MaxPayloadSize int
	// Now is the clock. Nil means time.Now.
	Now func() time.Time
	// Rand supplies token ids and nonces. Nil means crypto/rand; only tests
	// should set it.
	Rand io.Reader
}

func (o *Options) withDefaults() Options {
	var c Options
	if o != nil {
		c = *o
	}
	if c.Issuer == "" {
		c.Issuer = "sesame"
	}
	if c.Audience == "" {
		c.Audience = "sesame"
	}
	if c.TTL == 0 {
		c.TTL = 10 * time.Minute
	}
	if c.MaxLifetime == 0 {
		c.MaxLifetime = c.TTL
	}
	switch {
	case c.Leeway == 0:
		c.Leeway = 30 * time.Second
	case c.Leeway < 0:
		c.Leeway = 0
	}
	if c.MaxTokenSize == 0 {
		c.MaxTokenSize = 8 << 10
	}
	if c.MaxPayloadSize == 0 {
		c.MaxPayloadSize = 1536
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Rand == nil {
		c.Rand = rand.Reader
	}
	return c
}

func (o *Options) validate() error {
	switch {
	case o.TTL < time.Second:
		return fmt.Errorf("token: TTL %v is shorter than one second", o.TTL)
	case o.MaxLifetime < o.TTL:
		return fmt.Errorf("token: MaxLifetime %v is shorter than TTL %v", o.MaxLifetime, o.TTL)
	case o.MaxTokenSize < 256:
		return fmt.Errorf("token: MaxTokenSize %d is too small", o.MaxTokenSize)
	case o.MaxPayloadSize < 2 || o.MaxPayloadSize > o.MaxTokenSize:
		return fmt.Errorf("token: MaxPayloadSize %d out of range", o.MaxPayloadSize)
	}
	return nil
}

// Codec mints and parses tokens carrying a payload of type T, encoded as
// JSON unless [Codec.WithEncoding] says otherwise. A Codec is immutable
// and safe for concurrent use.
type Codec[T any] struct {
	o      Options
	parser *jwt.Parser
	pc     Encoding[T]
}

// Encoding turns a payload into the bytes that are sealed into enc, and
// back. The default is encoding/json.
//
// Unmarshal sees only bytes that Marshal made under one of the keyset's keys
// (they have been authenticated), but it must still be strict: refuse what
// Marshal would not produce (truncation, trailing bytes, an unknown version)
// rather than guess, never panic, and not keep b after it returns. An error
// makes Parse fail with [ErrDecrypt]. Both methods may be called
// concurrently.
type Encoding[T any] interface {
	Marshal(v T) ([]byte, error)
	Unmarshal(b []byte, v *T) error
}

// JSONEncoding is the default Encoding: encoding/json.
type JSONEncoding[T any] struct{}

func (JSONEncoding[T]) Marshal(v T) ([]byte, error)    { return json.Marshal(v) }
func (JSONEncoding[T]) Unmarshal(b []byte, v *T) error { return json.Unmarshal(b, v) }

// Token is a verified access token: its clear claims and opened payload.
type Token[T any] struct {
	Claims
	Payload T
}

// New returns a Codec with opts (nil means all defaults).
func New[T any](opts *Options) (*Codec[T], error) {
	o := opts.withDefaults()
	if err := o.validate(); err != nil {
		return nil, err
	}
	return &Codec[T]{
		o:  o,
		pc: JSONEncoding[T]{},
		parser: jwt.NewParser(
			jwt.WithValidMethods([]string{jwt.SigningMethodEdDSA.Alg()}),
			jwt.WithStrictDecoding(),
			jwt.WithExpirationRequired(),
			jwt.WithIssuedAt(),
			jwt.WithIssuer(o.Issuer),
			jwt.WithAudience(o.Audience),
			jwt.WithLeeway(o.Leeway),
			jwt.WithTimeFunc(o.Now),
		),
	}, nil
}

// Options returns the codec's options with defaults filled in.
func (c *Codec[T]) Options() Options { return c.o }

// WithEncoding returns a copy of c that encodes payloads with pc (nil
// means JSON, the default). Tokens minted with one payload codec do not
// parse with another: they fail with [ErrDecrypt].
func (c *Codec[T]) WithEncoding(pc Encoding[T]) *Codec[T] {
	d := *c
	d.pc = pc
	if pc == nil {
		d.pc = JSONEncoding[T]{}
	}
	return &d
}

// Mint signs a new token for session sid carrying payload, with the keyset's
// active key. It fails with [ErrPayloadTooLarge] if the encoded payload is
// larger than MaxPayloadSize, rather than producing a token a browser would
// silently drop.
func (c *Codec[T]) Mint(ks *keys.Keyset, sid string, payload T) (string, Claims, error) {
	if sid == "" || len(sid) > 128 || strings.IndexByte(sid, 0) >= 0 {
		return "", Claims{}, errors.New("token: invalid session id")
	}
	k, err := ks.Signer()
	if err != nil {
		return "", Claims{}, fmt.Errorf("token: cannot mint: %w", err)
	}
	pt, err := c.pc.Marshal(payload)
	if err != nil {
		return "", Claims{}, fmt.Errorf("token: encoding payload: %w", err)
	}
	if len(pt) > c.o.MaxPayloadSize {
		return "", Claims{}, fmt.Errorf("%w: %d bytes, limit %d", ErrPayloadTooLarge, len(pt), c.o.MaxPayloadSize)
	}
	jti, err := randomID(c.o.Rand)
	if err != nil {
		return "", Claims{}, err
	}
	enc, err := seal(k, c.o.Rand, pt, jti, sid)
	if err != nil {
		return "", Claims{}, err
	}
	now := c.o.Now().Unix()
	wc := &wireClaims{
		Iss: c.o.Issuer,
		Aud: c.o.Audience,
		Iat: now,
		Nbf: now,
		Exp: now + int64(c.o.TTL/time.Second),
		Jti: jti,
		Sid: sid,
		Enc: enc,
	}
	t := jwt.NewWithClaims(jwt.SigningMethodEdDSA, wc)
	t.Header = map[string]any{"alg": jwt.SigningMethodEdDSA.Alg(), "kid": k.ID(), "typ": tokenType}
	raw, err := t.SignedString(k.SigningKey())
	if err != nil {
		return "", Claims{}, fmt.Errorf("token: signing: %w", err)
	}
	if len(raw) > c.o.MaxTokenSize {
		return "", Claims{}, fmt.Errorf("%w: token is %d bytes, limit %d", ErrPayloadTooLarge, len(raw), c.o.MaxTokenSize)
	}
	return raw, wc.public(k.ID()), nil
}

// Parse verifies raw against the keyset and returns its claims and payload.
// On any failure it returns a nil token and an error wrapping one reason
// error; see the package documentation for the order of checks.
func (c *Codec[T]) Parse(ks *keys.Keyset, raw string) (*Token[T], error) {
	if len(raw) > c.o.MaxTokenSize {
		return nil, ErrTooLarge
	}
	var key *keys.Key
	wc := new(wireClaims)
	_, err := c.parser.ParseWithClaims(raw, wc, func(t *jwt.Token) (any, error) {
		kid, _ := t.Header["kid"].(string)
		hdr, _, _ := strings.Cut(raw, ".")
		if !canonicalHeader(hdr, kid) {
			return nil, ErrMalformed
		}
		k, err := ks.Verifier(kid)
		switch {
		case errors.Is(err, keys.ErrKeyRevoked):
			return nil, ErrKeyRevoked
		case err != nil:
			return nil, ErrUnknownKey
		}
		key = k
		return k.PublicKey(), nil
	})
	if err != nil {
		return nil, classify(err)
	}
	switch {
	case wc.Iat == 0 || wc.Nbf == 0:
		return nil, fmt.Errorf("%w: iat and nbf are required", ErrMalformed)
	case wc.Jti == "" || wc.Sid == "":
		return nil, fmt.Errorf("%w: jti and sid are required", ErrClaims)
	case wc.Exp <= wc.Iat:
		return nil, fmt.Errorf("%w: exp is not after iat", ErrClaims)
	}
	if err := c.checkLifetime(wc); err != nil {
		return nil, err
	}
	pt, err := open(key, wc.Enc, c.o.MaxTokenSize, wc.Jti, wc.Sid)
	if err != nil {
		return nil, err
	}
	tok := &Token[T]{Claims: wc.public(key.ID())}
	if err := c.pc.Unmarshal(pt, &tok.Payload); err != nil {
		// Authentic but undecodable: the payload type or codec changed
		// under live tokens. Same reason as a failed open, and no detail;
		// the caller re-authenticates.
		return nil, ErrDecrypt
	}
	return tok, nil
}

// checkLifetime enforces exp − iat ≤ MaxLifetime without overflow. The
// parser has already checked iat ≤ now + leeway and exp ≥ now − leeway, so
// an honest token also has iat ≥ now − MaxLifetime − leeway: anything older
// would have expired. Checking that lower bound first confines iat to a
// window of MaxLifetime + 2·leeway around now, where iat + MaxLifetime cannot
// overflow, and only then compares exp with it. (Comparing exp − iat
// directly wraps for iat = −6e18, exp = 4e18 and let such a token through.)
func (c *Codec[T]) checkLifetime(wc *wireClaims) error {
	maxLife := int64(c.o.MaxLifetime / time.Second)
	leeway := int64(c.o.Leeway / time.Second)
	now := c.o.Now().Unix()
	// now, maxLife and leeway are small (|now| < 2⁶², durations < 2⁶³ ns
	// < 2³⁴ s), so neither sum below overflows.
	if wc.Iat < now-maxLife-leeway || wc.Iat > now+leeway {
		return fmt.Errorf("%w: iat outside the lifetime window", ErrClaims)
	}
	if wc.Exp > wc.Iat+maxLife {
		return fmt.Errorf("%w: lifetime %ds exceeds maximum %v", ErrClaims, wc.Exp-wc.Iat, c.o.MaxLifetime)
	}
	return nil
}

// classify maps golang-jwt's errors to our reasons. Our own sentinels,
// returned from the key function, take precedence.
func classify(err error) error {
	for _, r := range reasons {
		if errors.Is(err, r.err) {
			return r.err
		}
	}
	switch {
	case errors.Is(err, jwt.ErrTokenMalformed):
		return ErrMalformed
	case errors.Is(err, jwt.ErrTokenSignatureInvalid), errors.Is(err, jwt.ErrTokenUnverifiable):
		// Includes an alg other than EdDSA, refused before any key is used.
		return ErrBadSignature
	case errors.Is(err, jwt.ErrTokenExpired):
		return ErrExpired
	case errors.Is(err, jwt.ErrTokenNotValidYet), errors.Is(err, jwt.ErrTokenUsedBeforeIssued):
		return ErrNotYetValid
	case errors.Is(err, jwt.ErrTokenRequiredClaimMissing):
		return ErrMalformed
	case errors.Is(err, jwt.ErrTokenInvalidIssuer), errors.Is(err, jwt.ErrTokenInvalidAudience), errors.Is(err, jwt.ErrTokenInvalidClaims):
		return ErrClaims
	}
	return ErrMalformed
}

// headerPrefix and headerSuffix surround the kid in the only header sesame
// mints (golang-jwt marshals header maps with sorted keys).
const (
	headerPrefix = `{"alg":"EdDSA","kid":"`
	headerSuffix = `","typ":"at+jwt"}`
	maxKIDLen    = 64
)

// canonicalHeader reports whether seg is exactly base64url of the header
// sesame mints for kid. Comparing bytes, rather than fields, refuses in one
// step every header trick: extra members (jwk, jku, x5u, x5c, crit, b64,
// zip), duplicated or case-variant names, other typ values, whitespace.
func canonicalHeader(seg, kid string) bool {
	if len(kid) == 0 || len(kid) > maxKIDLen {
		return false
	}
	var js [len(headerPrefix) + maxKIDLen + len(headerSuffix)]byte
	n := copy(js[:], headerPrefix)
	n += copy(js[n:], kid)
	n += copy(js[n:], headerSuffix)
	var enc [(len(js)*4 + 2) / 3]byte
	m := base64.RawURLEncoding.EncodedLen(n)
	base64.RawURLEncoding.Encode(enc[:m], js[:n])
	return string(enc[:m]) == seg
}

// randomID returns 128 random bits, base64url: unguessable and, at 2⁶⁴
// tokens, still unlikely to collide.
func randomID(r io.Reader) (string, error) {
	var b [16]byte
	if _, err := io.ReadFull(r, b[:]); err != nil {
		return "", fmt.Errorf("token: reading randomness: %w", err)
	}
	return b64.EncodeToString(b[:]), nil
}

// NewSessionID returns a fresh session id: 128 bits from crypto/rand, base64url.
func NewSessionID() string {
	id, err := randomID(rand.Reader)
	if err != nil {
		panic("token: crypto/rand failed: " + err.Error()) // crypto/rand does not fail on supported platforms
	}
	return id
}
