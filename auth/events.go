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
	// EventUserInactive: a refresh found that the user may no longer have
	// sessions ([UserChecker]), and every session of the user was ended.
	EventUserInactive EventKind = "user_inactive"
	// EventStale is the name sessiond gives the moment its denylist replica
	// passes the staleness bound; a Manager does not emit it itself (it
	// answers each affected request with 503), since the replica belongs to
	// the program that runs it.
	EventStale EventKind = "staleness_policy_tripped"
)

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
