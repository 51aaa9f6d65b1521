package attack_test

import (
	"context"
	"testing"
	"time"

	"github.com/sesame-go/sesame/auth"
	"github.com/sesame-go/sesame/internal/sesametest"
	"github.com/sesame-go/sesame/revocation"
)

// hookStore runs before() inside RevokeAllFamilies, i.e. after auth's
// endAllSessions has listed and ended the families it saw.
type hookStore struct {
	revocation.Store
	before func()
}

func (h *hookStore) RevokeAllFamilies(ctx context.Context, uid string) error {
	if h.before != nil {
		f := h.before
		h.before = nil
		f()
	}
	return h.Store.RevokeAllFamilies(ctx, uid)
}

// TestLoginRacingLogoutAll: a login that lands between endAllSessions'
// ListFamilies and RevokeAllFamilies, on a frozen clock, must not be left
// half-ended (its family gone, its access token still working): the store
// denylists the session id of every family it deletes. (Found by this suite;
// before the fix /app and /pay answered 200.)
func TestLoginRacingLogoutAll(t *testing.T) {
	// A frozen clock, mid-second, so that the race lands in one second.
	frozen := time.Now().Truncate(time.Second).Add(500 * time.Millisecond)
	var hs *hookStore
	e := newEnv(t, options{cfg: func(c *auth.Config[Profile]) {
		c.Now = func() time.Time { return frozen }
		hs = &hookStore{Store: c.Store}
		c.Store = hs
	}})
	old := e.LoginAs("bob")
	var raced sesametest.Tokens
	hs.before = func() { raced = e.LoginAs("bob") }
	if r := e.Do(nil, "POST", "/auth/logout-all", "", sesametest.Bearer(old.AccessToken)...); r.Status != 204 {
		t.Fatalf("logout-all: %d", r.Status)
	}
	waitFor(t, 2*time.Second, func() bool { return e.Do(nil, "GET", "/app", "", sesametest.Bearer(old.AccessToken)...).Status == 401 })
	r1, _ := e.Refresh(raced.RefreshToken)
	r2 := e.Do(nil, "GET", "/app", "", sesametest.Bearer(raced.AccessToken)...)
	r3 := e.Do(nil, "POST", "/pay", "", sesametest.Bearer(raced.AccessToken)...)
	if r1.Status != 401 || r2.Status != 401 || r3.Status != 401 {
		t.Fatalf("raced session after logout-all: refresh %d %s; /app %d; strict /pay %d; want all 401",
			r1.Status, r1.Code(), r2.Status, r3.Status)
	}
	if c := r2.Code(); c != "revoked" {
		t.Errorf("/app code %q, want revoked", c)
	}
}
