package attack_test

import (
	"testing"
	"time"

	"github.com/sesame-go/sesame/auth"
	"github.com/sesame-go/sesame/internal/sesametest"
	"github.com/sesame-go/sesame/revocation"
)

// TestStaleRefreshTokenAtLogout (W4): a thief holding a refresh token the
// victim has since rotated twice presents it to /auth/logout instead of
// /auth/refresh, hoping to end the victim's session without the theft
// being noticed. It is reuse wherever it is presented: 401
// refresh_token_reused, one refresh_token_reused event, the family ended
// and its newest tokens refused, exactly as on /auth/refresh; alice's
// session is untouched.
func TestStaleRefreshTokenAtLogout(t *testing.T) {
	t.Parallel()
	backends(t, func(t *testing.T, o options) {
		e := newEnv(t, o)
		for _, tc := range []struct {
			name string
			send func(stolen string) sesametest.Response
		}{
			{"header-body", func(rt string) sesametest.Response {
				return e.Do(nil, "POST", "/auth/logout", `{"refresh_token":"`+rt+`"}`, "X-Session-Transport", "header")
			}},
			{"cookie", func(rt string) sesametest.Response {
				return e.Do(nil, "POST", "/auth/logout", "", "Cookie", "__Host-sesame-refresh="+rt)
			}},
		} {
			t.Run(tc.name, func(t *testing.T) {
				bob := e.LoginAs("bob")
				stolen := bob.RefreshToken
				_, b1 := e.Refresh(bob.RefreshToken)
				_, b2 := e.Refresh(b1.RefreshToken)
				e.clk.Advance(revocation.DefaultGraceWindow + time.Second)
				e.waitFresh()
				theft := e.eventCount(auth.EventRefreshReused)

				if r := tc.send(stolen); r.Status != 401 || r.Code() != auth.CodeRefreshReused {
					t.Fatalf("got %d %s, want 401 %s", r.Status, r.Body, auth.CodeRefreshReused)
				}
				if got := e.eventCount(auth.EventRefreshReused); got != theft+1 {
					t.Fatalf("refresh_token_reused events %d, want %d", got, theft+1)
				}
				if !e.familyGone(b2.RefreshToken) {
					t.Fatal("the family survived reuse")
				}
				if r := e.Do(nil, "GET", "/app", "", sesametest.Bearer(b2.AccessToken)...); r.Status != 401 || r.Code() != "revoked" {
					t.Fatalf("the victim's newest access token: %d %s, want 401 revoked", r.Status, r.Body)
				}
				e.intact(t)
			})
		}
	})
}
