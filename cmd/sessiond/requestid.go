package main

import (
	"context"
	"crypto/rand"
	"net/http"
	"os"
	"strconv"
	"sync/atomic"

	"github.com/go-chi/chi/v5"
	"github.com/go-chi/chi/v5/middleware"
)

// requestIDHeader carries the request id in and out.
const requestIDHeader = "X-Request-Id"

// maxRequestIDLen bounds a request id taken from the client.
const maxRequestIDLen = 128

// requestIDs gives every request an id: the client's X-Request-Id (a load
// balancer's) when it is short and made of safe characters, else a fresh
// one of the form chi's RequestID makes, host/random-000042 (random: ten
// base62 characters drawn at start, so two processes on one host differ).
// The id is echoed in the X-Request-Id response header, so a user
// reporting a failure can quote it.
//
// The incoming header is attacker-controlled: an overlong or odd value
// would go into every log line of the request, so it is dropped rather
// than trusted.
//
// It does what chi's RequestID middleware did here, in front (one handler
// before the router) with the request's other state: the id is the only
// allocation of its own (BenchmarkHandlerChain), and the response header's
// value lives in the request's context.
type requestIDs struct {
	prefix string
	n      atomic.Uint64
}

func newRequestIDs() *requestIDs {
	host, err := os.Hostname()
	if host == "" || err != nil {
		host = "localhost"
	}
	const base62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
	return &requestIDs{prefix: host + "/" + randomString(base62, 10)}
}

// randomString is n characters drawn uniformly from alphabet (at most 256).
func randomString(alphabet string, n int) string {
	b := make([]byte, 0, n)
	limit := 256 - 256%len(alphabet) // rejection sampling: no bias
	var one [1]byte
	for len(b) < n {
		rand.Read(one[:])
		if int(one[0]) < limit {
			b = append(b, alphabet[int(one[0])%len(alphabet)])
		}
	}
	return string(b)
}

// id is r's request id: the client's, when it is safe, else a fresh one.
func (ids *requestIDs) id(r *http.Request) string {
	if id := r.Header.Get(requestIDHeader); id != "" && safeRequestID(id) {
		return id
	}
	var buf [24]byte
	num := strconv.AppendUint(buf[:0], ids.n.Add(1), 10)
	b := make([]byte, 0, len(ids.prefix)+1+max(6, len(num)))
	b = append(append(b, ids.prefix...), '-')
	for range 6 - len(num) {
		b = append(b, '0')
	}
	return string(append(b, num...))
}

func safeRequestID(id string) bool {
	if len(id) > maxRequestIDLen {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_' || c == '.' || c == '/' || c == ':') {
			return false
		}
	}
	return true
}

type requestIDKey struct{}

// idContext is a request's context under front: it carries the request
// id, the response header's value, and chi's routing context (in place of
// the context.WithValue and request copy chi's router would make).
type idContext struct {
	context.Context
	id   string
	hdr  [1]string
	rctx *chi.Context
}

func (c *idContext) Value(key any) any {
	switch key {
	case requestIDKey{}:
		return c
	case middleware.RequestIDKey: // chi's GetReqID keeps working
		return c.id
	case chi.RouteCtxKey:
		if c.rctx != nil {
			return c.rctx
		}
	}
	return c.Context.Value(key)
}

// requestIDFrom returns the request id in ctx, or "".
func requestIDFrom(ctx context.Context) string {
	if ctx == nil {
		return ""
	}
	if c, ok := ctx.Value(requestIDKey{}).(*idContext); ok {
		return c.id
	}
	return ""
}
