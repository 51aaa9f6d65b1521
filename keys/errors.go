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
