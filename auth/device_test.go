package auth_test

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/sesame-go/sesame/auth"
	"github.com/sesame-go/sesame/internal/sesametest"
	"github.com/sesame-go/sesame/internal/testclock"
	"github.com/sesame-go/sesame/revocation"
)

// TestDeviceTokens: a device token exempts its holder from the user name's
// lockout until it expires, and not at all when device tokens are off.
func TestDeviceTokens(t *testing.T) {
	for _, tc := range []struct {
		name     string
		ttl      time.Duration
		advance  time.Duration // after the login that handed out the token
		exempted bool
	}{
		{"valid", 0, 89 * 24 * time.Hour, true},
		{"expired", 0, 90 * 24 * time.Hour, false},
		{"short TTL", time.Hour, 2 * time.Hour, false},
		{"off", -1, 0, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			clk := testclock.New(time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC))
			st, err := revocation.NewMemory(&revocation.MemoryOptions{Now: clk.Now})
			if err != nil {
				t.Fatal(err)
			}
			e := newEnv(t, st, func(c *auth.Config[Profile]) {
				c.Now = clk.Now
				c.Limits.DeviceTTL = tc.ttl
				c.Denylist = alwaysFresh{}
			})
			login := func(pw, device string) sesametest.Response {
				return e.Do(nil, "POST", "/auth/login", `{"username":"alice","password":"`+pw+`","device_token":"`+device+`"}`, "X-Session-Transport", "header")
			}
			r := login("alice-pw", "")
			var tk struct {
				DeviceToken string `json:"device_token"`
			}
			json.Unmarshal([]byte(r.Body), &tk)
			if r.Status != 200 || (tk.DeviceToken == "") != (tc.ttl < 0) {
				t.Fatalf("login: %d %s", r.Status, r.Body)
			}
			clk.Advance(tc.advance)
			for range 10 {
				login("guess", "")
			}
			r = login("alice-pw", tk.DeviceToken)
			if got := r.Status == 200; got != tc.exempted {
				t.Fatalf("login with the device token during the lockout: %d %s; exempted %v, want %v", r.Status, r.Body, got, tc.exempted)
			}
			if !tc.exempted && (r.Status != 429 || !strings.Contains(r.Body, auth.CodeRateLimited)) {
				t.Fatalf("got %d %s, want 429", r.Status, r.Body)
			}
		})
	}
}

// alwaysFresh is a Denylist that revokes nothing, for tests that move the
// clock far.
type alwaysFresh struct{}

func (alwaysFresh) Check(revocation.Subject) (bool, error) { return false, nil }
