package token

import "errors"

// Every error returned by [Codec.Parse] wraps exactly one of these reasons.
// [Reason] turns an error into the stable code used in logs, metrics and
// HTTP error bodies. No error ever contains the token or key material.
var (
	// ErrMalformed: not a compact JWS of the expected shape (segments,
	// base64, JSON, header fields, missing claims).
	ErrMalformed = errors.New("token: malformed")
	// ErrTooLarge: the token exceeds the size bound, checked before decoding.
	ErrTooLarge = errors.New("token: too large")
	// ErrBadSignature: the algorithm is not EdDSA or the signature does not
	// verify under the named key.
	ErrBadSignature = errors.New("token: bad signature")
	// ErrUnknownKey: the kid names no key that may verify.
	ErrUnknownKey = errors.New("token: unknown key")
	// ErrKeyRevoked: the kid names a revoked key.
	ErrKeyRevoked = errors.New("token: key revoked")
	// ErrExpired: past exp, beyond the leeway.
	ErrExpired = errors.New("token: expired")
	// ErrNotYetValid: before nbf or iat, beyond the leeway.
	ErrNotYetValid = errors.New("token: not yet valid")
	// ErrClaims: a clear claim is missing or wrong (iss, aud, jti, sid, a
	// lifetime longer than allowed).
	ErrClaims = errors.New("token: invalid claims")
	// ErrDecrypt: the sealed payload does not open or does not decode.
	ErrDecrypt = errors.New("token: payload cannot be opened")
	// ErrPayloadTooLarge is returned by Mint when the encoded payload is
	// larger than Options.MaxPayloadSize. It is never a parse reason.
	ErrPayloadTooLarge = errors.New("token: payload too large")
)

var reasons = [...]struct {
	err  error
	code string
}{
	{ErrMalformed, "malformed"},
	{ErrTooLarge, "too_large"},
	{ErrBadSignature, "bad_signature"},
	{ErrUnknownKey, "unknown_key"},
	{ErrKeyRevoked, "key_revoked"},
	{ErrExpired, "expired"},
	{ErrNotYetValid, "not_yet_valid"},
	{ErrClaims, "invalid_claims"},
	{ErrDecrypt, "bad_payload"},
	{ErrPayloadTooLarge, "payload_too_large"},
}

// Reason returns the stable reason code of err ("expired", "bad_signature",
// ...), "" for nil, and "invalid_token" for an error that wraps no reason.
func Reason(err error) string {
	if err == nil {
		return ""
	}
	for _, r := range reasons {
		if errors.Is(err, r.err) {
			return r.code
		}
	}
	return "invalid_token"
}

// Reasons lists every code Reason can return for a parse failure, for
// metrics that must pre-declare their label values.
func Reasons() []string {
	out := make([]string, 0, len(reasons))
	for _, r := range reasons {
		if r.err != ErrPayloadTooLarge {
			out = append(out, r.code)
		}
	}
	return append(out, "invalid_token")
}
