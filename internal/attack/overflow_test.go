package attack_test

import (
	"math"
	"testing"
)

// TestLifetimeOverflow is the outside probe's BUG-1: a key holder (or a bug
// in a minting service) signs a token with iat = −6e18 and exp = 4e18. exp −
// iat wraps around int64 to a negative number, which passed the
// "exp − iat ≤ MaxLifetime" check, and the token lived for 10¹¹ years.
// Every variant must be refused as invalid_claims on every route.
func TestLifetimeOverflow(t *testing.T) {
	t.Parallel()
	e := newEnv(t, options{})
	now := func(e *env) int64 { return e.clk.Now().Unix() }
	set := func(name string, iat func(e *env) int64, exp int64) tokCase {
		return tokCase{name: name, code: "invalid_claims", tok: func(e *env) string {
			return e.forge(func(c map[string]any) {
				c["iat"], c["nbf"], c["exp"] = iat(e), now(e), exp
			})
		}}
	}
	runTokenCases(t, e, []tokCase{
		set("reported", func(*env) int64 { return -6e18 }, 4e18),
		set("iat-min", func(*env) int64 { return math.MinInt64 + 1 }, 4e18),
		set("iat-epoch", func(*env) int64 { return 1 }, 4e18),
		set("iat-a-year-ago", func(e *env) int64 { return now(e) - 365*86400 }, 4e18),
	})
}
