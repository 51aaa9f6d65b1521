package token

import (
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// Claims are the clear claims of an access token, as verified.
type Claims struct {
	KeyID     string    // header kid: the key generation that signed
	Issuer    string    // iss
	Audience  string    // aud
	IssuedAt  time.Time // iat
	NotBefore time.Time // nbf
	ExpiresAt time.Time // exp
	ID        string    // jti: 128 random bits, base64url
	SessionID string    // sid: the session this token belongs to
}

// wireClaims is the JSON body of the JWS. Times are integer seconds: a
// fractional or out-of-range value fails to decode and the token is
// malformed, which is stricter than jwt.NumericDate and allocation-free.
// A zero time means the claim is absent.
type wireClaims struct {
	Iss string `json:"iss"`
	Aud string `json:"aud"`
	Iat int64  `json:"iat"`
	Nbf int64  `json:"nbf"`
	Exp int64  `json:"exp"`
	Jti string `json:"jti"`
	Sid string `json:"sid"`
	Enc string `json:"enc"`

	// scratch for the jwt.Claims getters, so they return pointers into the
	// claims instead of allocating.
	exp, iat, nbf jwt.NumericDate
	aud           [1]string
}

var _ jwt.Claims = (*wireClaims)(nil)

func numericDate(dst *jwt.NumericDate, sec int64) *jwt.NumericDate {
	if sec == 0 {
		return nil
	}
	dst.Time = time.Unix(sec, 0)
	return dst
}

func (c *wireClaims) GetExpirationTime() (*jwt.NumericDate, error) {
	return numericDate(&c.exp, c.Exp), nil
}
func (c *wireClaims) GetIssuedAt() (*jwt.NumericDate, error)  { return numericDate(&c.iat, c.Iat), nil }
func (c *wireClaims) GetNotBefore() (*jwt.NumericDate, error) { return numericDate(&c.nbf, c.Nbf), nil }
func (c *wireClaims) GetIssuer() (string, error)              { return c.Iss, nil }
func (c *wireClaims) GetSubject() (string, error)             { return "", nil }
func (c *wireClaims) GetAudience() (jwt.ClaimStrings, error) {
	if c.Aud == "" {
		return nil, nil
	}
	c.aud[0] = c.Aud
	return c.aud[:], nil
}

func (c *wireClaims) public(kid string) Claims {
	return Claims{
		KeyID:     kid,
		Issuer:    c.Iss,
		Audience:  c.Aud,
		IssuedAt:  time.Unix(c.Iat, 0).UTC(),
		NotBefore: time.Unix(c.Nbf, 0).UTC(),
		ExpiresAt: time.Unix(c.Exp, 0).UTC(),
		ID:        c.Jti,
		SessionID: c.Sid,
	}
}
