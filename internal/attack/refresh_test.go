package attack_test

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sesame-go/sesame/auth"
	"github.com/sesame-go/sesame/internal/redistest"
	"github.com/sesame-go/sesame/internal/sesametest"
	"github.com/sesame-go/sesame/internal/testclock"
	"github.com/sesame-go/sesame/revocation"
)

// TestReplayAfterLogout: after logout, the access token (sid denylisted) and
// the refresh token (family gone) are refused, on every route.
func TestReplayAfterLogout(t *testing.T) {
	t.Parallel()
	backends(t, func(t *testing.T, o options) {
		e := newEnv(t, o)
		tk := e.LoginAs("bob")
		if r := e.Do(nil, "POST", "/auth/logout", "", sesametest.Bearer(tk.AccessToken)...); r.Status != 204 {
			t.Fatalf("logout: %d", r.Status)
		}
		waitFor(t, 2*time.Second, func() bool { return e.Do(nil, "GET", "/app", "", sesametest.Bearer(tk.AccessToken)...).Status == 401 })
		hits := e.totalHits()
		for _, p := range []struct{ m, path string }{{"GET", "/app"}, {"POST", "/pay"}, {"GET", "/auth/session"}, {"POST", "/auth/logout"}} {
			if r := e.Do(nil, p.m, p.path, "", sesametest.Bearer(tk.AccessToken)...); r.Status != 401 || r.Code() != "revoked" {
				t.Fatalf("%s %s after logout: %d %s", p.m, p.path, r.Status, r.Body)
			}
		}
		if r, _ := e.Refresh(tk.RefreshToken); r.Status != 401 || r.Code() != "invalid_refresh_token" {
			t.Fatalf("refresh after logout: %d %s", r.Status, r.Body)
		}
		if e.totalHits() != hits {
			t.Fatal("handler reached")
		}
		e.intact(t)
	})
}

// TestLogoutAllOnAnotherNode: two managers on one Redis; logout-all on B
// ends A's sessions of that user, within the replica's propagation time.
func TestLogoutAllOnAnotherNode(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t, nil)
	clk, ks := &testclock.Offset{}, newKeySource(t)
	a := newEnv(t, options{redis: srv, prefix: "shared:", clk: clk, keys: ks})
	b := newEnv(t, options{redis: srv, prefix: "shared:", clk: clk, keys: ks})
	s1, s2 := a.LoginAs("bob"), a.LoginAs("bob")
	if r := b.Do(nil, "POST", "/auth/logout-all", "", sesametest.Bearer(s1.AccessToken)...); r.Status != 204 {
		t.Fatalf("logout-all on B: %d", r.Status)
	}
	for _, tk := range []sesametest.Tokens{s1, s2} {
		waitFor(t, 2*time.Second, func() bool { return a.Do(nil, "GET", "/app", "", sesametest.Bearer(tk.AccessToken)...).Status == 401 })
		if r := a.Do(nil, "GET", "/app", "", sesametest.Bearer(tk.AccessToken)...); r.Code() != "revoked" {
			t.Fatalf("replay on A: %s", r.Body)
		}
		if r, _ := a.Refresh(tk.RefreshToken); r.Status != 401 {
			t.Fatalf("refresh replay on A: %d", r.Status)
		}
	}
	// alice (on both nodes) is untouched.
	a.intact(t)
	b.intact(t)
}

// TestDenylistOutlivesToken: a revoked token is refused at every moment
// until it has expired, including the leeway; the entry then goes (the list
// stays small) and the token is refused as expired.
func TestDenylistOutlivesToken(t *testing.T) {
	t.Parallel()
	backends(t, func(t *testing.T, o options) {
		e := newEnv(t, o)
		tk := e.LoginAs("bob")
		exp := time.Unix(num(claimsMap(t, tk.AccessToken), "exp"), 0)
		sid := claimsMap(t, tk.AccessToken)["sid"].(string)
		if r := e.Do(nil, "POST", "/auth/logout", "", sesametest.Bearer(tk.AccessToken)...); r.Status != 204 {
			t.Fatal(r.Status)
		}
		for _, at := range []time.Duration{0, 29 * time.Second} { // up to exp + leeway - 1s
			e.clk.Set(time.Until(exp.Add(at)))
			e.waitFresh()
			if r := e.Do(nil, "GET", "/app", "", sesametest.Bearer(tk.AccessToken)...); r.Status != 401 || r.Code() != "revoked" {
				t.Fatalf("at exp%+v: %d %s", at, r.Status, r.Body)
			}
			if rev, err := e.store.IsRevoked(context.Background(), revocation.Subject{SID: sid}); err != nil || !rev {
				t.Fatalf("store forgot the sid at exp%+v", at)
			}
		}
		e.clk.Set(time.Until(exp.Add(31 * time.Second)))
		e.waitFresh()
		if r := e.Do(nil, "GET", "/app", "", sesametest.Bearer(tk.AccessToken)...); r.Status != 401 || r.Code() != "expired" {
			t.Fatalf("after exp+leeway: %d %s", r.Status, r.Body)
		}
		e.clk.Set(time.Until(exp.Add(revocation.DefaultEntryTTL + time.Second)))
		if rev, _ := e.store.IsRevoked(context.Background(), revocation.Subject{SID: sid}); rev {
			t.Fatal("denylist entry outlived EntryTTL")
		}
	})
}

// TestForgedLogoutOfAnotherSession: mallory holds her own session and the
// victim's family id. It is in the clear part of a refresh token (e.g. from
// a log), and anyone who has seen the victim's access token derives it from
// the clear sid and the user id (revocation.DeriveFamilyID). Nothing she can
// send ends or moves the victim's session.
func TestForgedLogoutOfAnotherSession(t *testing.T) {
	t.Parallel()
	backends(t, func(t *testing.T, o options) {
		e := newEnv(t, o)
		m := e.LoginAs("mallory")
		vsid := claimsMap(t, e.victim.AccessToken)["sid"].(string)
		vfid, ok := revocation.DeriveFamilyID(e.family(e.victim.RefreshToken).UserID, vsid)
		if rfid, _ := revocation.TokenFamilyID(e.victim.RefreshToken); !ok || vfid != rfid {
			t.Fatalf("family id derived from the access token %q (%v), in the refresh token %q", vfid, ok, rfid)
		}
		for _, tc := range []struct {
			name, method, path, body string
			hdr                      []string
			status                   int
			code                     string
		}{
			{"delete-victim-sid", "DELETE", "/auth/sessions/" + vsid, "", sesametest.Bearer(m.AccessToken), 404, "not_found"},
			{"delete-victim-family-id", "DELETE", "/auth/sessions/" + vfid, "", sesametest.Bearer(m.AccessToken), 404, "not_found"},
			{"refresh-victim-family-forged-secret", "POST", "/auth/refresh", `{"refresh_token":"` + vfid + "." + strings.Repeat("A", 43) + `"}`, []string{"X-Session-Transport", "header"}, 401, "invalid_refresh_token"},
			{"refresh-victim-family-own-secret", "POST", "/auth/refresh", `{"refresh_token":"` + vfid + m.RefreshToken[24:] + `"}`, []string{"X-Session-Transport", "header"}, 401, "invalid_refresh_token"},
			{"logout-with-victim-refresh-cookie", "POST", "/auth/logout", "", []string{"Cookie", "__Host-sesame-refresh=" + vfid + "." + strings.Repeat("A", 43)}, 401, "unauthenticated"},
			{"logout-bad-bearer-forged-refresh-body", "POST", "/auth/logout", `{"refresh_token":"` + vfid + "." + strings.Repeat("A", 43) + `"}`, []string{"Authorization", "Bearer x.y.z"}, 401, "malformed"},
			{"logout-expired-style-forged-refresh-cookie", "POST", "/auth/logout", "", []string{"Cookie", "__Host-sesame=x.y.z; __Host-sesame-refresh=" + vfid + m.RefreshToken[24:]}, 401, "malformed"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				if r := e.Do(nil, tc.method, tc.path, tc.body, tc.hdr...); r.Status != tc.status || r.Code() != tc.code {
					t.Fatalf("got %d %s, want %d %s", r.Status, r.Code(), tc.status, tc.code)
				}
				e.intact(t)
			})
		}
	})
}

// TestRotationRace: goroutines released together present one refresh token
// (on one node, and for Redis across two nodes): every answer is the same
// successor, never two different valid ones, and nobody is logged out.
func TestRotationRace(t *testing.T) {
	t.Parallel()
	backends(t, func(t *testing.T, o options) {
		nodes := []*env{newEnv(t, o)}
		if o.redis != nil {
			a := newEnv(t, options{redis: o.redis, prefix: "race:", keys: nodes[0].keys})
			nodes = []*env{a, newEnv(t, options{redis: o.redis, prefix: "race:", keys: a.keys})}
		}
		for round := range 4 {
			tk := nodes[0].LoginAs("bob")
			rt := tk.RefreshToken
			for gen := range 3 { // race at several generations
				const n = 8
				var wg sync.WaitGroup
				start := make(chan struct{})
				got := make([]string, n)
				codes := make([]int, n)
				for i := range n {
					wg.Add(1)
					go func() {
						defer wg.Done()
						<-start
						e := nodes[i%len(nodes)]
						r, err := e.Try(nil, "POST", "/auth/refresh", `{"refresh_token":"`+rt+`"}`, "X-Session-Transport", "header")
						if err != nil {
							return
						}
						codes[i] = r.Status
						if r.Status == 200 {
							got[i] = r.Body[strings.Index(r.Body, `"refresh_token":"`)+17:][:68]
						}
					}()
				}
				close(start)
				wg.Wait()
				for i := range n {
					if codes[i] != 200 || got[i] != got[0] {
						t.Fatalf("round %d gen %d: answers %v, successors differ or failed", round, gen, codes)
					}
				}
				rt = got[0]
			}
		}
	})
}

// TestLogoutRacingRefresh: a logout and refreshes race; afterwards every
// token of the session is dead, whatever order they ran in.
func TestLogoutRacingRefresh(t *testing.T) {
	t.Parallel()
	backends(t, func(t *testing.T, o options) {
		e := newEnv(t, o)
		for round := range 10 {
			tk := e.LoginAs("bob")
			var wg sync.WaitGroup
			start := make(chan struct{})
			var mu sync.Mutex
			var issued []sesametest.Tokens
			for i := range 4 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					<-start
					if i == 0 {
						e.Try(nil, "POST", "/auth/logout", "", sesametest.Bearer(tk.AccessToken)...)
						return
					}
					r, err := e.Try(nil, "POST", "/auth/refresh", `{"refresh_token":"`+tk.RefreshToken+`"}`, "X-Session-Transport", "header")
					if err == nil && r.Status == 200 {
						var t2 sesametest.Tokens
						t2.AccessToken = r.Body[strings.Index(r.Body, `"access_token":"`)+16:]
						t2.AccessToken = t2.AccessToken[:strings.IndexByte(t2.AccessToken, '"')]
						t2.RefreshToken = r.Body[strings.Index(r.Body, `"refresh_token":"`)+17:][:68]
						mu.Lock()
						issued = append(issued, t2)
						mu.Unlock()
					}
				}()
			}
			close(start)
			wg.Wait()
			all := append(issued, tk)
			for _, x := range all {
				if r, _ := e.Refresh(x.RefreshToken); r.Status != 401 {
					t.Fatalf("round %d: a refresh token outlived logout: %d %s", round, r.Status, r.Body)
				}
				waitFor(t, 2*time.Second, func() bool { return e.Do(nil, "GET", "/app", "", sesametest.Bearer(x.AccessToken)...).Status == 401 })
			}
		}
		e.intact(t)
	})
}

// TestMalformedRefreshTokens and kind confusion: each is refused with
// invalid_refresh_token (or malformed where an access token is expected)
// and changes nothing.
func TestMalformedRefreshTokens(t *testing.T) {
	t.Parallel()
	backends(t, func(t *testing.T, o options) {
		e := newEnv(t, o)
		rt := e.victim.RefreshToken
		for _, tc := range []struct{ name, body string }{
			{"empty", `{"refresh_token":""}`},
			{"no-dot", `{"refresh_token":"` + strings.Replace(rt, ".", "A", 1) + `"}`},
			{"truncated", `{"refresh_token":"` + rt[:67] + `"}`},
			{"extended", `{"refresh_token":"` + rt + `A"}`},
			{"padded", `{"refresh_token":"` + rt + `="}`},
			{"spare-bits", `{"refresh_token":"` + rt[:67] + string(spareBitTwin(rt[67])) + `"}`},
			{"upper-case", `{"refresh_token":"` + strings.ToUpper(rt) + `"}`},
			{"std-alphabet", `{"refresh_token":"` + strings.NewReplacer("-", "+", "_", "/").Replace(withURLChars(e, rt)) + `"}`},
			{"600-chars", `{"refresh_token":"` + strings.Repeat("A", 600) + `"}`},
			{"nul", `{"refresh_token":"` + rt[:30] + `\u0000` + rt[31:] + `"}`},
			{"access-token", `{"refresh_token":"` + e.victim.AccessToken + `"}`},
		} {
			t.Run(tc.name, func(t *testing.T) {
				r := e.Do(nil, "POST", "/auth/refresh", tc.body, "X-Session-Transport", "header")
				if r.Status != 401 || r.Code() != "invalid_refresh_token" {
					if tc.name == "spare-bits" && r.Status == 200 {
						t.Fatal("a malleated refresh token rotated the family")
					}
					t.Fatalf("got %d %s", r.Status, r.Body)
				}
				e.intact(t)
			})
		}
		t.Run("refresh-token-as-bearer", func(t *testing.T) {
			if r := e.Do(nil, "GET", "/app", "", sesametest.Bearer(rt)...); r.Status != 401 || r.Code() != "malformed" {
				t.Fatalf("got %d %s", r.Status, r.Body)
			}
			e.intact(t)
		})
		t.Run("refresh-token-as-access-cookie", func(t *testing.T) {
			if r := e.Do(nil, "GET", "/app", "", e.accessCookie(rt)...); r.Status != 401 || r.Code() != "malformed" {
				t.Fatalf("got %d %s", r.Status, r.Body)
			}
			e.intact(t)
		})
		t.Run("access-token-as-refresh-cookie", func(t *testing.T) {
			if r := e.Do(nil, "POST", "/auth/refresh", "", "Cookie", "__Host-sesame-refresh="+e.victim.AccessToken); r.Status != 401 || r.Code() != "invalid_refresh_token" {
				t.Fatalf("got %d %s", r.Status, r.Body)
			}
			e.intact(t)
		})
	})
}

// TestIdleAndAbsoluteLimits drives the store's injected clock past the idle
// timeout and the absolute lifetime.
func TestIdleAndAbsoluteLimits(t *testing.T) {
	t.Parallel()
	backends(t, func(t *testing.T, o options) {
		o.cfg = func(c *auth.Config[Profile]) {
			c.RefreshIdle = time.Hour
			c.SessionLifetime = 150 * time.Minute
		}
		e := newEnv(t, o)
		t.Run("idle", func(t *testing.T) {
			tk := e.LoginAs("bob")
			e.clk.Advance(59 * time.Minute)
			r, tk2 := e.Refresh(tk.RefreshToken)
			if r.Status != 200 {
				t.Fatalf("inside idle: %d %s", r.Status, r.Body)
			}
			e.clk.Advance(61 * time.Minute)
			if r, _ := e.Refresh(tk2.RefreshToken); r.Status != 401 || r.Code() != "refresh_expired" {
				t.Fatalf("past idle: %d %s", r.Status, r.Body)
			}
			e.clk.Set(0)
			e.waitFresh()
		})
		t.Run("absolute", func(t *testing.T) {
			tk := e.LoginAs("bob")
			rt := tk.RefreshToken
			for range 2 { // 2 × 50 min, each inside the idle timeout
				e.clk.Advance(50 * time.Minute)
				r, next := e.Refresh(rt)
				if r.Status != 200 {
					t.Fatalf("inside limits: %d %s", r.Status, r.Body)
				}
				rt = next.RefreshToken
			}
			e.clk.Advance(51 * time.Minute) // 151 min > 150 min absolute, inside idle
			if r, _ := e.Refresh(rt); r.Status != 401 || r.Code() != "refresh_expired" {
				t.Fatalf("past absolute lifetime: %d %s", r.Status, r.Body)
			}
			e.clk.Set(0)
		})
	})
}

// TestThiefFollowingTheChain pins the documented limit of the grace rules
// (revocation package docs): a thief holding a refresh token follows the
// chain while every presentation is at most one generation behind; the
// first presentation two generations behind, after the grace window, is
// reuse, which ends the family for both and is reported as theft.
func TestThiefFollowingTheChain(t *testing.T) {
	t.Parallel()
	backends(t, func(t *testing.T, o options) {
		e := newEnv(t, o)
		victim := e.LoginAs("bob")
		for range 3 {
			// The victim refreshes first; the thief then presents the same
			// token, now one generation behind, and gets the same successor.
			stolen := victim.RefreshToken
			r, next := e.Refresh(victim.RefreshToken)
			if r.Status != 200 {
				t.Fatalf("victim refresh: %d", r.Status)
			}
			r, got := e.Refresh(stolen)
			if r.Status != 200 || got.RefreshToken != next.RefreshToken {
				t.Fatalf("thief one generation behind: %d (documented: replays the same successor)", r.Status)
			}
			victim = next
		}
		stolen := victim.RefreshToken
		// The victim moves two generations ahead; past the grace window the
		// thief's token is reuse.
		_, v1 := e.Refresh(victim.RefreshToken)
		_, v2 := e.Refresh(v1.RefreshToken)
		e.clk.Advance(revocation.DefaultGraceWindow + time.Second)
		e.waitFresh()
		theft := e.eventCount(auth.EventRefreshReused)
		if r, _ := e.Refresh(stolen); r.Status != 401 || r.Code() != "refresh_token_reused" {
			t.Fatalf("thief two generations behind: %d %s", r.Status, r.Body)
		}
		if e.eventCount(auth.EventRefreshReused) != theft+1 {
			t.Fatal("no theft event")
		}
		if r, _ := e.Refresh(v2.RefreshToken); r.Status != 401 {
			t.Fatalf("family survived reuse: %d", r.Status)
		}
		waitFor(t, 2*time.Second, func() bool { return e.Do(nil, "GET", "/app", "", sesametest.Bearer(v2.AccessToken)...).Status == 401 })
		e.intact(t)
	})
}

// TestCrossSiteStateChanges: refresh, logout and session deletion in cookie
// transport, sent cross-site with the victim's cookies, are refused and
// change nothing.
func TestCrossSiteStateChanges(t *testing.T) {
	t.Parallel()
	e := newEnv(t, options{})
	r := e.Do(nil, "POST", "/auth/login", `{"username":"bob","password":"bob-pw"}`)
	var access, refresh string
	for _, ck := range r.Header.Values("Set-Cookie") {
		v := strings.SplitN(ck, ";", 2)[0]
		if strings.HasPrefix(v, "__Host-sesame=") {
			access = strings.TrimPrefix(v, "__Host-sesame=")
		} else {
			refresh = strings.TrimPrefix(v, "__Host-sesame-refresh=")
		}
	}
	gen := e.family(refresh).Generation
	sid := claimsMap(t, access)["sid"].(string)
	cookies := "__Host-sesame=" + access + "; __Host-sesame-refresh=" + refresh
	for _, p := range []struct{ method, path string }{
		{"POST", "/auth/refresh"}, {"POST", "/auth/logout"}, {"POST", "/auth/logout-all"},
		{"DELETE", "/auth/sessions/" + sid}, {"POST", "/app"}, {"POST", "/pay"},
	} {
		for _, h := range [][]string{{"Sec-Fetch-Site", "cross-site"}, {"Origin", "https://evil.example"}} {
			hits := e.totalHits()
			r := e.Do(nil, p.method, p.path, "", "Cookie", cookies, h[0], h[1])
			if r.Status != 403 || r.Code() != "forbidden" || e.totalHits() != hits {
				t.Fatalf("%s %s %v: %d %s", p.method, p.path, h, r.Status, r.Body)
			}
		}
	}
	if g := e.family(refresh).Generation; g != gen {
		t.Fatalf("generation moved: %d → %d", gen, g)
	}
	if r := e.Do(nil, "GET", "/app", "", "Cookie", "__Host-sesame="+access); r.Status != 200 {
		t.Fatalf("session ended by a cross-site request: %d", r.Status)
	}
	e.intact(t)
}

// withURLChars returns rt if it holds '-' or '_' (so that the standard
// alphabet spells it differently), else the refresh token of a new session
// that does.
func withURLChars(e *env, rt string) string {
	for !strings.ContainsAny(rt, "-_") {
		rt = e.LoginAs("mallory").RefreshToken
	}
	return rt
}
