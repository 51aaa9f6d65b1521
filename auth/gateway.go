package auth

import (
	"fmt"
	"net/http"
	"net/netip"
	"strings"
	"time"
)

// Gateway configures what lets applications that do not import this
// package use sesame sessions: forward auth ([Manager.ForwardAuth],
// /auth/verify), the browser sign-in page (GET /auth/login) and token
// introspection (POST /auth/introspect). Its zero value serves forward auth
// and the sign-in page with the defaults below, and no introspection.
type Gateway struct {
	// TrustedProxies are the peers (r.RemoteAddr) whose description of the
	// original request is believed by /auth/verify: X-Forwarded-Method or
	// X-Original-Method, X-Forwarded-Host, X-Forwarded-Proto, and
	// X-Forwarded-Uri or X-Original-URI. From any other peer those headers
	// are ignored, and the verify request itself is taken as the original
	// (its own method, Host and no URL). Nil means none: list the proxy
	// that sends auth subrequests (nginx, Traefik, Caddy, Envoy) here.
	TrustedProxies []netip.Prefix

	// Headers names the identity headers of a 200 from /auth/verify. Zero
	// fields mean the X-Sesame-* defaults; see [IdentityHeaders].
	Headers IdentityHeaders

	// MaxDataHeader bounds the X-Sesame-Data header, in bytes of its
	// base64url value. Data that would be longer is left out and
	// X-Sesame-Data-Omitted: 1 is sent instead: proxies cap a response's
	// header block (nginx's proxy_buffer_size is 4 KiB or 8 KiB by default),
	// and a larger header fails the request. Zero means 4096; a negative
	// value never sends the data.
	MaxDataHeader int

	// AllowedRedirectHosts are the hosts that the sign-in page may send a
	// browser back to after login (its rd parameter) besides relative paths
	// on this host: exact host names ("app.example.com", or with a port,
	// "app.example.com:8443"), or a leading dot for every subdomain
	// (".example.com" allows a.example.com and a.b.example.com, not
	// example.com itself). Nil means none: only relative paths. Anything
	// else is replaced by "/"; see the rules in redirect.go.
	AllowedRedirectHosts []string

	// IntrospectionClients authenticates callers of POST /auth/introspect
	// (HTTP Basic). Nil turns the endpoint off: it answers 404, as an
	// endpoint that does not exist, and nothing about tokens can be learnt
	// from it. Package clients reads the file sessionctl writes.
	IntrospectionClients ClientAuthenticator

	// IntrospectionsPerClient caps introspection calls per client per
	// IntrospectionWindow, counted as Limits are (by the fleet, with a Redis
	// store). Zero means 6000 (100 a second
	// over a minute); a negative value means no cap.
	IntrospectionsPerClient int
	// IntrospectionWindow is the counting window of
	// IntrospectionsPerClient. Zero means one minute.
	IntrospectionWindow time.Duration
}

// IdentityHeaders are the names of the headers /auth/verify answers with.
// A proxy copies them onto the request it forwards (see docs/gateway.md),
// replacing whatever the client sent under the same names.
type IdentityHeaders struct {
	// User carries the user id (the session's subject). Zero means
	// "X-Sesame-User".
	User string
	// Session carries the session id. Zero means "X-Sesame-Session".
	Session string
	// Expires carries the access token's exp, Unix seconds. Zero means
	// "X-Sesame-Expires".
	Expires string
	// Data carries the session data as JSON, base64url without padding.
	// Zero means "X-Sesame-Data".
	Data string
	// DataOmitted is set to "1" when the data is larger than
	// Gateway.MaxDataHeader and left out. Zero means
	// "X-Sesame-Data-Omitted".
	DataOmitted string
}

// ClientAuthenticator checks the credentials of an introspection client.
// AuthenticateClient must take the same time whether or not the client
// exists, and compare secrets in constant time. It may be called
// concurrently.
type ClientAuthenticator interface {
	AuthenticateClient(id, secret string) bool
}

func (g Gateway) withDefaults() Gateway {
	h := &g.Headers
	for _, f := range []struct {
		p   *string
		def string
	}{
		{&h.User, "X-Sesame-User"}, {&h.Session, "X-Sesame-Session"}, {&h.Expires, "X-Sesame-Expires"},
		{&h.Data, "X-Sesame-Data"}, {&h.DataOmitted, "X-Sesame-Data-Omitted"},
	} {
		if *f.p == "" {
			*f.p = f.def
		}
		// Set by map key on the hot path, so in canonical form.
		*f.p = http.CanonicalHeaderKey(*f.p)
	}
	if g.MaxDataHeader == 0 {
		g.MaxDataHeader = 4096
	}
	if g.IntrospectionsPerClient == 0 {
		g.IntrospectionsPerClient = 6000
	}
	if g.IntrospectionWindow == 0 {
		g.IntrospectionWindow = time.Minute
	}
	return g
}

func (g *Gateway) validate() error {
	for _, h := range []string{g.Headers.User, g.Headers.Session, g.Headers.Expires, g.Headers.Data, g.Headers.DataOmitted} {
		if !validHeaderName(h) {
			return fmt.Errorf("auth: Config.Gateway.Headers: %q is not a header name", h)
		}
	}
	for _, h := range g.AllowedRedirectHosts {
		if !validRedirectHost(h) {
			return fmt.Errorf("auth: Config.Gateway.AllowedRedirectHosts: %q is not a host name", h)
		}
	}
	if g.IntrospectionWindow < 0 {
		return fmt.Errorf("auth: Config.Gateway.IntrospectionWindow %v is negative", g.IntrospectionWindow)
	}
	return nil
}

// validHeaderName reports whether s is an HTTP token (RFC 9110 5.1).
func validHeaderName(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0) {
			return false
		}
	}
	return true
}

// validRedirectHost reports whether h is a host name, an IP literal or a
// leading-dot domain, with an optional port: letters, digits, '.', '-',
// ':', '[' and ']', and not only dots.
func validRedirectHost(h string) bool {
	if strings.Trim(h, ".") == "" {
		return false
	}
	for i := 0; i < len(h); i++ {
		c := h[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || strings.IndexByte(".-:[]", c) >= 0) {
			return false
		}
	}
	return true
}
