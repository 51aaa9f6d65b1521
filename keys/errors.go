package keys

import "errors"

var (
	// ErrUnknownKey means no key of the keyset has the requested id, or the
	// key exists but may not verify (pending or retired).
	ErrUnknownKey = errors.New("keys: unknown key")
	// ErrKeyRevoked means the key was revoked: nothing it signed is accepted.
	ErrKeyRevoked = errors.New("keys: key revoked")
	// ErrNoActiveKey means the keyset has no key that may sign.
	ErrNoActiveKey = errors.New("keys: no active key")
	// ErrInvalidKeyset means a keyset breaks an invariant (duplicate ids, not
	// exactly one active key, ...).
	ErrInvalidKeyset = errors.New("keys: invalid keyset")
)

var (
	// ErrTooEarly means a rotation was refused because the pending key has not
	// been published for the policy's PublishDelay yet. Nothing changed; the
	// error says when to retry.
	ErrTooEarly = errors.New("keys: pending key not published long enough")
	// ErrActiveKey means an operation refused to revoke the active key; use
	// [Keyset.ForceRevoke] for a compromised active key.
	ErrActiveKey = errors.New("keys: key is active")
	// ErrConflict means a compare-and-swap lost: the stored keyset is no
	// longer at the version the change was based on. Load it again and
	// reapply the change ([Update] does this).
	ErrConflict = errors.New("keys: keyset changed concurrently")
	// ErrRollback means a stored keyset was refused because it goes back:
	// its version is older than one already seen, or it makes a revoked key
	// usable again. It was restored from an older copy or written by a
	// writer working from one. Nothing was loaded or written; see the
	// package documentation, "Revocation is permanent".
	ErrRollback = errors.New("keys: keyset rollback refused")
	// ErrNotFound means the store holds no keyset yet.
	ErrNotFound = errors.New("keys: no keyset stored")
	// ErrCannotOpen means the stored keyset could not be opened with the
	// master key: either the key is wrong or the data was altered. The two
	// are deliberately not told apart. The text is the one operators see,
	// verbatim, so it has no package prefix.
	ErrCannotOpen = errors.New("cannot open keyset: wrong master key or corrupted data")
)
