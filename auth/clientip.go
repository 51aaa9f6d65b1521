package auth

import (
	"net"
	"net/http"
	"net/netip"
	"strings"
)

// TrustedProxies returns a Config.ClientIP for servers behind proxies or
// load balancers: the client is the address nearest to the server, in
// X-Forwarded-For order, that is not one of the trusted proxies.
//
// Why the nearest untrusted address, not the first: every proxy appends the
// address it received the request from, so the right-most entries were
// written by proxies we run, and everything to the left of the first
// untrusted one was written by the client itself and can say anything. A
// request that does not come from a trusted proxy is taken at its own
// address and its X-Forwarded-For is ignored. Two X-Forwarded-For headers
// are read as one list, in order.
func TrustedProxies(proxies ...netip.Prefix) func(*http.Request) string {
	trusted := func(a netip.Addr) bool {
		for _, p := range proxies {
			if p.Contains(a.Unmap()) {
				return true
			}
		}
		return false
	}
	return func(r *http.Request) string {
		peer := remoteIP(r)
		addr, err := netip.ParseAddr(peer)
		if err != nil || !trusted(addr) {
			return peer
		}
		hops := strings.Split(strings.Join(r.Header.Values("X-Forwarded-For"), ","), ",")
		for i := len(hops) - 1; i >= 0; i-- {
			h := strings.TrimSpace(hops[i])
			if host, _, err := net.SplitHostPort(h); err == nil {
				h = host
			}
			a, err := netip.ParseAddr(h)
			if err != nil {
				return addr.String() // a garbled hop: fall back to the proxy itself
			}
			if !trusted(a) {
				return a.Unmap().String()
			}
			addr = a
		}
		return addr.String()
	}
}
