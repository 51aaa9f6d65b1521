package revocation

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// Rate is a limit of Limit events per Period for one key, enforced as a
// generic cell rate (GCRA): a key starts with a budget of Limit, each event
// takes one, and the budget refills by one every Period/Limit. Unlike a
// fixed window, there is no window edge at which 2·Limit events pass at once.
type Rate struct {
	// Limit is the budget of a key. A negative Limit turns the limiter off
	// (every call is allowed); zero is invalid.
	Limit int
	// Period is how long an exhausted budget takes to refill in full.
	// Period/Limit must be at least a millisecond.
	Period time.Duration
}

func (r Rate) off() bool { return r.Limit < 0 }

func (r Rate) validate() error {
	if r.off() {
		return nil
	}
	if r.Limit == 0 || r.Period <= 0 || r.Period/time.Duration(r.Limit) < time.Millisecond {
		return fmt.Errorf("revocation: invalid rate %d per %v", r.Limit, r.Period)
	}
	return nil
}

// interval is the time one event costs.
func (r Rate) interval() time.Duration { return r.Period / time.Duration(r.Limit) }

// Decision is a [Limiter]'s answer for one key.
type Decision struct {
	// Allowed says whether the event may go ahead (for Reserve: it was
	// counted; for Peek: a Reserve now would be allowed).
	Allowed bool
	// Remaining is how many events the key has left after this one (for
	// Peek: after a Reserve now). -1 when the limiter is off.
	Remaining int
	// RetryAfter, when not Allowed, is how long until one event is allowed
	// again: the value for a Retry-After header.
	RetryAfter time.Duration
	// Local is true when the answer came from this node's own table because
	// the shared backend could not be asked (see [LimiterStatus]).
	Local bool
}

// Limiter counts events per key (an address, a username) against a [Rate].
// With a Redis store the count is kept in Redis, so every node of a fleet
// shares one budget per key; with the memory store it is kept in the
// process. Methods never fail: if Redis cannot be asked, the node's own
// bounded table answers instead (never "no limit"), Decision.Local says so,
// and [Limiter.Status] reports it.
//
// The order of calls is the point. Reserve takes a unit atomically before
// the work it guards (a password check), so N concurrent attempts cannot
// all read "under the limit" and then all be counted after: exactly Limit
// get through. Work that must cost only when it fails (a refresh) does the
// work first and Reserves only on failure, and a caller may Peek to refuse a
// blocked key before cheap-to-refuse work without charging anything.
//
// For the three limits of a login service, in order:
//
//	// POST /login: reserve before the password check.
//	if d := perAddr.Reserve(ctx, addrKey); !d.Allowed { /* 429, d.RetryAfter */ }
//	userKey := "u:" + username // "d:" + deviceID with a valid device cookie for username
//	if d := perUser.Reserve(ctx, userKey); !d.Allowed { /* 429 */ }
//	if passwordOK() { perUser.Reset(ctx, userKey) } // a failure was counted already
//
//	// POST /refresh, and logout by refresh token: only failures cost, so a
//	// valid token is never refused because others filled its address's budget.
//	res, err := store.Refresh(ctx, token)
//	if errors.Is(err, ErrInvalidToken) || errors.Is(err, ErrExpired) {
//		if d := refreshFail.Reserve(ctx, addrKey); !d.Allowed { /* 429 */ } else { /* 401 */ }
//	}
//
// A malformed request (no token, oversized) is a failure too, charged the
// same way without a store call. Peek answers "is this address blocked"
// without charging, for a caller that wants to say so before work that
// costs nothing to refuse.
//
// All methods may be called concurrently.
type Limiter interface {
	// Reserve takes one unit of key's budget if there is one, atomically,
	// and reports the decision. A denied Reserve takes nothing.
	Reserve(ctx context.Context, key string) Decision
	// Peek reports what Reserve would decide now, taking nothing.
	Peek(ctx context.Context, key string) Decision
	// Refund gives back one unit to key, after an allowed Reserve whose
	// event turned out not to count. It never raises a budget above Limit.
	Refund(ctx context.Context, key string)
	// Reset gives key its whole budget back (a successful login clears the
	// user's failures).
	Reset(ctx context.Context, key string)
	// Status reports whether answers come from the shared backend.
	Status() LimiterStatus
}

// LimiterStatus is a [Limiter]'s health, for readiness checks and metrics.
type LimiterStatus struct {
	// Fallback is true while the shared backend cannot be asked and this
	// node counts alone: a fleet of N nodes then allows up to N times the
	// limit. Always false for a limiter that is local by design.
	Fallback bool
	// Since is when the current Fallback state began.
	Since time.Time
	// LastError is the backend error that started the fallback, or nil.
	LastError error
}

// LimiterSource is implemented by stores that can keep limiter counts in
// their backend: [NewRedis] store (shared by the fleet) and [NewMemory] store
// (in the process).
type LimiterSource interface {
	// Limiter returns a Limiter for rate whose keys live under name (for
	// example "login-ip"); two limiters with one name share counts. opts
	// may be nil.
	Limiter(name string, rate Rate, opts *LimiterOptions) (Limiter, error)
}

var (
	_ LimiterSource = (*redisStore)(nil)
	_ LimiterSource = (*memoryStore)(nil)
)

// LimiterOptions configure a Limiter. A nil *LimiterOptions means the
// defaults.
type LimiterOptions struct {
	// Capacity bounds the local table (the memory limiter, and a Redis
	// limiter's fallback): how many keys it tracks at once, rounded up to a
	// power of two, in fixed memory of 16 bytes per key plus a lock per 8
	// keys. Zero means 65536 (about 1.1 MiB). When it is full a new key evicts, among the 8 keys sharing
	// its slot, the one closest to a full budget; see [NewLocalLimiter].
	Capacity int
	// Now is the clock. Nil means time.Now for local counts, and the Redis
	// server's clock (TIME) for Redis counts, so that a fleet's clock skew
	// does not matter. Tests inject a clock here.
	Now func() time.Time
	// Timeout bounds one Redis call; past it the local table answers. Zero
	// means 250ms.
	Timeout time.Duration
	// RetryInterval is how long a Redis limiter answers locally after a
	// failure before it asks Redis again, so that an outage costs one
	// timeout per interval, not one per request. Zero means 1s.
	RetryInterval time.Duration
}

func (o *LimiterOptions) withDefaults() LimiterOptions {
	var c LimiterOptions
	if o != nil {
		c = *o
	}
	if c.Capacity == 0 {
		c.Capacity = 1 << 16
	}
	if c.Timeout == 0 {
		c.Timeout = 250 * time.Millisecond
	}
	if c.RetryInterval == 0 {
		c.RetryInterval = time.Second
	}
	return c
}

func (o *LimiterOptions) validate() error {
	if o.Capacity < 8 || o.Capacity > 1<<30 {
		return errors.New("revocation: limiter Capacity must be between 8 and 2³⁰")
	}
	if o.Timeout < 0 || o.RetryInterval < 0 {
		return errors.New("revocation: negative limiter Timeout or RetryInterval")
	}
	return nil
}

// gcra computes one step of the generic cell rate algorithm, in any time
// unit. tat is the key's theoretical arrival time (0 or past: full budget).
// It returns the decision and the new tat if the event is taken.
//
// While time moves forward, tat never runs more than one period ahead of
// now. A clock stepped back (NTP, an injected clock) could leave it further
// ahead and block the key until the clock caught up; capping it at now +
// period counts such a key as exhausted instead, never as blocked longer.
func gcra(tat, now, interval, period int64) (d Decision, next int64) {
	tat = min(max(tat, now), now+period)
	next = tat + interval
	if over := next - now - period; over > 0 {
		return Decision{RetryAfter: time.Duration(over)}, tat
	}
	return Decision{Allowed: true, Remaining: int((period - (next - now)) / interval)}, next
}
