package auth_test

import (
	"context"
	"errors"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/sesame-go/sesame/auth"
)

// TestAuthenticatorOutageCostsNoBudget: a failure is reserved before the
// password check, and given back when the check could not be made, so an
// Authenticator outage does not lock users out.
func TestAuthenticatorOutageCostsNoBudget(t *testing.T) {
	var down atomic.Bool
	down.Store(true)
	e := newEnv(t, newMemoryStore(t), func(c *auth.Config[Profile]) {
		c.Authenticator = auth.AuthenticatorFunc[Profile](func(ctx context.Context, u, p string) (string, Profile, error) {
			if down.Load() {
				return "", Profile{}, errors.New("users database unreachable")
			}
			return authenticate(ctx, u, p)
		})
		c.Limits.LoginsPerAddress = -1 // only the user's budget is under test
	})
	for i := range 15 {
		if r := e.Do(nil, "POST", "/auth/login", `{"username":"alice","password":"alice-pw"}`, "X-Session-Transport", "header"); r.Status != 503 {
			t.Fatalf("login %d during the outage: %d %s", i+1, r.Status, r.Body)
		}
	}
	down.Store(false)
	if r := e.Do(nil, "POST", "/auth/login", `{"username":"alice","password":"alice-pw"}`, "X-Session-Transport", "header"); r.Status != 200 {
		t.Fatalf("login after the outage: %d %s", r.Status, r.Body)
	}
}

func TestLimitsPrefixValidation(t *testing.T) {
	for _, l := range []auth.Limits{{IPv4Prefix: -1}, {IPv4Prefix: 33}, {IPv6Prefix: -8}, {IPv6Prefix: 129}} {
		_, err := auth.New(auth.Config[Profile]{Keys: testKeys(), Store: newMemoryStore(t),
			Authenticator: auth.AuthenticatorFunc[Profile](authenticate), Limits: l})
		if err == nil || !strings.Contains(err.Error(), "Prefix") {
			t.Errorf("Limits %+v: got %v, want an error naming the prefix", l, err)
		}
	}
}
