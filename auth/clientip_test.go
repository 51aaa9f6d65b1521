package auth_test

import (
	"net/http/httptest"
	"net/netip"
	"testing"

	"github.com/sesame-go/sesame/auth"
)

func TestTrustedProxies(t *testing.T) {
	ip := auth.TrustedProxies(netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("::1/128"))
	tests := []struct {
		name, remote string
		xff          []string
		want         string
	}{
		{"direct client", "203.0.113.7:5555", nil, "203.0.113.7"},
		{"direct client lying", "203.0.113.7:5555", []string{"1.2.3.4"}, "203.0.113.7"},
		{"one proxy", "10.0.0.2:80", []string{"198.51.100.9"}, "198.51.100.9"},
		{"client prepends a lie", "10.0.0.2:80", []string{"1.2.3.4, 198.51.100.9"}, "198.51.100.9"},
		{"two proxies", "10.0.0.2:80", []string{"198.51.100.9, 10.0.0.3"}, "198.51.100.9"},
		{"two headers", "10.0.0.2:80", []string{"1.2.3.4", "198.51.100.9"}, "198.51.100.9"},
		{"only proxies", "10.0.0.2:80", []string{"10.0.0.9"}, "10.0.0.9"},
		{"no header from proxy", "10.0.0.2:80", nil, "10.0.0.2"},
		{"garbage hop", "10.0.0.2:80", []string{"nonsense"}, "10.0.0.2"},
		{"ipv6 proxy", "[::1]:80", []string{"2001:db8::5"}, "2001:db8::5"},
		{"hop with port", "10.0.0.2:80", []string{"198.51.100.9:1234"}, "198.51.100.9"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest("GET", "/", nil)
			r.RemoteAddr = tc.remote
			for _, v := range tc.xff {
				r.Header.Add("X-Forwarded-For", v)
			}
			if got := ip(r); got != tc.want {
				t.Errorf("got %q, want %q", got, tc.want)
			}
		})
	}
}
