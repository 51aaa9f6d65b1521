package auth_test

import (
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sesame-go/sesame/auth"
	"github.com/sesame-go/sesame/internal/sesametest"
	"github.com/sesame-go/sesame/revocation"
)

// TestLogoutWithReusedRefreshToken: a refresh token two generations old,
// presented to /auth/logout after the grace window, is reuse as it is on
// /auth/refresh: 401 refresh_token_reused, a refresh_token_reused event,
// and the theft policy (Config.TheftEndsAllSessions) applied. Found by an outside probe (W4): logout
// ended the family but said nothing.
func TestLogoutWithReusedRefreshToken(t *testing.T) {
	for _, tc := range []struct {
		name    string
		endsAll bool
		cookie  bool
	}{
		{"header/one session", false, false},
		{"header/all sessions", true, false},
		{"cookie/all sessions", true, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var skew atomic.Int64
			store, err := revocation.NewMemory(&revocation.MemoryOptions{Now: func() time.Time {
				return time.Now().Add(time.Duration(skew.Load()))
			}})
			if err != nil {
				t.Fatal(err)
			}
			e := newEnv(t, store, func(c *auth.Config[Profile]) { c.TheftEndsAllSessions = tc.endsAll })
			other := e.LoginAs("alice")
			tk := e.LoginAs("alice")
			_, tk2 := e.Refresh(tk.RefreshToken)
			_, tk3 := e.Refresh(tk2.RefreshToken)
			skew.Store(int64(revocation.DefaultGraceWindow + time.Second))

			var r sesametest.Response
			if tc.cookie {
				r = e.Do(nil, "POST", "/auth/logout", "", "Cookie", refreshCookieName+"="+tk.RefreshToken)
			} else {
				r = e.Do(nil, "POST", "/auth/logout", `{"refresh_token":"`+tk.RefreshToken+`"}`, "X-Session-Transport", "header")
			}
			if r.Status != 401 || r.ErrorCode(t) != auth.CodeRefreshReused {
				t.Fatalf("logout with a reused refresh token: got %d %s, want 401 %s", r.Status, r.Body, auth.CodeRefreshReused)
			}
			if !slices.Contains(e.eventKinds(), auth.EventRefreshReused) {
				t.Errorf("events %v, want %s", e.eventKinds(), auth.EventRefreshReused)
			}
			if got := e.m.Stats().Revocations["theft"]; got != 1 {
				t.Errorf("theft revocations %d, want 1", got)
			}
			if r, _ := e.Refresh(tk3.RefreshToken); r.Status != 401 {
				t.Fatalf("family survived reuse: %d", r.Status)
			}
			if r := e.Do(nil, "GET", "/app", "", sesametest.Bearer(tk3.AccessToken)...); r.Status != 401 {
				t.Fatalf("the reused session's access token: %d, want 401", r.Status)
			}
			otherStatus := func() int { return e.Do(nil, "GET", "/app", "", sesametest.Bearer(other.AccessToken)...).Status }
			switch tc.endsAll {
			case false:
				if s := otherStatus(); s != 200 {
					t.Errorf("theft of one session ended another session: %d", s)
				}
			case true:
				if s := otherStatus(); s != 401 {
					t.Errorf("TheftEndsAllSessions left another session working: %d", s)
				}
			}
		})
	}
}

// refreshCookieName is the refresh cookie's default name.
const refreshCookieName = "__Host-sesame-refresh"
