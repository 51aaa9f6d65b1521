package auth

import (
	"net/http"
	"strings"
	"time"
)

// TransportHeader selects the header transport for login and refresh
// responses: "X-Session-Transport: header".
const TransportHeader = "X-Session-Transport"

// Which transport a request uses, and why it is never mixed:
//
//   - A request with an Authorization header, or with X-Session-Transport:
//     header, is a header-transport request: the token comes from
//     "Authorization: Bearer" only, and cookies are ignored.
//   - Any other request is a cookie-transport request: the token comes from
//     the access cookie only.
//
// Taking the token from exactly one place means a planted cookie can never
// override a bearer token (or the reverse), and a request cannot carry two
// identities. Tokens in the query string or a form body are never read: they
// leak into logs, history and Referer headers.
func wantsHeader(r *http.Request) bool {
	return len(r.Header.Values("Authorization")) > 0 || strings.EqualFold(r.Header.Get(TransportHeader), "header")
}

// accessToken extracts the access token from the request's transport.
func (m *Manager[T]) accessToken(r *http.Request) (string, *Error) {
	if wantsHeader(r) {
		if m.cfg.Transports&HeaderTransport == 0 {
			return "", &Error{Status: http.StatusBadRequest, Code: CodeTransport, Message: "header transport not allowed"}
		}
		vals := r.Header.Values("Authorization")
		switch len(vals) {
		case 0:
			return "", unauthorized(CodeUnauthenticated)
		case 1:
		default:
			return "", unauthorized("malformed")
		}
		raw, ok := bearer(vals[0])
		if !ok {
			return "", unauthorized("malformed")
		}
		return raw, nil
	}
	if m.cfg.Transports&CookieTransport == 0 {
		return "", unauthorized(CodeUnauthenticated)
	}
	return singleCookie(r, m.cfg.CookieName)
}

// bearer parses "Bearer <token>" (scheme case-insensitive, RFC 7235) with
// exactly one space. The token's characters are not checked here: a cache
// hit means the exact string was verified before, and a miss is checked by
// validToken before parsing, so a second token, a comma list, tabs or
// trailing junk are all refused as malformed either way.
func bearer(v string) (string, bool) {
	const scheme = "bearer "
	if len(v) <= len(scheme) || !strings.EqualFold(v[:len(scheme)], scheme) {
		return "", false
	}
	return v[len(scheme):], true
}

// tokenChars are the bytes a compact JWS may hold: base64url and '.'.
var tokenChars = func() (t [256]bool) {
	for _, c := range []byte("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.") {
		t[c] = true
	}
	return t
}()

// validToken reports whether s holds only compact-JWS characters.
func validToken(s string) bool {
	for i := 0; i < len(s); i++ {
		if !tokenChars[s[i]] {
			return false
		}
	}
	return true
}

// singleCookie returns the value of the one cookie named name. Two cookies
// with the name (cookie tossing from a sibling domain, or a planted duplicate)
// are refused rather than guessed between.
//
// It reads the Cookie header itself instead of through r.CookiesNamed, which
// validates every byte of every cookie and allocates them all: on a cache
// hit that was most of the cost of the cookie transport. The value is not
// checked here; it is an exact-string cache key or goes to the strict parser.
func singleCookie(r *http.Request, name string) (string, *Error) {
	var val string
	n := 0
	for _, line := range r.Header["Cookie"] {
		for line != "" {
			var part string
			part, line, _ = strings.Cut(line, ";")
			k, v, ok := strings.Cut(strings.TrimSpace(part), "=")
			if ok && k == name {
				n++
				val = v
			}
		}
	}
	switch {
	case n == 0 || n == 1 && val == "":
		return "", unauthorized(CodeUnauthenticated)
	case n > 1:
		return "", unauthorized("malformed")
	}
	return val, nil
}

// Cookie attributes, and why:
//   - access cookie: __Host- prefix (Secure, Path=/, no Domain: no subdomain
//     can set or shadow it), HttpOnly (script cannot read it, so XSS cannot
//     exfiltrate it), SameSite=Lax (not sent on cross-site subrequests or
//     POSTs; top-level navigation still works).
//   - refresh cookie: __Secure- prefix, Path=/auth (sent only to the auth
//     endpoints, never to application routes), HttpOnly, SameSite=Strict
//     (never sent cross-site at all).
//
// A session that did not ask to be remembered gets browser-session cookies
// (no Max-Age); a remembered one keeps its refresh cookie until the
// session's absolute expiry.
func (m *Manager[T]) setCookies(w http.ResponseWriter, access string, accessExp time.Time, refresh string, refreshExp time.Time, remember bool) {
	now := m.cfg.Now()
	ac := &http.Cookie{
		Name: m.cfg.CookieName, Value: access, Path: "/",
		Secure: !m.cfg.Insecure, HttpOnly: true, SameSite: http.SameSiteLaxMode,
	}
	if remember {
		ac.MaxAge = int(accessExp.Sub(now)/time.Second) + int(m.leeway()/time.Second)
	}
	http.SetCookie(w, ac)
	if refresh == "" {
		return
	}
	rc := &http.Cookie{
		Name: m.cfg.RefreshCookieName, Value: refresh, Path: m.cfg.RefreshCookiePath, Domain: m.cfg.CookieDomain,
		Secure: !m.cfg.Insecure, HttpOnly: true, SameSite: http.SameSiteStrictMode,
	}
	if remember {
		rc.MaxAge = max(1, int(refreshExp.Sub(now)/time.Second))
	}
	http.SetCookie(w, rc)
}

// clearCookies expires both cookies with the attributes they were set with
// (a browser only replaces a cookie with the same name, path and domain).
func (m *Manager[T]) clearCookies(w http.ResponseWriter) {
	http.SetCookie(w, &http.Cookie{Name: m.cfg.CookieName, Value: "", Path: "/", MaxAge: -1,
		Secure: !m.cfg.Insecure, HttpOnly: true, SameSite: http.SameSiteLaxMode})
	http.SetCookie(w, &http.Cookie{Name: m.cfg.RefreshCookieName, Value: "", Path: m.cfg.RefreshCookiePath,
		Domain: m.cfg.CookieDomain, MaxAge: -1, Secure: !m.cfg.Insecure, HttpOnly: true, SameSite: http.SameSiteStrictMode})
}
