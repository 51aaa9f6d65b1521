package auth

import (
	"net/http"
	"sync/atomic"

	"github.com/sesame-go/sesame/token"
)

// Stats are a Manager's counters since it was made, for a metrics exporter
// (package authprom serves them to Prometheus as the sesame_* series). Every
// key is from a fixed set (reason codes, outcomes, event kinds) and is present
// from the start, with a zero count: never a user id, session id or path.
type Stats struct {
	// Valid counts access tokens accepted.
	Valid uint64
	// Invalid counts access tokens refused, by reason code ("expired",
	// "revoked", "unauthenticated", ...).
	Invalid map[string]uint64
	// Unavailable counts access tokens the denylist could not vouch for
	// (each a 503: a stale replica under fail-closed).
	Unavailable uint64
	// CacheHits and CacheMisses count verifications served from the
	// verified-token cache, and those done in full.
	CacheHits, CacheMisses uint64
	// Logins counts login attempts by outcome: success,
	// invalid_credentials, rate_limited, session_limit, unavailable,
	// bad_request, internal_error.
	Logins map[string]uint64
	// Refreshes counts refresh attempts by outcome: rotated, grace_replay,
	// reused, expired, invalid, revoked, unavailable, error.
	Refreshes map[string]uint64
	// Revocations counts sessions ended, by kind: logout, logout_all,
	// session_ended, session_evicted, user_inactive, theft.
	Revocations map[string]uint64
	// Events counts security events by kind.
	Events map[EventKind]uint64
	// Introspections counts POST /introspect calls by result: active,
	// inactive, invalid_client, bad_request, rate_limited, unavailable,
	// disabled (no IntrospectionClients configured).
	Introspections map[string]uint64
	// LimiterFallback says, per limit (login_address, login_user,
	// login_device, refresh_address, introspection_client), whether this node is counting it
	// alone because the shared backend (Redis) cannot be asked: a fleet of N
	// nodes then allows up to N times the limit. Always false for a store
	// whose limits are local by design (see [Limits]).
	LimiterFallback map[string]bool
}

// Outcome label values.
const (
	refreshRotated     = "rotated"
	refreshReplayed    = "grace_replay"
	refreshReused      = "reused"
	refreshExpired     = "expired"
	refreshInvalid     = "invalid"
	refreshRevoked     = "revoked" // the user may no longer have sessions (UserChecker)
	refreshUnavailable = "unavailable"
	refreshError       = "error"
)

// counters is a fixed set of named counters: the map is never written after
// it is made, so lookups need no lock.
type counters[K comparable] map[K]*atomic.Uint64

func newCounters[K comparable](keys ...K) counters[K] {
	c := make(counters[K], len(keys))
	for _, k := range keys {
		c[k] = new(atomic.Uint64)
	}
	return c
}

func (c counters[K]) add(k K) {
	if n, ok := c[k]; ok {
		n.Add(1)
	}
}

func (c counters[K]) snapshot() map[K]uint64 {
	out := make(map[K]uint64, len(c))
	for k, n := range c {
		out[k] = n.Load()
	}
	return out
}

// stats are the live counters behind [Stats]. The request path pays one
// atomic add per counted thing.
type stats struct {
	valid, unavailable      atomic.Uint64
	cacheHits, cacheMisses  atomic.Uint64
	invalid                 counters[string]
	logins, refreshes, revs counters[string]
	events                  counters[EventKind]
	intros                  counters[string]
}

func newStats() *stats {
	return &stats{
		invalid: newCounters(append(token.Reasons(), CodeRevoked, CodeUnauthenticated, CodeTransport, CodeForbidden, "invalid_token")...),
		logins:  newCounters("success", CodeInvalidCredentials, CodeRateLimited, CodeSessionLimit, CodeUnavailable, CodeBadRequest, CodeInternal),
		refreshes: newCounters(refreshRotated, refreshReplayed, refreshReused, refreshExpired, refreshInvalid,
			refreshRevoked, refreshUnavailable, refreshError),
		revs: newCounters(string(EventLogout), string(EventLogoutAll), string(EventSessionEnded), string(EventSessionEvicted),
			string(EventUserInactive), "theft"),
		events: newCounters(eventKinds...),
		intros: newCounters(introOutcomes...),
	}
}

func (s *stats) verified(e *Error) {
	switch {
	case e == nil:
		s.valid.Add(1)
	case e.Code == CodeUnavailable:
		s.unavailable.Add(1)
	default:
		if _, ok := s.invalid[e.Code]; ok {
			s.invalid.add(e.Code)
		} else {
			s.invalid.add("invalid_token")
		}
	}
}

func (s *stats) event(k EventKind) {
	s.events.add(k)
	switch k {
	case EventLogout, EventLogoutAll, EventSessionEnded, EventSessionEvicted, EventUserInactive:
		s.revs.add(string(k))
	case EventRefreshReused:
		s.revs.add("theft")
	}
}

// Stats returns the Manager's counters so far.
func (m *Manager[T]) Stats() Stats {
	s := m.stats
	return Stats{
		Valid: s.valid.Load(), Invalid: s.invalid.snapshot(), Unavailable: s.unavailable.Load(),
		CacheHits: s.cacheHits.Load(), CacheMisses: s.cacheMisses.Load(),
		Logins: s.logins.snapshot(), Refreshes: s.refreshes.snapshot(),
		Revocations: s.revs.snapshot(), Events: s.events.snapshot(),
		Introspections:  s.intros.snapshot(),
		LimiterFallback: m.lim.fallback(),
	}
}

// outcomeWriter remembers the error code or status a login or refresh
// handler answered with, so the outcome is counted in one place.
type outcomeWriter struct {
	http.ResponseWriter
	status   int
	code     string
	replayed bool
}

func (w *outcomeWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *outcomeWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

func (w *outcomeWriter) loginOutcome() string {
	switch {
	case w.status == http.StatusOK:
		return "success"
	case w.code == CodeInvalidCredentials, w.code == CodeRateLimited, w.code == CodeSessionLimit, w.code == CodeUnavailable:
		return w.code
	case w.status >= 500:
		return CodeInternal
	}
	return CodeBadRequest
}

func (w *outcomeWriter) refreshOutcome() string {
	switch {
	case w.status == http.StatusOK && w.replayed:
		return refreshReplayed
	case w.status == http.StatusOK:
		return refreshRotated
	case w.code == CodeRefreshReused:
		return refreshReused
	case w.code == CodeRefreshExpired:
		return refreshExpired
	case w.code == CodeRevoked:
		return refreshRevoked
	case w.code == CodeUnavailable:
		return refreshUnavailable
	case w.status >= 500:
		return refreshError
	}
	return refreshInvalid
}
