package attack_test

import (
	"fmt"
	"testing"

	"github.com/sesame-go/sesame/internal/sesametest"
)

// TestIPv6Rotation (W9): an attacker with one /64 sends each login attempt
// from a new address of it. Addresses count by /64, so the 21st attempt is
// refused; a neighbouring /64 is someone else.
func TestIPv6Rotation(t *testing.T) {
	backends(t, func(t *testing.T, o options) {
		o.cfg = throttling
		e := newEnv(t, o)
		try := func(from string, i int) sesametest.Response {
			return e.Do(nil, "POST", "/auth/login", fmt.Sprintf(`{"username":"nobody%d","password":"x"}`, i),
				"X-Session-Transport", "header", fromHeader, from)
		}
		for i := range 20 {
			if r := try(fmt.Sprintf("2001:db8:cafe:1:%x:%x::1", i+1, i*7+3), i); r.Status != 401 {
				t.Fatalf("attempt %d: %d", i+1, r.Status)
			}
		}
		if r := try("2001:db8:cafe:1:ffff::1", 99); r.Status != 429 || r.Header.Get("Retry-After") == "" {
			t.Fatalf("21st attempt from the /64: %d %s", r.Status, r.Body)
		}
		if r := try("2001:db8:cafe:2::1", 99); r.Status != 401 {
			t.Fatalf("another /64: %d", r.Status)
		}
	})
}
