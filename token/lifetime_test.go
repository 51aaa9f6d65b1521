package token_test

import (
	"errors"
	"math"
	"slices"
	"testing"
	"time"

	"github.com/sesame-go/sesame/token"
)

// TestLifetimeCapCannotOverflow signs, with the real active key, tokens whose
// iat and exp are so far apart that exp − iat does not fit in an int64. Each
// must be refused by the lifetime cap, not slip through a wrapped subtraction.
func TestLifetimeCapCannotOverflow(t *testing.T) {
	f := newFixture(t)
	hdr, minted, _ := segments(t, f.mint(t))
	now := t0.Unix()
	maxLife := int64(10 * time.Minute / time.Second)
	with := func(iat, nbf, exp int64) string {
		c := map[string]any{}
		for k, v := range minted {
			c[k] = v
		}
		c["iat"], c["nbf"], c["exp"] = iat, nbf, exp
		return resign(t, f.active, hdr, c)
	}
	claims := []error{token.ErrClaims}
	claimsOrExpired := []error{token.ErrClaims, token.ErrExpired}
	tests := []struct {
		name          string
		iat, nbf, exp int64
		want          []error // any of these; empty means accepted
	}{
		{"reported: iat -6e18, exp 4e18", -6e18, now, 4e18, claims},
		{"iat MinInt64+1, exp 4e18", math.MinInt64 + 1, now, 4e18, claims},
		{"iat -1, exp 4e18", -1, now, 4e18, claims},
		{"iat 1, exp now", 1, now, now + 10, claims},
		{"iat one second older than the cap allows", now - maxLife - 30 - 1, now, now + 10, claims},
		// Past year 292277026596 time.Unix wraps, so golang-jwt sees
		// these exp values in the past: refused, as expired.
		{"iat MinInt64+1, exp MaxInt64", math.MinInt64 + 1, now, math.MaxInt64, claimsOrExpired},
		{"iat 1, exp MaxInt64", 1, now, math.MaxInt64, claimsOrExpired},
		{"iat far future", 4e18, now, 4e18 + 60, []error{token.ErrNotYetValid}},
		// Controls: the same checks accept what the cap allows.
		{"full lifetime, minted long ago", now - maxLife + 5, now - maxLife + 5, now + 5, nil},
		{"full lifetime, minted now", now, now, now + maxLife, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tok, err := f.codec.Parse(f.ks, with(tc.iat, tc.nbf, tc.exp))
			if len(tc.want) == 0 {
				if err != nil {
					t.Fatalf("got %v, want accepted", err)
				}
				return
			}
			if !slices.ContainsFunc(tc.want, func(w error) bool { return errors.Is(err, w) }) {
				t.Fatalf("got %v, want one of %v", err, tc.want)
			}
			if tok != nil {
				t.Fatal("rejected token returned claims")
			}
		})
	}
}

// FuzzLifetime signs arbitrary iat, nbf and exp with the real key (what a
// key holder, or a buggy minting service, could produce) and checks that an
// accepted token always honours the cap, computed without overflow: exp −
// iat ≤ MaxLifetime, iat ≤ now + leeway, exp ≥ now − leeway.
func FuzzLifetime(f *testing.F) {
	fx := newFixture(f)
	hdr, minted, _ := segments(f, fx.mint(f))
	now := t0.Unix()
	f.Add(int64(-6e18), now, int64(4e18))
	f.Add(int64(math.MinInt64), int64(math.MinInt64), int64(math.MaxInt64))
	f.Add(now, now, now+600)
	f.Add(now-600, now-600, now)
	f.Fuzz(func(t *testing.T, iat, nbf, exp int64) {
		c := map[string]any{}
		for k, v := range minted {
			c[k] = v
		}
		c["iat"], c["nbf"], c["exp"] = iat, nbf, exp
		tok, err := fx.codec.Parse(fx.ks, resign(t, fx.active, hdr, c))
		if err != nil {
			return
		}
		const maxLife, leeway = 600, 30
		// In big-enough arithmetic: exp − iat ≤ maxLife  ⇔  exp ≤ iat + maxLife,
		// evaluated only once iat is known to be near now.
		if iat > now+leeway || iat < now-maxLife-leeway || exp > iat+maxLife || exp < now-leeway {
			t.Fatalf("accepted iat=%d nbf=%d exp=%d (now %d): %+v", iat, nbf, exp, now, tok.Claims)
		}
	})
}
