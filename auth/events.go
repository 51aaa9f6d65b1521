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
	EventSessionEnded   EventKind = "session_ended" // a user ended one of their sessions
	EventSessionEvicted EventKind = "session_evicted"
	EventRefreshReused  EventKind = "refresh_token_reused" // theft detected
	EventStale          EventKind = "staleness_policy_tripped"
)

// Event is a security event. It carries ids, never tokens or passwords.
type Event struct {
	Kind      EventKind
	Time      time.Time
	UserID    string // may be empty (failed login of an unknown user)
	Username  string // for login events: the name as typed
	SessionID string
	IP        string
	UserAgent string
	Reason    string // for failures: a code
}
