package auth

import (
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"sync"

	"github.com/go-chi/chi/v5"
)

// ForwardAuth returns the forward-auth handler that [Manager.Routes] mounts
// at /verify, for a proxy's auth subrequest (nginx auth_request, Traefik
// ForwardAuth, Caddy forward_auth, Envoy ext_authz). It answers any method,
// reads the credential as [Manager.Require] does (the access cookie, or
// Authorization: Bearer under the same transport rules), verifies it
// locally, and answers:
//
//   - 200, no body, with the identity headers (Config.Gateway.Headers):
//     X-Sesame-User (the user id), X-Sesame-Session (the session id),
//     X-Sesame-Expires (the access token's exp, Unix seconds) and
//     X-Sesame-Data (the session data as JSON, base64url without padding;
//     past Config.Gateway.MaxDataHeader it is left out and
//     X-Sesame-Data-Omitted: 1 is sent);
//   - 401 with the JSON error body and WWW-Authenticate for a missing,
//     malformed, expired or revoked token, or one signed by a revoked key.
//     When the original request is a browser navigation and its URL is
//     known, the 401 also carries Location: the sign-in page with rd set to
//     that URL, for the proxy to redirect to (nginx: auth_request_set). With
//     the query parameter redirect=1 (/auth/verify?redirect=1, for proxies
//     that hand the answer to the client as it is: Traefik, Caddy), or the
//     header X-Sesame-Redirect: 1 from a trusted proxy (Envoy), such a
//     navigation gets that 302 instead of the 401;
//   - 403 when the original request is state-changing and cross-origin,
//     by the rules of the rest of sesame (Sec-Fetch-Site, then Origin
//     against the host; Config.TrustedOrigins);
//   - 503 with Retry-After when the denylist cannot vouch for the token (a
//     stale replica under fail-closed).
//
// The original request is described by a proxy in Config.Gateway.TrustedProxies
// with X-Forwarded-Method or X-Original-Method, X-Forwarded-Host,
// X-Forwarded-Uri or X-Original-URI, or (Envoy's ext_authz, which appends
// the original path to its path_prefix) the path after /verify/; headers
// that disagree are refused (403). From any other peer these are ignored,
// and the verify request is taken as the original one. Its Origin,
// Sec-Fetch-Site, Sec-Fetch-Mode, Accept and credential headers are the ones
// the proxy copied from the client.
//
// On a verified-token cache hit, a verify costs what Require does plus four
// headers and one JSON encoding of the data.
func (m *Manager[T]) ForwardAuth() http.Handler { return http.HandlerFunc(m.forwardAuth) }

func (m *Manager[T]) forwardAuth(w http.ResponseWriter, r *http.Request) {
	o, e := m.original(r)
	if e != nil {
		m.fail(w, r, e)
		return
	}
	if !safeMethod(o.method) {
		// The cross-origin rules apply to the request the proxy is about to
		// forward, not to this subrequest: judge a copy that has its method
		// and host. Everything else the rules read (Origin, Sec-Fetch-Site)
		// the proxy copied from the client.
		orig := *r
		orig.Method, orig.Host = o.method, o.host
		if err := m.cop.Check(&orig); err != nil {
			m.fail(w, r, &Error{Status: http.StatusForbidden, Code: CodeForbidden, Message: "cross-origin request refused"})
			return
		}
	}
	s, e := m.verify(r)
	if e != nil {
		if e.Status == http.StatusUnauthorized && o.uri != "" && navigation(r, o.method) {
			loc := m.cfg.RefreshCookiePath + "/login?rd=" + url.QueryEscape(o.uri)
			w.Header().Set("Location", loc)
			if r.URL.Query().Get("redirect") == "1" || o.trusted && r.Header.Get("X-Sesame-Redirect") == "1" {
				w.Header().Set("Cache-Control", "no-store")
				w.WriteHeader(http.StatusFound)
				return
			}
		}
		m.fail(w, r, e)
		return
	}
	g, h, v := &m.cfg.Gateway, w.Header(), s.headerValues()
	// The values are made once per verified token and shared: a Header's
	// values are only read once set.
	h[g.Headers.User] = v.user
	h[g.Headers.Session] = v.session
	h[g.Headers.Expires] = v.expires
	if g.MaxDataHeader > 0 {
		if v.data != nil && len(v.data[0]) <= g.MaxDataHeader {
			h[g.Headers.Data] = v.data
		} else {
			h[g.Headers.DataOmitted] = omitted
		}
	}
	w.WriteHeader(http.StatusOK)
}

var omitted = []string{"1"}

// headerValues are a session's identity headers, as header values.
type headerValues struct {
	once                   sync.Once
	user, session, expires []string
	data                   []string // nil when the data does not encode
}

// headerValues returns the session's identity header values, made on
// first use (see encodings).
func (s *Session[T]) headerValues() *headerValues {
	v := &s.encodings().header
	v.once.Do(func() {
		v.user = []string{s.UserID}
		v.session = []string{s.Claims.SessionID}
		v.expires = []string{strconv.FormatInt(s.Claims.ExpiresAt.Unix(), 10)}
		if js, err := json.Marshal(s.Data); err == nil {
			v.data = []string{base64.RawURLEncoding.EncodeToString(js)}
		}
	})
	return v
}

// originalRequest is what a trusted proxy says of the request it asks about.
type originalRequest struct {
	method  string
	host    string
	uri     string // path and query, "" when unknown
	trusted bool   // described by a trusted proxy
}

// original describes the request that a forward-auth call is about. Only a
// trusted proxy's headers are read: anyone else could claim a GET for a
// POST, or a URL of their choosing for the sign-in page to send a browser
// to.
//
// A proxy sets one of each pair and passes the client's other headers on:
// nginx sets X-Original-Method and passes a client's X-Forwarded-Method,
// Traefik the reverse. So values that disagree (two lines of one header,
// or X-Forwarded-Method against X-Original-Method) mean that one came from
// the client, and the request is refused (403) rather than guessed about.
func (m *Manager[T]) original(r *http.Request) (originalRequest, *Error) {
	o := originalRequest{method: r.Method, host: r.Host}
	if !m.fromTrustedProxy(r) {
		return o, nil
	}
	o.trusted = true
	pick := func(fold bool, names ...string) (string, bool) {
		var val string
		for _, n := range names {
			for _, v := range r.Header.Values(n) {
				v = strings.TrimSpace(v)
				if fold {
					v = strings.ToUpper(v)
				}
				if val != "" && v != val {
					return "", false
				}
				val = v
			}
		}
		return val, true
	}
	refuse := &Error{Status: http.StatusForbidden, Code: CodeForbidden, Message: "conflicting original-request headers"}
	method, ok := pick(true, "X-Forwarded-Method", "X-Original-Method")
	if !ok {
		return o, refuse
	}
	if method != "" {
		o.method = method
	}
	host, ok := pick(false, "X-Forwarded-Host")
	if !ok {
		return o, refuse
	}
	if host != "" {
		o.host = host
	}
	uri, ok := pick(false, "X-Forwarded-Uri", "X-Original-URI")
	if !ok {
		return o, refuse
	}
	if rest := chi.URLParam(r, "*"); uri == "" && rest != "" {
		// Envoy's ext_authz appends the original path to its path_prefix
		// (/auth/verify): the rest of this path, and the query, are the
		// original's.
		uri = "/" + rest
		if r.URL.RawQuery != "" {
			uri += "?" + r.URL.RawQuery
		}
	}
	// Only a path on this host: the sign-in page refuses anything else as
	// a place to return to, so there is no use in passing it on.
	if strings.HasPrefix(uri, "/") && !strings.HasPrefix(uri, "//") && len(uri) <= maxRedirectLen {
		o.uri = uri
	}
	return o, nil
}

func (m *Manager[T]) fromTrustedProxy(r *http.Request) bool {
	if len(m.cfg.Gateway.TrustedProxies) == 0 {
		return false
	}
	a, err := netip.ParseAddr(remoteIP(r))
	if err != nil {
		return false
	}
	a = a.Unmap()
	for _, p := range m.cfg.Gateway.TrustedProxies {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// navigation reports whether the original request is a browser loading a
// page (which a sign-in page can help), not a script's fetch (which needs
// the 401). Browsers send Sec-Fetch-Mode: navigate; older ones are known by
// Accept: text/html.
func navigation(r *http.Request, method string) bool {
	if method != http.MethodGet && method != http.MethodHead {
		return false
	}
	if mode := r.Header.Get("Sec-Fetch-Mode"); mode != "" {
		return mode == "navigate"
	}
	return strings.Contains(r.Header.Get("Accept"), "text/html")
}

func safeMethod(m string) bool {
	return m == http.MethodGet || m == http.MethodHead || m == http.MethodOptions
}
