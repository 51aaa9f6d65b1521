package revocation

import "context"

type noWalkKey struct{}

// WithoutReuseWalk returns a context under which a Refresh does not walk
// forward from a presented secret to tell a stolen old token from a
// forgery. A token that is neither the family's current one nor within its
// grace window is then answered [ErrInvalidToken] rather than a
// [*ReuseError], and the family is left alone.
//
// The walk is what makes a forged secret expensive: up to ReuseLookback
// (default 4096) HMACs when the forgery names an existing family, against
// two for a genuine current token. auth uses this context for requests from
// an address that has used up its budget of failed refreshes, so that such
// an address still gets a valid token through (it costs two HMACs and one
// round trip) while every forgery it sends costs the same small amount.
// Theft detection loses nothing: a stolen old token presented from a
// blocked address gains nothing, and is recognised when presented again
// once the address is under its budget.
func WithoutReuseWalk(ctx context.Context) context.Context {
	return context.WithValue(ctx, noWalkKey{}, true)
}

// lookbackFor is how many generations a Refresh under ctx may walk.
func lookbackFor(ctx context.Context, gen uint64, lookback int) int {
	if skip, _ := ctx.Value(noWalkKey{}).(bool); skip {
		return 0
	}
	return int(min(gen, uint64(lookback)))
}
