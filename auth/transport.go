package auth

import (
	"net"
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
func singleCookie(r *http.Request, name string) (string, *Error) {
	val, n := cookieValue(r.Header["Cookie"], name)
	switch {
	case n == 0 || n == 1 && val == "":
		return "", unauthorized(CodeUnauthenticated)
	case n > 1:
		return "", unauthorized("malformed")
	}
	return val, nil
}

// cookieValue returns the value of the last cookie named name in the Cookie
// header lines, and how many there are.
//
// It reads the Cookie header itself instead of through r.CookiesNamed, which
// validates every byte of every cookie and allocates them all: on a cache
// hit that was most of the cost of the cookie transport. The value is not
// checked here; it is an exact-string cache key or goes to the strict parser.
func cookieValue(lines []string, name string) (val string, n int) {
	for _, line := range lines {
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
	return val, n
}

// refreshCookie returns the refresh token of a cookie-transport request.
//
// Two refresh cookies mean that one was planted, and a browser sends both
// with nothing to tell them apart but their order (longest path first, which
// the planter chooses). Both are refused, as singleCookie refuses them; and
// since a refusal alone would lock the user out for as long as the planted
// cookie lives (every refresh, and every login's new cookie, would meet it
// again), the answer also expires every cookie of that name the request
// could have carried: see clearTossed.
//
// With the default __Host- refresh cookie no other host can plant one
// (browsers refuse a __Host- cookie with a Domain, or from another host),
// so this only happens with a Domain (Config.CookieDomain) or a name of
// one's own.
func (m *Manager[T]) refreshCookie(w http.ResponseWriter, r *http.Request) (string, *Error) {
	v, e := singleCookie(r, m.cfg.RefreshCookieName)
	if e != nil && e.Code == "malformed" { // two or more
		m.clearCookies(w)
		m.clearTossed(w, r)
	}
	return v, e
}

// maxTossedPaths and maxTossedDomains bound the Set-Cookie headers of
// clearTossed (at most their product); a request path or a host name
// deeper than that is unusual and only limits what is cleared.
const (
	maxTossedPaths   = 6
	maxTossedDomains = 6
)

// clearTossed expires the refresh cookie under every Domain and Path a
// planted copy that reached this request could have: a browser replaces (and
// so expires) only a cookie of the same name, domain and path, and sends
// only cookies whose path is a prefix of the request's path and whose domain
// is the host or one of its parents. Headers for domains the browser will not
// take from this host (a public suffix) are ignored by it. A __Host- name
// has no other variant than the one clearCookies expires.
func (m *Manager[T]) clearTossed(w http.ResponseWriter, r *http.Request) {
	name := m.cfg.RefreshCookieName
	if hostPrefixed(name) {
		return
	}
	host := r.Host
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	domains := []string{""} // host-only
	if net.ParseIP(host) == nil {
		for d := host; strings.Contains(d, ".") && len(domains) <= maxTossedDomains; {
			domains = append(domains, d)
			_, d, _ = strings.Cut(d, ".")
		}
	}
	paths := []string{"/"}
	for i := 1; i < len(r.URL.Path) && len(paths) < maxTossedPaths; i++ {
		if r.URL.Path[i] == '/' {
			paths = append(paths, r.URL.Path[:i])
		}
	}
	if p := r.URL.Path; p != "/" && len(paths) < maxTossedPaths {
		paths = append(paths, strings.TrimSuffix(p, "/"))
	}
	for _, d := range domains {
		for _, p := range paths {
			http.SetCookie(w, &http.Cookie{Name: name, Value: "", Path: p, Domain: d, MaxAge: -1,
				Secure: !m.cfg.Insecure, HttpOnly: true, SameSite: http.SameSiteStrictMode})
		}
	}
}

// appRequest is r as an application handler behind the middleware gets it:
// with the session s (if not nil) in its context, and without the refresh
// cookie in its Cookie header. A __Host- refresh cookie has Path=/, so
// browsers send it with every request, but only the auth endpoints need it;
// a handler that logs or echoes request headers then cannot leak a token
// that lives for weeks. r itself is not changed.
func (m *Manager[T]) appRequest(r *http.Request, s *Session[T]) *http.Request {
	h, hidden := withoutCookie(r.Header, m.cfg.RefreshCookieName)
	switch {
	case s != nil:
		r = r.WithContext(withSession(r.Context(), s))
	case hidden:
		r2 := *r
		r = &r2
	default:
		return r
	}
	if hidden {
		r.Header = h
	}
	return r
}

// withoutCookie returns a copy of h without the cookies named name, and
// whether there were any (h itself when there were none).
func withoutCookie(h http.Header, name string) (http.Header, bool) {
	if _, n := cookieValue(h["Cookie"], name); n == 0 {
		return h, false
	}
	var kept []string
	for _, line := range h["Cookie"] {
		var b strings.Builder
		for line != "" {
			var part string
			part, line, _ = strings.Cut(line, ";")
			part = strings.TrimSpace(part)
			if k, _, _ := strings.Cut(part, "="); k == name || part == "" {
				continue
			}
			if b.Len() > 0 {
				b.WriteString("; ")
			}
			b.WriteString(part)
		}
		if b.Len() > 0 {
			kept = append(kept, b.String())
		}
	}
	out := make(http.Header, len(h))
	for k, v := range h {
		out[k] = v
	}
	if len(kept) == 0 {
		delete(out, "Cookie")
	} else {
		out["Cookie"] = kept
	}
	return out, true
}

// hostPrefixed reports whether a cookie name has the __Host- prefix.
func hostPrefixed(name string) bool { return strings.HasPrefix(name, "__Host-") }

// refreshPath is the refresh cookie's Path: / for a __Host- cookie (the
// prefix requires it), Config.RefreshCookiePath otherwise.
func (m *Manager[T]) refreshPath() string {
	if hostPrefixed(m.cfg.RefreshCookieName) {
		return "/"
	}
	return m.cfg.RefreshCookiePath
}

// Cookie attributes, and why:
//   - access cookie: __Host- prefix (Secure, Path=/, no Domain: no subdomain
//     can set or shadow it), HttpOnly (script cannot read it, so XSS cannot
//     exfiltrate it), SameSite=Lax (not sent on cross-site subrequests or
//     POSTs; top-level navigation still works).
//   - refresh cookie: __Host- prefix, HttpOnly, SameSite=Strict (never sent
//     cross-site at all). __Host- binds it to this host: no sibling
//     subdomain can plant one (which would swap a signed-out victim into
//     the planter's session) or a second one (which would lock the victim
//     out). The price is Path=/, which the prefix requires, so browsers send
//     it with every request to the host, not only to /auth; the middleware
//     takes it out of the request before an application handler sees it
//     (appRequest), and only the auth endpoints read it.
//     With Config.CookieDomain the cookie is shared across the domain, so it
//     is __Secure- with a Domain and Path=/auth (sent only to the auth
//     endpoints), and duplicates are refused and cleared (refreshCookie).
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
		Name: m.cfg.RefreshCookieName, Value: refresh, Path: m.refreshPath(), Domain: m.cfg.CookieDomain,
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
	http.SetCookie(w, &http.Cookie{Name: m.cfg.RefreshCookieName, Value: "", Path: m.refreshPath(),
		Domain: m.cfg.CookieDomain, MaxAge: -1, Secure: !m.cfg.Insecure, HttpOnly: true, SameSite: http.SameSiteStrictMode})
}
