package auth

import "time"

// EventKind names a security event. The names are stable: alerting rules
// match on them.
type EventKind string

const (
	EventLoginSuccess   EventKind = "login_success"
	EventLoginFailure   EventKind = "login_failure"
	EventLoginThrottled EventKind = "login_throttled"
	EventLogout         EventKind = "logout"
	EventLogoutAll      EventKind = "logout_all"
	EventSessionEnded   EventKind = "session_ended" // a session was ended by its user or the application
	EventSessionEvicted EventKind = "session_evicted"
	EventRefreshReused  EventKind = "refresh_token_reused" // theft detected
	// EventUserInactive: a refresh found that the user may no longer have
	// sessions ([UserChecker]), and every session of the user was ended.
	EventUserInactive EventKind = "user_inactive"
	// EventStale: the denylist stopped vouching for tokens (its replica
	// went past the staleness bound, or has not loaded). Under fail-closed,
	// protected routes answer 503 until EventStaleRecovered. Reason is
	// "stale" or "not_loaded".
	EventStale EventKind = "staleness_policy_tripped"
	// EventStaleRecovered: the denylist vouches for tokens again.
	EventStaleRecovered EventKind = "staleness_recovered"
)

var eventKinds = []EventKind{EventLoginSuccess, EventLoginFailure, EventLoginThrottled, EventLogout, EventLogoutAll,
	EventSessionEnded, EventSessionEvicted, EventRefreshReused, EventUserInactive, EventStale, EventStaleRecovered}

// Event is a security event. It carries ids, never tokens or passwords.
type Event struct {
	Kind   EventKind
	Time   time.Time
	UserID string // may be empty (failed login of an unknown user)
	// Username is, for login events, the name as typed. Users sometimes type
	// their password into the name field: log it only when it names a known
	// user (sessiond does), or not at all.
	Username  string
	SessionID string
	IP        string
	UserAgent string
	Reason    string // for failures: a code
}
