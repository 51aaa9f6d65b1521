package attack_test

import (
	"fmt"
	"sync"
	"testing"

	"github.com/sesame-go/sesame/auth"
)

// TestConcurrentGuessesOneUser (BUG-2): five addresses send 20 wrong
// passwords each for one username, all at once. The per-username budget is
// 10, so exactly 10 password checks may run: the failure is reserved before
// the check, not counted after it.
func TestConcurrentGuessesOneUser(t *testing.T) {
	backends(t, func(t *testing.T, o options) {
		held := &heldAuth{countingAuth: &countingAuth{}}
		o.cfg = func(c *auth.Config[Profile]) {
			throttling(c)
			c.Authenticator = held
		}
		e := newEnv(t, o)
		const addrs, each = 5, 20
		before := held.hashes.Load()
		held.arm(addrs * each)
		var wg sync.WaitGroup
		var mu sync.Mutex
		got := map[int]int{}
		for a := range addrs {
			for range each {
				wg.Go(func() {
					r := e.Do(nil, "POST", "/auth/login", `{"username":"bob","password":"guess"}`,
						"X-Session-Transport", "header", fromHeader, fmt.Sprintf("203.0.113.%d", a+1))
					if r.Status != 401 {
						held.done()
					}
					mu.Lock()
					got[r.Status]++
					mu.Unlock()
				})
			}
		}
		wg.Wait()
		if checks := held.hashes.Load() - before; checks != 10 || got[401] != 10 || got[429] != addrs*each-10 {
			t.Fatalf("%d password checks, statuses %v; want 10 checks, 10×401 and %d×429", checks, got, addrs*each-10)
		}
		e.intact(t)
	})
}
