package revocation

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/sesame-go/sesame/internal/redistest"
)

// limiterFactory makes limiters on one backend; clock nil means the
// backend's own clock (for Redis, the server's TIME).
type limiterFactory func(t *testing.T, r Rate, clock func() time.Time) Limiter

func localFactory(t *testing.T, r Rate, clock func() time.Time) Limiter {
	l, err := NewLocalLimiter(r, &LimiterOptions{Now: clock})
	if err != nil {
		t.Fatal(err)
	}
	return l
}

func redisFactory(client redis.UniversalClient) limiterFactory {
	return func(t *testing.T, r Rate, clock func() time.Time) Limiter {
		l, err := newRedisLimiter(client, uniquePrefix(), "test", r, &LimiterOptions{Now: clock, Timeout: 5 * time.Second})
		if err != nil {
			t.Fatal(err)
		}
		return l
	}
}

var tenPer5m = Rate{Limit: 10, Period: 5 * time.Minute}

// limiterContract is what every Limiter must do.
func limiterContract(t *testing.T, mk limiterFactory) {
	ctx := context.Background()

	// BUG-2's shape: five addresses send 20 wrong passwords each for one
	// user, at once. Reserve runs before the (slow) check, so exactly the
	// limit gets through, not 100.
	for _, clk := range []struct {
		name string
		now  func() time.Time
	}{{"injected clock", newFakeClock().Now}, {"backend clock", nil}} {
		t.Run("concurrent reserve is exact/"+clk.name, func(t *testing.T) {
			l := mk(t, tenPer5m, clk.now)
			var allowed atomic.Int64
			var wg sync.WaitGroup
			for range 5 {
				wg.Go(func() {
					for range 20 {
						d := l.Reserve(ctx, "alice")
						if d.Local {
							t.Error("answered locally")
						}
						if d.Allowed {
							allowed.Add(1)
						}
					}
				})
			}
			wg.Wait()
			if n := allowed.Load(); n != 10 {
				t.Fatalf("%d of 100 concurrent attempts allowed, want exactly 10", n)
			}
		})
	}

	// A clock stepped back (NTP) must not block a key until the clock
	// catches up: the key counts as exhausted, and refills as usual.
	t.Run("clock stepped back", func(t *testing.T) {
		clk := newFakeClock()
		l := mk(t, tenPer5m, clk.Now)
		for range 10 {
			l.Reserve(ctx, "k")
		}
		clk.Advance(time.Hour)
		for range 10 {
			if d := l.Reserve(ctx, "k"); !d.Allowed {
				t.Fatalf("an hour later: %+v, want allowed", d)
			}
		}
		clk.Advance(-time.Hour) // the clock steps back an hour
		d := l.Reserve(ctx, "k")
		if d.Allowed || d.RetryAfter > 30*time.Second {
			t.Fatalf("after a step back: %+v, want refused for at most one interval (30s), not an hour", d)
		}
		clk.Advance(30 * time.Second)
		if d := l.Reserve(ctx, "k"); !d.Allowed {
			t.Fatalf("one interval after the step back: %+v, want allowed", d)
		}
	})

	t.Run("budget, retry-after and refill", func(t *testing.T) {
		clk := newFakeClock()
		l := mk(t, tenPer5m, clk.Now)
		for i := range 10 {
			d := l.Reserve(ctx, "k")
			if !d.Allowed || d.Remaining != 9-i {
				t.Fatalf("attempt %d: %+v, want allowed with %d remaining", i+1, d, 9-i)
			}
		}
		d := l.Reserve(ctx, "k")
		if d.Allowed || d.RetryAfter != 30*time.Second {
			t.Fatalf("11th: %+v, want denied, retry after 30s", d)
		}
		if d := l.Reserve(ctx, "other"); !d.Allowed || d.Remaining != 9 {
			t.Fatalf("another key: %+v", d)
		}
		clk.Advance(29 * time.Second)
		if d := l.Reserve(ctx, "k"); d.Allowed || d.RetryAfter != time.Second {
			t.Fatalf("after 29s: %+v, want denied, retry after 1s", d)
		}
		clk.Advance(time.Second)
		if d := l.Reserve(ctx, "k"); !d.Allowed || d.Remaining != 0 {
			t.Fatalf("after 30s: %+v, want one allowed", d)
		}
		clk.Advance(5 * time.Minute)
		if d := l.Peek(ctx, "k"); !d.Allowed || d.Remaining != 9 {
			t.Fatalf("after a full period: %+v, want the whole budget", d)
		}
	})

	t.Run("peek takes nothing", func(t *testing.T) {
		l := mk(t, Rate{Limit: 2, Period: time.Minute}, newFakeClock().Now)
		for range 5 {
			if d := l.Peek(ctx, "k"); !d.Allowed || d.Remaining != 1 {
				t.Fatalf("peek: %+v", d)
			}
		}
		l.Reserve(ctx, "k")
		l.Reserve(ctx, "k")
		if d := l.Peek(ctx, "k"); d.Allowed || d.RetryAfter != 30*time.Second {
			t.Fatalf("peek of an exhausted key: %+v", d)
		}
	})

	t.Run("refund and reset", func(t *testing.T) {
		l := mk(t, Rate{Limit: 3, Period: time.Minute}, newFakeClock().Now)
		for range 3 {
			l.Reserve(ctx, "k")
		}
		l.Refund(ctx, "k")
		if d := l.Reserve(ctx, "k"); !d.Allowed {
			t.Fatalf("after a refund: %+v", d)
		}
		if d := l.Reserve(ctx, "k"); d.Allowed {
			t.Fatalf("refund gave more than one: %+v", d)
		}
		l.Reset(ctx, "k")
		if d := l.Peek(ctx, "k"); !d.Allowed || d.Remaining != 2 {
			t.Fatalf("after reset: %+v", d)
		}
		for range 5 {
			l.Refund(ctx, "fresh") // never above the limit
		}
		for i := range 4 {
			if d := l.Reserve(ctx, "fresh"); d.Allowed != (i < 3) {
				t.Fatalf("attempt %d after refunds of an untouched key: %+v", i+1, d)
			}
		}
	})

	t.Run("off", func(t *testing.T) {
		l := mk(t, Rate{Limit: -1}, nil)
		for range 100 {
			if d := l.Reserve(ctx, "k"); !d.Allowed {
				t.Fatalf("an off limiter refused: %+v", d)
			}
		}
	})
}

func TestLocalLimiter(t *testing.T) {
	t.Parallel()
	limiterContract(t, localFactory)
}

func TestRedisLimiter(t *testing.T) {
	t.Parallel()
	limiterContract(t, redisFactory(redistest.Start(t, nil).Client()))
}

func TestRedisLimiterCluster(t *testing.T) {
	t.Parallel()
	c := redistest.StartCluster(t, nil)
	limiterContract(t, redisFactory(c.ClusterClient(clusterOpts())))
}

// TestRedisLimiterSharedByNodes: two nodes (two clients) share one budget.
func TestRedisLimiterSharedByNodes(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t, nil)
	ctx := context.Background()
	prefix := uniquePrefix()
	var nodes []Limiter
	for range 3 {
		l, err := newRedisLimiter(srv.Client(), prefix, "login-user", tenPer5m, &LimiterOptions{Timeout: 5 * time.Second})
		if err != nil {
			t.Fatal(err)
		}
		nodes = append(nodes, l)
	}
	allowed := 0
	for i := range 30 {
		d := nodes[i%3].Reserve(ctx, "alice")
		if d.Local {
			t.Fatalf("attempt %d answered locally: %v", i, nodes[i%3].Status().LastError)
		}
		if d.Allowed {
			allowed++
		}
	}
	if allowed != 10 {
		t.Fatalf("3 nodes allowed %d in total, want 10", allowed)
	}
	// The key is stored hashed, not as the username.
	keys, err := srv.Client().Keys(ctx, prefix+"*").Result()
	if err != nil || len(keys) != 1 || len(keys[0]) != len(prefix+"rl:login-user:")+22 {
		t.Fatalf("keys %v, %v", keys, err)
	}
}

// TestRedisLimiterFallback pauses and kills Redis: the limiter answers from
// its local table with the same rate (never "no limit"), says so, and goes
// back to Redis when it answers again.
func TestRedisLimiterFallback(t *testing.T) {
	t.Parallel()
	for _, outage := range []string{"pause", "kill"} {
		t.Run(outage, func(t *testing.T) {
			t.Parallel()
			srv := redistest.Start(t, nil)
			client := srv.Client(&redis.Options{MaxRetries: -1, DialTimeout: 200 * time.Millisecond})
			clk := newFakeClock()
			l, err := newRedisLimiter(client, uniquePrefix(), "x", tenPer5m, &LimiterOptions{Now: clk.Now, Timeout: 200 * time.Millisecond, RetryInterval: time.Second})
			if err != nil {
				t.Fatal(err)
			}
			ctx := context.Background()
			for range 4 {
				if d := l.Reserve(ctx, "alice"); !d.Allowed || d.Local {
					t.Fatalf("before the outage: %+v", d)
				}
			}
			if s := l.Status(); s.Fallback {
				t.Fatalf("status before the outage: %+v", s)
			}
			if outage == "pause" {
				srv.Pause()
			} else {
				srv.Kill()
			}
			allowed := 0
			for range 20 {
				d := l.Reserve(ctx, "alice")
				if !d.Local {
					t.Fatalf("during the outage, not local: %+v", d)
				}
				if d.Allowed {
					allowed++
				}
			}
			if allowed != 10 {
				t.Fatalf("during the outage %d of 20 allowed, want the local limit 10", allowed)
			}
			s := l.Status()
			if !s.Fallback || s.LastError == nil || !s.Since.Equal(clk.Now()) {
				t.Fatalf("status during the outage: %+v", s)
			}
			if outage == "pause" {
				srv.Resume()
			} else {
				srv.Restart()
			}
			if d := l.Reserve(ctx, "bob"); !d.Local {
				t.Fatalf("before RetryInterval, asked Redis: %+v", d)
			}
			clk.Advance(time.Second)
			// The first call after the interval probes Redis; a killed
			// server's pool may need one more dial.
			waitForLimiter(t, func() bool {
				if !l.Reserve(ctx, "carol").Local {
					return true
				}
				clk.Advance(time.Second)
				return false
			})
			if s := l.Status(); s.Fallback {
				t.Fatalf("status after Redis is back: %+v", s)
			}
			// A paused Redis kept the 4 counted before, plus the attempt
			// whose answer timed out (it ran on resume: the limiter errs
			// on the side of counting). A killed one (no persistence) lost
			// them all. Peek's Remaining is what is left after one more.
			left := 5
			if outage == "kill" {
				left = 10
			}
			if d := l.Peek(ctx, "alice"); d.Local || d.Remaining != left-1 {
				t.Fatalf("alice after the outage: %+v, want %d left", d, left)
			}
		})
	}
}

func waitForLimiter(t *testing.T, cond func() bool) {
	t.Helper()
	for range 50 {
		if cond() {
			return
		}
	}
	t.Fatal("the limiter did not go back to Redis")
}

// TestLocalLimiterEviction fills one slot (Capacity 8 is a single slot):
// entries back at a full budget go first, and the key an attacker drove to
// its limit is the last to go.
func TestLocalLimiterEviction(t *testing.T) {
	clk := newFakeClock()
	l, err := NewLocalLimiter(tenPer5m, &LimiterOptions{Capacity: 8, Now: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for range 10 {
		l.Reserve(ctx, "victim")
	}
	// A flood of new keys, each used a few times: the victim stays blocked.
	for i := range 10000 {
		k := fmt.Sprint("flood", i)
		for range 1 + i%9 {
			l.Reserve(ctx, k)
		}
		if d := l.Peek(ctx, "victim"); d.Allowed {
			t.Fatalf("the victim was evicted by flood key %d", i)
		}
	}
	// Driving 8 keys further than the victim is what it takes.
	clk.Advance(30 * time.Second) // the victim refilled one unit
	for i := range 8 {
		for range 10 {
			l.Reserve(ctx, fmt.Sprint("heavy", i))
		}
	}
	if d := l.Peek(ctx, "victim"); !d.Allowed || d.Remaining != 9 {
		t.Fatalf("after 8 keys were driven past it, victim: %+v (want evicted, full budget)", d)
	}
}
