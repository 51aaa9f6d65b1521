package attack_test

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/sesame-go/sesame/auth"
	"github.com/sesame-go/sesame/internal/sesametest"
)

// TestVictimLockout (W7): an attacker spends a username's budget of
// failures from ten addresses. A client that logged in as that user before
// (its device token, header or cookie) still logs in, from a new address;
// anyone else is slowed down with 429 and Retry-After, even with the right
// password; the device token has its own budget of failures, and is good for
// its username only.
func TestVictimLockout(t *testing.T) {
	backends(t, func(t *testing.T, o options) {
		o.cfg = throttling
		e := newEnv(t, o)
		login := func(from, user, pw string, hdr ...string) sesametest.Response {
			body := `{"username":"` + user + `","password":"` + pw + `"}`
			if len(hdr) == 1 { // a device token for the body
				body = `{"username":"` + user + `","password":"` + pw + `","device_token":"` + hdr[0] + `"}`
				hdr = nil
			}
			return e.Do(nil, "POST", "/auth/login", body, append([]string{"X-Session-Transport", "header", fromHeader, from}, hdr...)...)
		}
		r := login("192.0.2.10", "alice", "alice-pw")
		var tk struct {
			DeviceToken string `json:"device_token"`
		}
		json.Unmarshal([]byte(r.Body), &tk)
		if r.Status != 200 || tk.DeviceToken == "" {
			t.Fatalf("login: %d %s", r.Status, r.Body)
		}
		// The browser's device cookie, from a cookie-transport login.
		r = e.Do(nil, "POST", "/auth/login", `{"username":"alice","password":"alice-pw"}`, fromHeader, "192.0.2.11")
		var cookie string
		for _, c := range r.Header.Values("Set-Cookie") {
			if strings.HasPrefix(c, "__Host-sesame-device=") {
				cookie, _, _ = strings.Cut(c, ";")
			}
		}
		if cookie == "" {
			t.Fatalf("no device cookie: %q", r.Header.Values("Set-Cookie"))
		}

		for i := range 10 {
			if r := login(fmt.Sprintf("198.18.0.%d", i+1), "alice", "guess"); r.Status != 401 {
				t.Fatalf("guess %d: %d", i+1, r.Status)
			}
		}
		r = login("192.0.2.20", "alice", "alice-pw")
		if r.Status != 429 || r.Code() != auth.CodeRateLimited || r.Header.Get("Retry-After") == "" {
			t.Fatalf("right password without a device token: %d %s, want 429 with Retry-After", r.Status, r.Body)
		}
		if r := login("192.0.2.21", "alice", "alice-pw", tk.DeviceToken); r.Status != 200 {
			t.Fatalf("right password with the device token: %d %s", r.Status, r.Body)
		}
		if r := e.Do(nil, "POST", "/auth/login", `{"username":"alice","password":"alice-pw"}`, fromHeader, "192.0.2.22", "Cookie", cookie); r.Status != 200 {
			t.Fatalf("right password with the device cookie: %d %s", r.Status, r.Body)
		}
		// Stolen: 10 guesses, then 429.
		for i := range 10 {
			if r := login(fmt.Sprintf("198.18.1.%d", i+1), "alice", "guess", tk.DeviceToken); r.Status != 401 {
				t.Fatalf("guess %d with the device token: %d", i+1, r.Status)
			}
		}
		if r := login("198.18.1.99", "alice", "alice-pw", tk.DeviceToken); r.Status != 429 {
			t.Fatalf("11th try with the device token: %d", r.Status)
		}
		// Another username: the token does nothing.
		for i := range 10 {
			login(fmt.Sprintf("198.18.2.%d", i+1), "bob", "guess")
		}
		if r := login("192.0.2.23", "bob", "bob-pw", tk.DeviceToken); r.Status != 429 {
			t.Fatalf("alice's device token for bob: %d", r.Status)
		}
		e.intact(t)
	})
}
