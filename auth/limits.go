package auth

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/sesame-go/sesame/revocation"
)

// limiters are a Manager's throttles, made once at construction. With a
// store that implements [revocation.LimiterSource] (revocation.NewRedis's
// and NewMemory's) they count in the store's backend, so every
// node of a fleet on one Redis shares one budget per key; with any other
// store (DynamoDB) each node counts alone, in a table of fixed size
// ([revocation.NewLocalLimiter]).
type limiters struct {
	loginAddr   revocation.Limiter // login attempts per address
	loginUser   revocation.Limiter // failed logins per username, without a device token
	loginDevice revocation.Limiter // failed logins per device token
	refreshAddr revocation.Limiter // failed refresh-token checks per address
	introClient revocation.Limiter // introspection calls per client
	shared      bool               // counts live in the store's backend
}

// Limiter names: Redis key names ("<prefix>rl:<name>:…") and the keys of
// [Stats].LimiterFallback.
const (
	limLoginAddr   = "login_address"
	limLoginUser   = "login_user"
	limLoginDevice = "login_device"
	limRefreshAddr = "refresh_address"
	limIntroClient = "introspection_client"
)

func newLimiters(st revocation.Store, l Limits, g Gateway, now func() time.Time) (*limiters, error) {
	src, shared := st.(revocation.LimiterSource)
	opts := &revocation.LimiterOptions{Now: now, Timeout: l.Timeout}
	mk := func(name string, n int, window time.Duration) (revocation.Limiter, error) {
		rate := revocation.Rate{Limit: n, Period: window}
		if n < 0 {
			rate = revocation.Rate{Limit: -1}
		}
		var lim revocation.Limiter
		var err error
		if shared {
			lim, err = src.Limiter(name, rate, opts)
		} else {
			lim, err = revocation.NewLocalLimiter(rate, opts)
		}
		if err != nil {
			return nil, fmt.Errorf("auth: Config.Limits (%s): %w", name, err)
		}
		return lim, nil
	}
	ls := &limiters{shared: shared}
	var err error
	for _, x := range []struct {
		p      *revocation.Limiter
		name   string
		n      int
		window time.Duration
	}{
		{&ls.loginAddr, limLoginAddr, l.LoginsPerAddress, l.Window},
		{&ls.loginUser, limLoginUser, l.FailuresPerUser, l.Window},
		{&ls.loginDevice, limLoginDevice, l.FailuresPerDevice, l.Window},
		{&ls.refreshAddr, limRefreshAddr, l.RefreshFailuresPerAddress, l.Window},
		{&ls.introClient, limIntroClient, g.IntrospectionsPerClient, g.IntrospectionWindow},
	} {
		if *x.p, err = mk(x.name, x.n, x.window); err != nil {
			return nil, err
		}
	}
	return ls, nil
}

// fallback reports, per limiter, whether it is counting on this node alone
// because the shared backend cannot be asked.
func (ls *limiters) fallback() map[string]bool {
	return map[string]bool{
		limLoginAddr:   ls.loginAddr.Status().Fallback,
		limLoginUser:   ls.loginUser.Status().Fallback,
		limLoginDevice: ls.loginDevice.Status().Fallback,
		limRefreshAddr: ls.refreshAddr.Status().Fallback,
		limIntroClient: ls.introClient.Status().Fallback,
	}
}

// addrKey is the limiter key of r's client address: its network, per
// Config.Limits.IPv4Prefix and IPv6Prefix (see [IPKey]).
func (m *Manager[T]) addrKey(r *http.Request) string {
	return IPKey(m.cfg.ClientIP(r), m.cfg.Limits.IPv4Prefix, m.cfg.Limits.IPv6Prefix)
}

// tooMany is the 429 of a limit, with Retry-After in whole seconds (at
// least 1).
func tooMany(wait time.Duration, msg string) *Error {
	return &Error{Status: http.StatusTooManyRequests, Code: CodeRateLimited, Message: msg,
		RetryAfter: max(1, int((wait+time.Second-1)/time.Second))}
}

// checkRefreshToken asks the store to rotate rt, the one refresh-token
// check of every path (POST /refresh, logout by refresh token), under the
// failed-refresh budget of r's address. e, when not nil, is a 429 to answer
// instead of err: the token failed and the address is over its budget.
//
// Only failures cost: a genuine token never takes from the budget, and is
// never refused because others behind the same address (a NAT, a carrier
// pool) used it up. So the store is always asked. What a blocked address
// can still make the store do is bounded: while it is over budget the
// check runs under [revocation.WithoutReuseWalk], two HMACs and one round
// trip whatever the token, instead of the up to ReuseLookback HMACs a
// forged secret for an existing family costs otherwise. (The price: an old,
// stolen token presented from a blocked address is answered invalid rather
// than detected as theft; it gains nothing, and is detected when presented
// again under budget.)
//
// An empty or oversized rt is a failure without a store call.
func (m *Manager[T]) checkRefreshToken(r *http.Request, rt string) (res revocation.RefreshResult, e *Error, err error) {
	ctx, key := r.Context(), m.addrKey(r)
	if rt == "" || len(rt) > 512 {
		err = revocation.ErrInvalidToken
	} else {
		sctx := ctx
		if !m.lim.refreshAddr.Peek(ctx, key).Allowed {
			sctx = revocation.WithoutReuseWalk(ctx)
		}
		res, err = m.cfg.Store.Refresh(sctx, rt)
	}
	if errors.Is(err, revocation.ErrInvalidToken) {
		if d := m.lim.refreshAddr.Reserve(ctx, key); !d.Allowed {
			return res, tooMany(d.RetryAfter, "too many failed refreshes, retry later"), err
		}
	}
	return res, nil, err
}

// loginBudget reserves, before the password is checked, one login attempt
// of r's address and one failure of the username's budget, or of the
// device's when the request carries a valid device token for username (see
// device.go). Reserving first is what makes the limits exact under
// concurrency, on one node and across the fleet: N parallel guesses cannot
// all read "under the limit" before any is counted. The returned budget
// settles the failure once the outcome is known.
func (m *Manager[T]) loginBudget(ctx context.Context, addr, userKey, device string) (failure, *Error) {
	if d := m.lim.loginAddr.Reserve(ctx, addr); !d.Allowed {
		return failure{}, tooMany(d.RetryAfter, "too many login attempts, retry later")
	}
	f := failure{m.lim.loginUser, userKey}
	if device != "" {
		f = failure{m.lim.loginDevice, device}
	}
	if d := f.lim.Reserve(ctx, f.key); !d.Allowed {
		return failure{}, tooMany(d.RetryAfter, "too many login attempts, retry later")
	}
	return f, nil
}

// failure is one failed login reserved in advance.
type failure struct {
	lim revocation.Limiter
	key string
}

// forgive clears the budget: the credentials were right.
func (f failure) forgive(ctx context.Context) { f.lim.Reset(ctx, f.key) }

// refund gives the reserved failure back: the check could not be made (the
// Authenticator failed), so it says nothing about the password.
func (f failure) refund(ctx context.Context) { f.lim.Refund(ctx, f.key) }
