package auth

import (
	"errors"
	"strings"
	"time"

	"github.com/maypok86/otter/v2"
	"github.com/sesame-go/sesame/keys"
	"github.com/sesame-go/sesame/token"
)

// The verified-token cache.
//
// Verifying an access token costs one Ed25519 verification, one AEAD open
// and two JSON decodes (tens of microseconds); a session makes many requests
// with the same token. The cache maps the exact token string to the session
// it verified to, so a repeat request skips all of that. What a hit still
// does, every time:
//
//   - checks exp against the clock, with the same leeway as a full parse;
//   - checks that the key that signed the token may still verify (a revoked
//     or retired key stops its cached tokens at once, like its fresh ones);
//   - checks the denylist replica (a logout counts at once).
//
// The key is the whole token string, never a prefix, a signature or a hash
// of part of it: base64 is malleable (a signature has several spellings that
// decode alike, and strict decoding only refuses them on a full parse), so
// anything shorter than the exact string could let an altered token ride on
// a verified one. Entries end at the token's exp plus leeway, and the cache
// holds at most Config.CacheSize of them (least useful evicted first).
//
// Memory: an entry holds its own copy of the token string (~810 bytes for a
// reference-sized session),
// the Session with its decoded data, and otter's bookkeeping: 1,704 bytes in
// all for the reference session's strings (BenchmarkCacheMemory), so the
// default 10,000 entries hold about 17 MB.
type tokenCache[T any] struct {
	c *otter.Cache[string, *cachedSession[T]]
}

type cachedSession[T any] struct {
	s        *Session[T]
	deadline time.Time // exp + leeway: refused after this
}

func newTokenCache[T any](size int, now func() time.Time) *tokenCache[T] {
	if size < 0 {
		return nil
	}
	return &tokenCache[T]{c: otter.Must(&otter.Options[string, *cachedSession[T]]{
		MaximumSize: size,
		ExpiryCalculator: otter.ExpiryCreatingFunc(func(e otter.Entry[string, *cachedSession[T]]) time.Duration {
			return max(e.Value.deadline.Sub(now()), time.Millisecond)
		}),
	})}
}

// get returns the cached session for raw, if any, after the time and key
// checks. A cached token that fails them is dropped and reported with the
// same reason a full parse would give.
func (c *tokenCache[T]) get(raw string, now time.Time, ks *keys.Keyset) (*Session[T], *Error) {
	if c == nil {
		return nil, nil
	}
	e, ok := c.c.GetIfPresent(raw)
	if !ok {
		return nil, nil
	}
	if now.After(e.deadline) {
		c.c.Invalidate(raw)
		return nil, unauthorized(token.Reason(token.ErrExpired))
	}
	if _, err := ks.Verifier(e.s.Claims.KeyID); err != nil {
		c.c.Invalidate(raw)
		if errors.Is(err, keys.ErrKeyRevoked) {
			return nil, unauthorized(token.Reason(token.ErrKeyRevoked))
		}
		return nil, unauthorized(token.Reason(token.ErrUnknownKey))
	}
	return e.s, nil
}

func (c *tokenCache[T]) put(raw string, s *Session[T], leeway time.Duration) {
	if c == nil {
		return
	}
	// A copy: raw is cut from the request's Authorization or Cookie header,
	// and a Cookie header can carry kilobytes of other cookies that the
	// entry would otherwise keep alive. (A miss costs a signature check;
	// one copy of the token is nothing next to it.)
	c.c.Set(strings.Clone(raw), &cachedSession[T]{s: s, deadline: s.Claims.ExpiresAt.Add(leeway)})
}
