package keys

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"slices"
	"time"
)

// Keyset is an immutable set of key generations at one version. It answers
// the two questions the request path asks: which key signs now ([Keyset.Signer])
// and which key is `kid`, and may it verify ([Keyset.Verifier]).
//
// A Keyset is never modified after construction, so it is safe for concurrent
// use; holders swap a whole new Keyset in (e.g. behind an atomic.Pointer).
type Keyset struct {
	version uint64
	keys    []*Key // oldest first
	byID    map[string]*Key
	active  *Key
	revoked []string // tombstones: every kid ever revoked, sorted; see rollback.go
}

// NewKeyset checks the invariants over ks and returns the keyset at version:
// key ids are unique and exactly one key is active. Its tombstones
// ([Keyset.Revoked]) are the ids of the revoked keys among ks.
func NewKeyset(version uint64, ks ...*Key) (*Keyset, error) {
	return newKeyset(version, nil, ks...)
}

// newKeyset is [NewKeyset] that also carries tombstones forward: revoked
// lists kids revoked earlier, whose keys may since have been pruned. A key
// in ks whose id is a tombstone must be in state Revoked.
func newKeyset(version uint64, revoked []string, ks ...*Key) (*Keyset, error) {
	if slices.Contains(ks, nil) {
		return nil, fmt.Errorf("%w: nil key", ErrInvalidKeyset)
	}
	s := &Keyset{
		version: version,
		keys:    slices.Clone(ks),
		byID:    make(map[string]*Key, len(ks)),
	}
	slices.SortStableFunc(s.keys, func(a, b *Key) int { return a.created.Compare(b.created) })
	for _, k := range s.keys {
		if _, dup := s.byID[k.id]; dup {
			return nil, fmt.Errorf("%w: duplicate key id %q", ErrInvalidKeyset, k.id)
		}
		s.byID[k.id] = k
		if k.state == Active {
			if s.active != nil {
				return nil, fmt.Errorf("%w: two active keys %q and %q", ErrInvalidKeyset, s.active.id, k.id)
			}
			s.active = k
		}
	}
	if s.active == nil {
		return nil, fmt.Errorf("%w: no active key", ErrInvalidKeyset)
	}
	s.revoked = slices.Clone(revoked)
	for _, k := range s.keys {
		if k.state == Revoked {
			s.revoked = append(s.revoked, k.id)
		}
	}
	slices.Sort(s.revoked)
	s.revoked = slices.Compact(s.revoked)
	for _, kid := range s.revoked {
		if k, ok := s.byID[kid]; ok && k.state != Revoked {
			return nil, fmt.Errorf("%w: key %q was revoked and is %s again", ErrInvalidKeyset, kid, k.state)
		}
	}
	return s, nil
}

// Version returns the keyset's version; storage increments it on every change
// and uses it for compare-and-swap.
func (s *Keyset) Version() uint64 { return s.version }

// Signer returns the active key.
func (s *Keyset) Signer() (*Key, error) {
	if s == nil || s.active == nil {
		return nil, ErrNoActiveKey
	}
	return s.active, nil
}

// Verifier returns the key named kid if tokens it signed may be accepted now.
// It returns an error wrapping [ErrUnknownKey] when there is no such key or it
// is pending or retired, and [ErrKeyRevoked] when it was revoked. The id is
// not echoed into the error: it comes from untrusted input.
func (s *Keyset) Verifier(kid string) (*Key, error) {
	if s == nil {
		return nil, ErrUnknownKey
	}
	k, ok := s.byID[kid]
	switch {
	case !ok && s.tombstone(kid):
		return nil, ErrKeyRevoked
	case !ok:
		return nil, ErrUnknownKey
	case k.state == Revoked:
		return nil, ErrKeyRevoked
	case !k.state.CanVerify():
		return nil, ErrUnknownKey
	}
	return k, nil
}

// Key returns the key named kid in any state.
func (s *Keyset) Key(kid string) (*Key, bool) {
	k, ok := s.byID[kid]
	return k, ok
}

// Keys returns the keys, oldest first. The slice is a copy.
func (s *Keyset) Keys() []*Key { return slices.Clone(s.keys) }

// String describes the keyset without secrets.
func (s *Keyset) String() string {
	return fmt.Sprintf("keys.Keyset{version=%d keys=%d active=%s}", s.version, len(s.keys), s.active.id)
}

// publicView is the JSON shape of a key anyone may see.
type publicView struct {
	KID         string     `json:"kid"`
	State       State      `json:"state"`
	Created     time.Time  `json:"created"`
	Activated   *time.Time `json:"activated,omitempty"`
	Deactivated *time.Time `json:"deactivated,omitempty"`
	X           string     `json:"x"`
}

func marshalPublicView(k *Key) ([]byte, error) {
	v := publicView{
		KID:     k.id,
		State:   k.state,
		Created: k.created,
		X:       base64.RawURLEncoding.EncodeToString(k.m.pub),
	}
	if !k.activated.IsZero() {
		v.Activated = &k.activated
	}
	if !k.deactivated.IsZero() {
		v.Deactivated = &k.deactivated
	}
	return json.Marshal(v)
}

// Current returns s itself: a Keyset is a [Source] that never changes, for
// programs and tests with a fixed keyset.
func (s *Keyset) Current() *Keyset { return s }
