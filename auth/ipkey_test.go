package auth

import "testing"

func TestIPKey(t *testing.T) {
	tests := []struct {
		name           string
		ip             string
		v4Bits, v6Bits int
		want           string
	}{
		{"ipv4 default /32", "192.0.2.7", 0, 0, "192.0.2.7/32"},
		{"ipv4 /24", "192.0.2.7", 24, 0, "192.0.2.0/24"},
		{"ipv4 bits too large", "192.0.2.7", 40, 0, "192.0.2.7/32"},
		{"ipv4 bits negative", "192.0.2.7", -3, 0, "0.0.0.0/0"},
		{"ipv6 default /64", "2001:db8:1:2:aaaa:bbbb:cccc:dddd", 0, 0, "2001:db8:1:2::/64"},
		{"ipv6 same /64 same key", "2001:db8:1:2::1", 0, 0, "2001:db8:1:2::/64"},
		{"ipv6 next /64", "2001:db8:1:3::1", 0, 0, "2001:db8:1:3::/64"},
		{"ipv6 /56", "2001:db8:1:2ff::1", 0, 56, "2001:db8:1:200::/56"},
		{"ipv6 /48", "2001:db8:1:ffff::1", 0, 48, "2001:db8:1::/48"},
		{"ipv6 /128", "2001:db8::1", 0, 128, "2001:db8::1/128"},
		{"ipv6 bits too large", "2001:db8::1", 0, 200, "2001:db8::1/128"},
		{"ipv4-mapped counts as ipv4", "::ffff:192.0.2.7", 0, 0, "192.0.2.7/32"},
		{"ipv4-mapped with /24", "::ffff:192.0.2.7", 24, 0, "192.0.2.0/24"},
		{"zone dropped", "fe80::1%eth0", 0, 0, "fe80::/64"},
		{"loopback v6", "::1", 0, 0, "::/64"},
		{"not an address", "unix-socket", 0, 0, "?unix-socket"},
		{"empty", "", 0, 0, "?"},
		{"with port is not an address", "192.0.2.7:443", 0, 0, "?192.0.2.7:443"},
		{"long garbage is cut", string(make([]byte, 100)), 0, 0, "?" + string(make([]byte, 64))},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := IPKey(tc.ip, tc.v4Bits, tc.v6Bits); got != tc.want {
				t.Errorf("IPKey(%q, %d, %d) = %q, want %q", tc.ip, tc.v4Bits, tc.v6Bits, got, tc.want)
			}
		})
	}
}
