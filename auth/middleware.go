package auth

import "net/http"

// Require returns middleware that admits only requests with a valid,
// unrevoked session (401 otherwise; 503 if the denylist cannot vouch), puts
// the session in the request context ([FromContext]) and refuses
// cross-origin state-changing requests (403).
func (m *Manager[T]) Require() func(http.Handler) http.Handler {
	return m.middleware(m.verify, true)
}

// Optional returns middleware that puts a valid session in the context when
// there is one and lets every request through. Revoked or invalid tokens are
// treated as no session; a denylist outage is still a 503, so a user is
// never silently treated as logged out.
func (m *Manager[T]) Optional() func(http.Handler) http.Handler {
	return m.middleware(m.verify, false)
}

// Strict is Require plus a denylist read from the store itself (Redis), for
// routes where a revocation must count the instant it is written: payments,
// password and e-mail changes. It costs one store round trip; a store outage
// is a 503.
func (m *Manager[T]) Strict() func(http.Handler) http.Handler {
	return m.middleware(m.verifyStrict, true)
}

func (m *Manager[T]) middleware(verify func(*http.Request) (*Session[T], *Error), required bool) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if err := m.cop.Check(r); err != nil {
				m.fail(w, r, &Error{Status: http.StatusForbidden, Code: CodeForbidden, Message: "cross-origin request refused"})
				return
			}
			s, e := verify(r)
			if e != nil {
				if required || e.Status != http.StatusUnauthorized {
					m.fail(w, r, e)
					return
				}
				next.ServeHTTP(w, m.appRequest(r, nil))
				return
			}
			next.ServeHTTP(w, m.appRequest(r, s))
		})
	}
}
