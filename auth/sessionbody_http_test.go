package auth_test

import (
	"bytes"
	"encoding/json"
	"net/http/httptest"
	"testing"

	"github.com/sesame-go/sesame/internal/sesametest"
)

// TestSessionAnswerPerToken: GET /session, served from the verified-token
// cache, answers each token with its own session, byte for byte what an
// encode of that session on the request gives, however the requests of
// several tokens (two users, two sessions of one user, a refreshed token)
// interleave.
func TestSessionAnswerPerToken(t *testing.T) {
	e := newEnv(t, newMemoryStore(t))
	a1, a2, b := e.LoginAs("alice"), e.LoginAs("alice"), e.LoginAs("bob")
	_, a1r := e.Refresh(a1.RefreshToken)
	toks := []string{a1.AccessToken, a2.AccessToken, b.AccessToken, a1r.AccessToken}

	want := map[string]string{}
	for _, tok := range toks {
		req := httptest.NewRequest("GET", "/auth/session", nil)
		req.Header.Set("Authorization", "Bearer "+tok)
		s, err := e.m.Verify(req)
		if err != nil {
			t.Fatal(err)
		}
		var buf bytes.Buffer
		json.NewEncoder(&buf).Encode(struct {
			SID  string  `json:"sid"`
			Sub  string  `json:"sub"`
			Iat  int64   `json:"iat"`
			Exp  int64   `json:"exp"`
			Data Profile `json:"data"`
		}{s.Claims.SessionID, s.UserID, s.Claims.IssuedAt.Unix(), s.Claims.ExpiresAt.Unix(), s.Data})
		want[tok] = buf.String()
	}
	if want[a1.AccessToken] == want[a2.AccessToken] || want[a1.AccessToken] == want[b.AccessToken] {
		t.Fatalf("two sessions with one answer: %v", want)
	}
	for round := range 3 {
		for _, i := range []int{0, 2, 1, 3, 2, 0} {
			r := e.Do(nil, "GET", "/auth/session", "", sesametest.Bearer(toks[i])...)
			if r.Status != 200 || r.Body != want[toks[i]] {
				t.Errorf("round %d, token %d: %d %q, want %q", round, i, r.Status, r.Body, want[toks[i]])
			}
			if ct, cc := r.Header.Get("Content-Type"), r.Header.Get("Cache-Control"); ct != "application/json" || cc != "no-store" {
				t.Errorf("Content-Type %q, Cache-Control %q", ct, cc)
			}
		}
	}
	// A logged-out token's cached answer is not served.
	if r := e.Do(nil, "POST", "/auth/logout", "", sesametest.Bearer(a2.AccessToken)...); r.Status != 204 {
		t.Fatalf("logout: %d", r.Status)
	}
	if r := e.Do(nil, "GET", "/auth/session", "", sesametest.Bearer(a2.AccessToken)...); r.Status != 401 {
		t.Errorf("after logout: %d %q, want 401", r.Status, r.Body)
	}
}
