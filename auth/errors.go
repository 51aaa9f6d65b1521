package auth

import (
	"encoding/json"
	"errors"
	"net/http"
	"strconv"

	"github.com/sesame-go/sesame/revocation"
)

// Error is an error response: an HTTP status, a stable code and a human
// message. Codes are the token reason codes ("expired", "bad_signature", ...)
// plus the ones below. Messages never contain tokens or secrets.
type Error struct {
	Status  int    `json:"-"`
	Code    string `json:"error"`
	Message string `json:"message"`
	// RetryAfter, when positive, is sent as the Retry-After header (seconds).
	RetryAfter int `json:"-"`
}

func (e *Error) Error() string { return "auth: " + e.Code + ": " + e.Message }

// Codes that are not token reasons.
const (
	CodeUnauthenticated    = "unauthenticated"     // no token presented
	CodeRevoked            = "revoked"             // token's session, id or user revoked
	CodeInvalidCredentials = "invalid_credentials" // login refused
	CodeInvalidRefresh     = "invalid_refresh_token"
	CodeRefreshExpired     = "refresh_expired"
	CodeRefreshReused      = "refresh_token_reused"
	CodeRateLimited        = "rate_limited"
	CodeUnavailable        = "unavailable" // store or replica unavailable: retry
	CodeBadRequest         = "bad_request"
	CodeTooLarge           = "request_too_large"
	CodeNotFound           = "not_found"
	CodeForbidden          = "forbidden" // cross-origin request refused
	CodeSessionLimit       = "session_limit"
	CodeTransport          = "transport_not_allowed"
	CodeInternal           = "internal_error"
)

// retryAfterUnavailable is the Retry-After sent with 503: long enough for a
// Redis failover or restart, short enough that clients do not give up.
const retryAfterUnavailable = 2

func errUnavailable() *Error {
	return &Error{Status: http.StatusServiceUnavailable, Code: CodeUnavailable,
		Message: "session store temporarily unavailable, retry", RetryAfter: retryAfterUnavailable}
}

func errBadRequest(msg string) *Error {
	return &Error{Status: http.StatusBadRequest, Code: CodeBadRequest, Message: msg}
}

// unauthorized is the one 401 body per code. The message is fixed per code so
// that responses do not differ in ways an attacker could learn from.
func unauthorized(code string) *Error {
	return &Error{Status: http.StatusUnauthorized, Code: code, Message: "authentication required"}
}

// JSONError writes e as sesame does by default (Config.ErrorHandler nil):
// the JSON body {"error": code, "message": text}, WWW-Authenticate on a 401,
// Retry-After when e has one, and Cache-Control: no-store and
// X-Content-Type-Options: nosniff. An ErrorHandler that handles some errors
// its own way (a redirect to a login page) can hand the rest to it.
func JSONError(w http.ResponseWriter, _ *http.Request, e *Error) {
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	if e.RetryAfter > 0 {
		h.Set("Retry-After", strconv.Itoa(e.RetryAfter))
	}
	if e.Status == http.StatusUnauthorized {
		h.Set("WWW-Authenticate", `Bearer error="invalid_token"`)
	}
	w.WriteHeader(e.Status)
	json.NewEncoder(w).Encode(e)
}

// storeFailure is the answer to a store failure: 503 with Retry-After,
// never a 401 that would log the user out. A failure other than the store
// being unreachable is logged.
func (m *Manager[T]) storeFailure(r *http.Request, err error) *Error {
	if !errors.Is(err, revocation.ErrUnavailable) {
		m.cfg.Logger.ErrorContext(r.Context(), "auth: session store error", "err", err)
	}
	return errUnavailable()
}

func (m *Manager[T]) storeError(w http.ResponseWriter, r *http.Request, err error) {
	m.fail(w, r, m.storeFailure(r, err))
}

// WriteError writes err as the middleware and the auth endpoints write
// theirs (Config.ErrorHandler; by default the JSON body, with
// WWW-Authenticate on a 401, Retry-After on a 503 and 429, no-store and
// nosniff). An [*Error] is written as it is; an error from the store being
// unreachable (revocation.ErrUnavailable) is a 503; anything else is a 500
// that says nothing of its cause, which is logged.
func (m *Manager[T]) WriteError(w http.ResponseWriter, r *http.Request, err error) {
	var e *Error
	switch {
	case errors.As(err, &e):
	case errors.Is(err, revocation.ErrUnavailable):
		e = errUnavailable()
	default:
		m.cfg.Logger.ErrorContext(r.Context(), "auth: request failed", "err", err)
		e = &Error{Status: http.StatusInternalServerError, Code: CodeInternal, Message: "internal error"}
	}
	m.fail(w, r, e)
}

func (m *Manager[T]) fail(w http.ResponseWriter, r *http.Request, e *Error) {
	if ow, ok := w.(*outcomeWriter); ok {
		ow.code = e.Code
	}
	if e.RetryAfter > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(e.RetryAfter))
	}
	m.cfg.ErrorHandler(w, r, e)
}
