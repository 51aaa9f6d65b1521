package auth_test

import (
	"context"
	"errors"
	"slices"
	"sync"
	"testing"

	"github.com/sesame-go/sesame/auth"
	"github.com/sesame-go/sesame/internal/sesametest"
	"github.com/sesame-go/sesame/revocation"
)

// checkingAuthenticator is the test Authenticator plus auth.UserChecker,
// with users that can be removed and a check that can fail.
type checkingAuthenticator struct {
	mu      sync.Mutex
	removed map[string]bool
	err     error
	asked   int
}

func (a *checkingAuthenticator) Authenticate(ctx context.Context, u, p string) (string, Profile, error) {
	return authenticate(ctx, u, p)
}

func (a *checkingAuthenticator) UserActive(_ context.Context, userID string) (bool, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.asked++
	return !a.removed[userID], a.err
}

func (a *checkingAuthenticator) checks() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.asked
}

func (a *checkingAuthenticator) set(removed string, err error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.removed[removed] = true
	a.err = err
}

// TestUserChecker: once the Authenticator says a user may no longer have
// sessions, the next refresh of any of them ends them all — the refreshed
// one, the user's other sessions and their access tokens — and answers 401
// revoked; a failing check is a 503 that changes nothing.
func TestUserChecker(t *testing.T) {
	backends(t, func(t *testing.T, newStore func(*testing.T) revocation.Store) {
		a := &checkingAuthenticator{removed: map[string]bool{}}
		e := newEnv(t, newStore(t), func(c *auth.Config[Profile]) { c.Authenticator = a })
		one, two, bob := e.LoginAs("alice"), e.LoginAs("alice"), e.LoginAs("bob")

		r, one2 := e.Refresh(one.RefreshToken)
		if r.Status != 200 || a.checks() != 1 {
			t.Fatalf("refresh of an active user: %d %s (asked %d)", r.Status, r.Body, a.checks())
		}

		// The check fails: 503, and the same refresh token still works after.
		a.set("", errors.New("users file unreadable"))
		if r, _ := e.Refresh(one2.RefreshToken); r.Status != 503 || r.ErrorCode(t) != auth.CodeUnavailable {
			t.Fatalf("failing check: %d %s, want 503 unavailable", r.Status, r.Body)
		}
		a.set("", nil)
		r, one3 := e.Refresh(one2.RefreshToken)
		if r.Status != 200 {
			t.Fatalf("refresh after the failed check: %d %s", r.Status, r.Body)
		}

		a.set("uid-alice", nil)
		if r, _ := e.Refresh(one3.RefreshToken); r.Status != 401 || r.ErrorCode(t) != auth.CodeRevoked {
			t.Fatalf("refresh of a removed user: %d %s, want 401 revoked", r.Status, r.Body)
		}
		if !slices.Contains(e.eventKinds(), auth.EventUserInactive) {
			t.Errorf("events %v: no %s", e.eventKinds(), auth.EventUserInactive)
		}
		// Every session of the user is over: the other session's refresh
		// token and both sessions' access tokens.
		if r, _ := e.Refresh(two.RefreshToken); r.Status != 401 {
			t.Errorf("the user's other session refreshed: %d %s", r.Status, r.Body)
		}
		for name, tok := range map[string]string{"refreshed": one3.AccessToken, "other": two.AccessToken} {
			if r := e.Do(nil, "GET", "/app", "", sesametest.Bearer(tok)...); r.Status != 401 || r.ErrorCode(t) != auth.CodeRevoked {
				t.Errorf("%s session's access token: %d %s, want 401 revoked", name, r.Status, r.Body)
			}
		}
		// Another user is untouched.
		if r := e.Do(nil, "GET", "/app", "", sesametest.Bearer(bob.AccessToken)...); r.Status != 200 {
			t.Errorf("bob's access token: %d %s", r.Status, r.Body)
		}
		if r, _ := e.Refresh(bob.RefreshToken); r.Status != 200 {
			t.Errorf("bob's refresh: %d %s", r.Status, r.Body)
		}
	})
}
