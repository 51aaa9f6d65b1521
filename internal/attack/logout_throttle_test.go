package attack_test

import (
	"fmt"
	"testing"

	"github.com/sesame-go/sesame/auth"
	"github.com/sesame-go/sesame/internal/sesametest"
)

// TestLogoutByRefreshTokenThrottled (W3): POST /auth/logout with a refresh
// token in the body runs the store's refresh-token check, so forged tokens
// there cost what they cost on /auth/refresh and share its budget: 60
// failures from one address, then 429. The victim's session is untouched.
func TestLogoutByRefreshTokenThrottled(t *testing.T) {
	backends(t, func(t *testing.T, o options) {
		o.cfg = throttling
		e := newEnv(t, o)
		from := "192.0.2.99"
		logout := func(rt string) sesametest.Response {
			return e.Do(nil, "POST", "/auth/logout", `{"refresh_token":"`+rt+`"}`, "X-Session-Transport", "header", fromHeader, from)
		}
		forged := func(i int) string {
			return e.victim.RefreshToken[:len(e.victim.RefreshToken)-8] + fmt.Sprintf("%08d", i)
		}
		var n429 int
		for i := range 400 {
			r := logout(forged(i))
			switch {
			case i < 60 && r.Status != 401:
				t.Fatalf("forged logout %d: %d %s", i+1, r.Status, r.Body)
			case i >= 60 && (r.Status != 429 || r.Code() != auth.CodeRateLimited):
				t.Fatalf("forged logout %d: %d %s, want 429", i+1, r.Status, r.Body)
			}
			if r.Status == 429 {
				n429++
			}
		}
		// The same budget as /auth/refresh.
		r := e.Do(nil, "POST", "/auth/refresh", `{"refresh_token":"garbage"}`, "X-Session-Transport", "header", fromHeader, from)
		if r.Status != 429 {
			t.Fatalf("refresh after 400 forged logouts: %d", r.Status)
		}
		if e.familyGone(e.victim.RefreshToken) {
			t.Fatal("a forged logout ended the victim's family")
		}
		t.Logf("400 forged logouts: 60 answered 401, %d answered 429", n429)
	})
}
