package auth

import (
	"net"
	"net/url"
	"strings"
)

// maxRedirectLen bounds rd: a URL longer than this is not followed.
const maxRedirectLen = 2048

// safeRedirect returns where the sign-in page may send a browser after
// login, given the rd it was asked for: rd itself if it is a path on this
// host, or an absolute http(s) URL whose host is in allowed (see
// Gateway.AllowedRedirectHosts); "/" for anything else.
//
// rd is the classic open redirect: a link to the real sign-in page that
// lands a freshly signed-in user on a look-alike page asking for the
// password again. Browsers are generous in what they take for a URL, so the
// rules refuse, rather than repair, everything they might read differently
// from us:
//
//   - any byte outside printable ASCII, and space: browsers drop tabs and
//     newlines inside URLs ("/\t/evil.example" is "//evil.example") and
//     trim leading spaces and control characters;
//   - a backslash anywhere: browsers read "/\evil.example" as
//     "//evil.example", a URL on another host;
//   - a path starting with "//" (scheme-relative: another host), or one
//     that does, or holds a backslash or a control character, after one
//     more percent-decoding ("/%2F%2Fevil.example", "/%5Cevil.example",
//     "/%09/evil.example"), in case a server on the way decodes it before
//     redirecting;
//   - a relative reference not starting with "/" ("evil.example",
//     "javascript:alert(1)", "https:evil.example", which some parsers read
//     as https://evil.example);
//   - an absolute URL with a scheme other than http and https, with
//     userinfo ("https://good@evil.example", which shows "good" to a
//     reader), or whose host is not allowed ("https://example.com.evil.example"
//     does not end with ".example.com").
//
// The comparison of host names is ASCII case-insensitive; a trailing dot
// is refused.
func safeRedirect(rd string, allowed []string) string {
	if rd == "" || len(rd) > maxRedirectLen || !plainASCII(rd) {
		return "/"
	}
	if rd[0] == '/' {
		if localPath(rd) {
			if dec, err := url.PathUnescape(rd); err == nil && localPath(dec) && !hasControl(dec) {
				return rd
			}
		}
		return "/"
	}
	u, err := url.Parse(rd)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Opaque != "" || u.User != nil || u.Host == "" {
		return "/"
	}
	// The scheme must be the literal prefix, with its "//": url.Parse
	// lower-cases the scheme, and accepts forms browsers may read apart.
	if !strings.HasPrefix(strings.ToLower(rd), u.Scheme+"://") {
		return "/"
	}
	if !allowedHost(u, allowed) {
		return "/"
	}
	return u.String()
}

// localPath reports whether p is a path on this host: it starts with one
// "/", not "//", and holds no backslash.
func localPath(p string) bool {
	return strings.HasPrefix(p, "/") && !strings.HasPrefix(p, "//") && !strings.Contains(p, `\`)
}

// plainASCII reports whether s has only printable ASCII and no space or
// backslash.
func plainASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c <= ' ' || c >= 0x7f || c == '\\' {
			return false
		}
	}
	return true
}

// hasControl reports whether s holds an ASCII control character.
func hasControl(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < ' ' || c == 0x7f {
			return true
		}
	}
	return false
}

// allowedHost reports whether u's host matches an entry of allowed: an
// entry with a port must match host and port; one without matches the host
// name on any port; ".example.com" matches every name ending in it.
func allowedHost(u *url.URL, allowed []string) bool {
	name := strings.ToLower(u.Hostname())
	if name == "" || strings.HasSuffix(name, ".") {
		return false
	}
	for _, a := range allowed {
		a = strings.ToLower(a)
		if strings.HasPrefix(a, ".") {
			if strings.HasSuffix(name, a) {
				return true
			}
			continue
		}
		if h, p, err := net.SplitHostPort(a); err == nil {
			if name == h && u.Port() == p {
				return true
			}
			continue
		}
		if name == strings.Trim(a, "[]") {
			return true
		}
	}
	return false
}
