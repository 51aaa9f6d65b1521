package revocation

import (
	"context"
	"time"
)

// Kind is the kind of a denylist [Entry].
type Kind uint8

const (
	KindSession Kind = iota + 1 // a session id (sid)
	KindToken                   // an access-token id (jti)
	KindUser                    // a user's revoked-before
)

func (k Kind) String() string {
	switch k {
	case KindSession:
		return "session"
	case KindToken:
		return "token"
	case KindUser:
		return "user"
	}
	return "unknown"
}

// Entry is one denylist entry as a [Feed] delivers it. Applying an entry
// twice, or an older one after a newer one, changes nothing: a replica keeps
// the latest Expires and Before it has seen for an id.
type Entry struct {
	Kind    Kind
	ID      string
	Before  time.Time // KindUser only: tokens issued before it are revoked
	Expires time.Time // the entry is dropped at this time
}

// Feed is an ordered source of denylist entries for a [Replica].
// [NewRedis] store, [NewDynamo] store and [NewMemory] store implement it, so a single
// process uses the same replica path as a fleet. A cursor is an opaque
// string.
type Feed interface {
	// Snapshot calls add for every live entry and returns a cursor from
	// which Read delivers every entry written after the snapshot began
	// (some may be delivered twice, which is harmless).
	Snapshot(ctx context.Context, add func(Entry)) (cursor string, err error)
	// Resume checks, after a failure, that every entry after cursor can
	// still be read. It returns [ErrCursorLost] if not.
	Resume(ctx context.Context, cursor string) error
	// Read waits up to wait for entries after cursor and returns them with
	// the cursor to read from next. No entries and a nil error mean the
	// feed was current when it answered.
	Read(ctx context.Context, cursor string, wait time.Duration) (entries []Entry, next string, err error)
}
