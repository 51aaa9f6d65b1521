package auth

import (
	"encoding/json"
	"errors"
	"io"
	"mime"
	"net/http"
	"strings"
	"time"

	"github.com/go-chi/chi/v5"
)

// maxBody bounds request bodies of the auth endpoints: credentials and a
// refresh token fit in far less; anything larger is refused with 413 before
// it is decoded.
const maxBody = 64 << 10

// Routes returns the auth endpoints, to mount under /auth (with
// Config.CookieDomain, the refresh cookie's path; see
// Config.RefreshCookiePath):
//
//	r.Mount("/auth", m.Routes())
//
//	POST   /login          credentials → new session        200
//	POST   /refresh        refresh token → new token pair   200
//	POST   /logout         end this session                 204
//	POST   /logout-all     end every session of the user    204
//	GET    /session        this session's claims and data   200
//	GET    /sessions       the user's sessions (devices)    200
//	DELETE /sessions/{sid} end one of the user's sessions   204
//	*      /verify         forward auth for a proxy         200 + X-Sesame-* headers
//	GET    /login          the sign-in page (Accept: text/html)
//	POST   /introspect     RFC 7662 token introspection     200 (404 unless configured)
//
// State-changing routes refuse cross-origin browser requests (403); /verify
// applies that rule to the request it is asked about ([Manager.ForwardAuth]).
// No GET changes state; there is no GET /logout.
func (m *Manager[T]) Routes() chi.Router {
	r := chi.NewRouter()
	// Forward auth judges the cross-origin rules on the request it is
	// asked about, not on its own (see ForwardAuth).
	r.HandleFunc("/verify", m.forwardAuth)
	r.HandleFunc("/verify/*", m.forwardAuth) // Envoy ext_authz appends the original path
	r.Group(func(r chi.Router) {
		r.Use(m.cop.Handler)
		r.Post("/login", m.login)
		r.Get("/login", m.signInPage)
		r.Post("/refresh", m.refresh)
		r.Post("/logout", m.logout)
		r.Post("/logout-all", m.logoutAll)
		r.Get("/session", m.session)
		r.Get("/sessions", m.sessions)
		r.Delete("/sessions/{sid}", m.endSession)
		r.Post("/introspect", m.introspect)
	})
	r.NotFound(func(w http.ResponseWriter, r *http.Request) {
		m.fail(w, r, &Error{Status: http.StatusNotFound, Code: CodeNotFound, Message: "no such endpoint"})
	})
	r.MethodNotAllowed(func(w http.ResponseWriter, r *http.Request) {
		m.fail(w, r, &Error{Status: http.StatusMethodNotAllowed, Code: CodeBadRequest, Message: "method not allowed"})
	})
	return r
}

// decodeJSON reads one JSON object of at most maxBody bytes into v.
func decodeJSON(w http.ResponseWriter, r *http.Request, v any) *Error {
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || mt != "application/json" {
		return errBadRequest("Content-Type must be application/json")
	}
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxBody))
	if err := dec.Decode(v); err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			return &Error{Status: http.StatusRequestEntityTooLarge, Code: CodeTooLarge, Message: "request body too large"}
		}
		return errBadRequest("body must be a JSON object")
	}
	if _, err := dec.Token(); err != io.EOF {
		return errBadRequest("body must hold one JSON object")
	}
	return nil
}

// responseTransport decides how login and refresh hand out tokens.
func (m *Manager[T]) responseTransport(r *http.Request) (header bool, e *Error) {
	header = strings.EqualFold(r.Header.Get(TransportHeader), "header")
	if header && m.cfg.Transports&HeaderTransport == 0 || !header && m.cfg.Transports&CookieTransport == 0 {
		return header, &Error{Status: http.StatusBadRequest, Code: CodeTransport, Message: "transport not allowed"}
	}
	return header, nil
}

type tokenResponse struct {
	AccessToken      string `json:"access_token"`
	TokenType        string `json:"token_type"`
	ExpiresIn        int    `json:"expires_in"`
	RefreshToken     string `json:"refresh_token"`
	RefreshExpiresIn int    `json:"refresh_expires_in"`
	// DeviceToken, at login, is the device token to send back as
	// "device_token" in the next login (see device.go).
	DeviceToken string `json:"device_token,omitempty"`
}

type cookieResponse struct {
	SessionID        string `json:"sid"`
	Subject          string `json:"sub"`
	ExpiresIn        int    `json:"expires_in"`
	RefreshExpiresIn int    `json:"refresh_expires_in"`
}

func (m *Manager[T]) respondTokens(w http.ResponseWriter, header bool, is issued, uid string, remember bool) {
	now := m.cfg.Now()
	access, refresh, fam := is.access, is.refresh, is.fam
	expIn := int(is.exp.Sub(now).Round(time.Second) / time.Second)
	refreshIn := int(fam.Expires().Sub(now).Round(time.Second) / time.Second)
	h := w.Header()
	h.Set("Cache-Control", "no-store")
	h.Set("Pragma", "no-cache")
	h.Set("Content-Type", "application/json")
	var body any
	if header {
		body = tokenResponse{AccessToken: access, TokenType: "Bearer", ExpiresIn: expIn, RefreshToken: refresh, RefreshExpiresIn: refreshIn,
			DeviceToken: is.device}
	} else {
		if is.device != "" {
			m.setDeviceCookie(w, is.device)
		}
		m.setCookies(w, access, is.exp, refresh, fam.Expires(), remember)
		body = cookieResponse{SessionID: fam.SessionID, Subject: uid, ExpiresIn: expIn, RefreshExpiresIn: refreshIn}
	}
	w.WriteHeader(http.StatusOK)
	json.NewEncoder(w).Encode(body)
}

func writeJSON(w http.ResponseWriter, v any) {
	jsonHeaders(w.Header())
	w.WriteHeader(http.StatusOK)
	json.NewEncoder(w).Encode(v)
}

// jsonHeaders sets the headers of a JSON answer as writeJSON's
// h.Set("Content-Type", "application/json") and h.Set("Cache-Control",
// "no-store") would, without a new []string for each on every request. The
// values are shared by every answer: a Header's values are replaced or
// appended to (a new array: these have no spare capacity), never written
// in place.
func jsonHeaders(h http.Header) {
	h["Content-Type"] = contentTypeJSON
	h["Cache-Control"] = noStore
}

var (
	contentTypeJSON = []string{"application/json"}
	noStore         = []string{"no-store"}
)

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n]
}
