package attack_test

import (
	"fmt"
	"testing"

	"github.com/sesame-go/sesame/auth"
	"github.com/sesame-go/sesame/internal/sesametest"
)

// TestRefreshBehindSharedAddress (W10): an attacker behind the victim's
// NAT sends 60 garbage refresh tokens, using up the address's budget of
// failures. The victim's genuine refresh token from that address still
// rotates: only failures cost, and garbage stays refused (429).
func TestRefreshBehindSharedAddress(t *testing.T) {
	backends(t, func(t *testing.T, o options) {
		o.cfg = throttling
		e := newEnv(t, o)
		nat := "100.64.0.9"
		refresh := func(rt string) sesametest.Response {
			return e.Do(nil, "POST", "/auth/refresh", `{"refresh_token":"`+rt+`"}`, "X-Session-Transport", "header", fromHeader, nat)
		}
		for i := range 60 {
			if r := refresh(fmt.Sprintf("garbage%d.%d", i, i)); r.Status != 401 {
				t.Fatalf("garbage %d: %d", i+1, r.Status)
			}
		}
		if r := refresh("garbage.more"); r.Status != 429 || r.Code() != auth.CodeRateLimited {
			t.Fatalf("61st garbage: %d %s", r.Status, r.Body)
		}
		// A forgery for the victim's own family (the costly kind) is refused too.
		forged := e.victim.RefreshToken[:len(e.victim.RefreshToken)-4] + "AAAA"
		if r := refresh(forged); r.Status != 429 {
			t.Fatalf("forged secret for a real family: %d %s", r.Status, r.Body)
		}
		r := refresh(e.victim.RefreshToken)
		if r.Status != 200 {
			t.Fatalf("victim's genuine refresh from the NAT: %d %s", r.Status, r.Body)
		}
		if e.familyGone(e.victim.RefreshToken) {
			t.Fatal("the forgery ended the victim's family")
		}
	})
}
