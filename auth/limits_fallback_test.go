package auth_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/sesame-go/sesame/auth"
	"github.com/sesame-go/sesame/internal/redistest"
)

// TestLimitsFallBackWhenRedisPauses: with Redis paused, logins are still
// limited, by each node alone, and Stats says so; once Redis answers again
// the fleet shares one count again.
func TestLimitsFallBackWhenRedisPauses(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t, nil)
	f := newFleet(t, func() redis.UniversalClient { return fastFailClient(t, srv) }, func(c *auth.Config[Profile]) {
		c.Limits.Timeout = time.Second
	})
	fallback := func(i int) bool { return f.ms[i].Stats().LimiterFallback["login_address"] }
	if fallback(0) || fallback(1) {
		t.Fatal("fallback before the outage")
	}

	srv.Pause()
	resumed := false
	defer func() {
		if !resumed {
			srv.Resume()
		}
	}()
	ip := "192.0.2.1"
	for i := range 20 {
		if r := f.loginH(0, ip, fmt.Sprintf("user%d", i), "x"); r.Status != 401 {
			t.Fatalf("attempt %d with Redis paused: %d %s", i+1, r.Status, r.Body)
		}
	}
	want429(t, f.loginH(0, ip, "another", "x"), "attempt 21 on the same node, Redis paused")
	if !fallback(0) {
		t.Fatal("Stats().LimiterFallback does not show the fallback")
	}
	// Node 1 counts alone meanwhile: the fleet allows more, never unlimited.
	if r := f.loginH(1, ip, "another", "x"); r.Status != 401 {
		t.Fatalf("attempt on the other node, Redis paused: %d %s", r.Status, r.Body)
	}

	srv.Resume()
	resumed = true
	// The limiter asks Redis again at most a second after its last failure.
	n := 0
	waitFor(t, 20*time.Second, func() bool {
		shared := true
		for i := range f.ms {
			n++
			f.loginH(i, fmt.Sprintf("198.51.100.%d", n%250+1), fmt.Sprintf("probe%d", n), "x")
			shared = shared && !fallback(i)
		}
		return shared
	})
	ip = "192.0.2.2"
	for i := range 20 {
		if r := f.loginH(i, ip, fmt.Sprintf("user%d", i), "x"); r.Status != 401 {
			t.Fatalf("attempt %d after the outage: %d %s", i+1, r.Status, r.Body)
		}
	}
	for i := range 2 {
		want429(t, f.loginH(i, ip, "another", "x"), fmt.Sprintf("attempt 21 on node %d after the outage", i))
	}
}
