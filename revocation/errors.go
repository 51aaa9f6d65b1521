package revocation

import (
	"errors"
	"fmt"
)

var (
	// ErrUnavailable means the backend could not be reached or did not answer
	// in time. Nothing is known about the state: callers answer 503 with
	// Retry-After, never 401. Errors from a backend wrap it, together with the
	// cause (so errors.Is(err, context.DeadlineExceeded) also works).
	ErrUnavailable = errors.New("revocation: backend unavailable")

	// ErrStale is returned by [Replica.Check] under [FailClosed] when the
	// replica has not confirmed it is current within its staleness bound.
	// It wraps [ErrUnavailable], so a caller that maps ErrUnavailable to 503
	// needs no extra case.
	ErrStale = fmt.Errorf("revocation: replica is stale: %w", ErrUnavailable)

	// ErrInvalidToken means a refresh token is malformed, names no live
	// family, or carries a secret that is not one of the family's. No state
	// changed: guessing a family id lets nobody revoke someone else's family.
	ErrInvalidToken = errors.New("revocation: invalid refresh token")

	// ErrExpired means the refresh token's family passed its idle timeout or
	// its absolute expiry. The family is gone.
	ErrExpired = errors.New("revocation: refresh token expired")

	// ErrReused means an already-rotated refresh token came back outside the
	// rules that allow a replay: the token was stolen, or the legitimate
	// holder lost the race against the thief. The family has been deleted and
	// its session id put on the denylist. The returned error is a
	// [*ReuseError] naming the family, session and user, for the security log.
	ErrReused = errors.New("revocation: refresh token reused")

	// ErrNotFound means the family does not exist any more (ended, expired,
	// or never existed). Only writes to a named family return it; lookups
	// answer found == false instead.
	ErrNotFound = errors.New("revocation: family not found")

	// ErrCursorLost is returned by [Feed.Resume] when events after the
	// cursor can no longer be read (trimmed, or the backend lost its data).
	// A [Replica] answers it with a full resync.
	ErrCursorLost = errors.New("revocation: feed cursor lost")
)

// errFamilyExists is CreateFamily's answer to a session id whose family
// already exists. Session ids are fresh random values, so this is a caller
// reusing one: retrying cannot help, and the family is left as it was.
var errFamilyExists = errors.New("revocation: the session already has a refresh family")

// ReuseError reports a detected refresh-token reuse (theft). errors.Is(err,
// ErrReused) is true for it. It carries ids only, never token material, and is
// meant to be logged as a security event.
type ReuseError struct {
	FamilyID  string
	SessionID string
	UserID    string
}

func (e *ReuseError) Error() string {
	return fmt.Sprintf("%v: family %q, session %q, user %q", ErrReused, e.FamilyID, e.SessionID, e.UserID)
}

// Unwrap returns [ErrReused].
func (e *ReuseError) Unwrap() error { return ErrReused }

// unavailable wraps a backend error as ErrUnavailable, keeping the cause.
func unavailable(op string, err error) error {
	return fmt.Errorf("%w: %s: %w", ErrUnavailable, op, err)
}
