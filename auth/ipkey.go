package auth

import (
	"net/netip"
)

// IPKey returns the rate-limiter key of a client address (as
// Config.ClientIP gives it): the network the address belongs to, as a
// prefix in canonical form, "192.0.2.7/32" or "2001:db8:1:2::/64".
//
// Limits count per network, not per address, because of IPv6: an ordinary
// subscriber gets a whole /64 (often a /56 or /48) and can send each request
// from a new one of its 2⁶⁴ addresses, so counting per /128 limits nothing.
// v4Bits and v6Bits are the prefix lengths: zero means 32 (one address) for
// IPv4 and 64 for IPv6; use 56 or 48 for networks that hand out larger
// prefixes, or 24 for IPv4 to count a whole carrier-grade NAT pool as one
// (at the cost of its users sharing one budget). Out-of-range values are
// clamped to the address size.
//
// An IPv4-mapped IPv6 address ("::ffff:192.0.2.7") counts as its IPv4
// address, so one client cannot double its budget by switching notation,
// and a zone ("fe80::1%eth0") is dropped. A string that is not an address
// (a Config.ClientIP that returns something else) is its own key, prefixed
// "?" so it can never equal a network's key, and cut to 64 bytes so it
// cannot grow the limiter's keys.
func IPKey(ip string, v4Bits, v6Bits int) string {
	a, err := netip.ParseAddr(ip)
	if err != nil {
		if len(ip) > 64 {
			ip = ip[:64]
		}
		return "?" + ip
	}
	a = a.Unmap().WithZone("")
	bits := v6Bits
	if a.Is4() {
		bits = v4Bits
	}
	switch {
	case bits == 0 && a.Is4():
		bits = 32
	case bits == 0:
		bits = 64
	}
	bits = min(max(bits, 0), a.BitLen())
	p, _ := a.Prefix(bits) // cannot fail: bits is within the address size
	return p.String()
}
