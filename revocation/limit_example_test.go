package revocation_test

import (
	"context"
	"fmt"
	"time"

	"github.com/sesame-go/sesame/revocation"
)

// A login handler reserves before it checks the password, so concurrent
// guesses cannot overtake the count, and clears the user's budget on
// success. With a NewRedis store the same calls count across the fleet.
func ExampleLimiter() {
	now := time.Date(2030, 1, 1, 12, 0, 0, 0, time.UTC) // a fixed clock, for stable output
	store, _ := revocation.NewMemory(&revocation.MemoryOptions{Now: func() time.Time { return now }})
	perUser, _ := store.(revocation.LimiterSource).Limiter("login-user", revocation.Rate{Limit: 3, Period: 5 * time.Minute}, nil)
	ctx := context.Background()

	login := func(user, password string) string {
		if d := perUser.Reserve(ctx, user); !d.Allowed {
			return fmt.Sprintf("429, retry after %v", d.RetryAfter)
		}
		if password != "correct horse" { // the slow password check
			return "401"
		}
		perUser.Reset(ctx, user)
		return "200"
	}
	for _, pw := range []string{"a", "b", "c", "d", "correct horse"} {
		fmt.Println(login("alice", pw))
	}
	// Output:
	// 401
	// 401
	// 401
	// 429, retry after 1m40s
	// 429, retry after 1m40s
}
