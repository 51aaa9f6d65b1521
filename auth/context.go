package auth

import (
	"context"

	"github.com/sesame-go/sesame/token"
)

// Session is a verified session, as seen by a protected handler.
//
// A Session is shared, read-only, by every request that carries the same
// access token (see the verified-token cache): a handler must not modify it
// or anything Data points to (slices, maps). Change session data with
// [Manager.Update].
type Session[T any] struct {
	// Claims are the access token's verified clear claims: the session id
	// is Claims.SessionID, the expiry Claims.ExpiresAt.
	Claims token.Claims
	// UserID is the authenticated user.
	UserID string
	// Data is the application's session data from the sealed payload.
	Data T

	// familyID names the refresh family: revocation.DeriveFamilyID(UserID, sid),
	// or the id carried by a token of a family made before ids were derived.
	familyID string
	// enc holds the session's answers, each encoded on first use: the
	// Session is shared by every request with its token (the verified-token
	// cache), so a cache hit encodes nothing.
	enc *encodings
}

// encodings are a verified session's encoded answers: forward auth's
// identity headers and the GET /session body. One allocation per verified
// token; each is made by the first request that needs it.
type encodings struct {
	header headerValues
	body   encodedBody
}

// encodings returns s's encodings, or fresh ones for a Session built
// outside verify (encoded on every call, never wrong).
func (s *Session[T]) encodings() *encodings {
	if s.enc != nil {
		return s.enc
	}
	return new(encodings)
}

// ctxKey is private: only this package can put a session in a context.
type ctxKey struct{}

// FromContext returns the session that Require, Optional or Strict put in
// ctx. ok is false when there is none; it never panics.
func FromContext[T any](ctx context.Context) (s *Session[T], ok bool) {
	s, ok = ctx.Value(ctxKey{}).(*Session[T])
	return s, ok && s != nil
}

func withSession[T any](ctx context.Context, s *Session[T]) context.Context {
	return context.WithValue(ctx, ctxKey{}, s)
}
