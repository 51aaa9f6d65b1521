package keys

import (
	"fmt"
	"time"
)

// Init returns a new keyset with one active key, which signs at once, and one
// pending key, which the first rotation will activate.
//
// Its version is now in Unix seconds rather than 1. Running nodes refuse a
// keyset older than the one they hold (a replayed old keyset could bring
// back a revoked key), so a keyset created again from scratch after its
// storage was lost (a Redis without persistence, a deleted file) must be
// newer than any version of the old one: then every node moves to it,
// instead of old nodes keeping the lost keyset while new ones use the new
// one. This holds unless the old keyset changed more times than seconds
// have passed since it was created.
func Init(now time.Time) (*Keyset, error) {
	active, err := Generate(now)
	if err != nil {
		return nil, err
	}
	pending, err := Generate(now)
	if err != nil {
		return nil, err
	}
	return NewKeyset(uint64(max(now.Unix(), 1)), active.withState(Active, now), pending)
}

// Rotate returns the next keyset (version+1): the pending key becomes active,
// the active key becomes verify-only until every token it signed has expired,
// and a new pending key is generated. The receiver is not modified.
//
// Rotate refuses with an error wrapping [ErrTooEarly] while the pending key
// has been published for less than the policy's PublishDelay: activating it
// earlier could let a node or a JWKS consumer that has not seen it yet reject
// the tokens it signs. It does not wait; the error says when to retry. This
// also makes a rotation that lost a race safe to retry: the winner's new
// pending key is too young, so the retry is refused instead of rotating twice.
//
// If the keyset has no pending key (only possible for a keyset built by hand
// or after [Keyset.ForceRevoke] failed half-way), Rotate only adds one.
func (s *Keyset) Rotate(p RotationPolicy, now time.Time) (*Keyset, error) {
	p, err := p.resolve()
	if err != nil {
		return nil, err
	}
	now = now.UTC()
	fresh, err := Generate(now)
	if err != nil {
		return nil, err
	}
	pend := s.pending()
	if pend == nil {
		return s.next(append(s.Keys(), fresh)...)
	}
	if age := now.Sub(pend.created); age < p.PublishDelay {
		return nil, fmt.Errorf("%w: %q published %v ago, needs %v (retry after %s)",
			ErrTooEarly, pend.id, age.Round(time.Second), p.PublishDelay,
			pend.created.Add(p.PublishDelay).Format(time.RFC3339))
	}
	ks := make([]*Key, 0, len(s.keys)+1)
	for _, k := range s.keys {
		switch k {
		case pend:
			k = k.withState(Active, now)
		case s.active:
			k = k.withState(VerifyOnly, now)
			k.retiresAt = now.Add(p.retention())
		}
		ks = append(ks, k)
	}
	return s.next(append(ks, fresh)...)
}

// Revoke returns the next keyset with key kid revoked: tokens it signed stop
// verifying as soon as nodes load the keyset. Revoking the pending key also
// generates a replacement, so the next rotation has a key to activate (after
// the publish delay). Revoke refuses the active key ([ErrActiveKey]): that
// needs [Keyset.ForceRevoke]. Revoking a revoked key returns the receiver
// unchanged (same version).
func (s *Keyset) Revoke(kid string, now time.Time) (*Keyset, error) {
	if k, ok := s.byID[kid]; ok && k == s.active {
		return nil, fmt.Errorf("%w: refusing to revoke %q, the key that signs", ErrActiveKey, kid)
	}
	return s.ForceRevoke(kid, now)
}

// ForceRevoke is [Keyset.Revoke] that also accepts the active key, for a
// compromised signing key. Then the pending key becomes active at once,
// skipping the publish delay, and a new pending key is generated (if there is
// no pending key, a new key is activated at once). Every session's access
// token stops verifying; clients must refresh. For up to the reload interval
// a node that has not yet loaded the new keyset rejects tokens signed by the
// new active key: that is the price of stopping a compromised key at once.
func (s *Keyset) ForceRevoke(kid string, now time.Time) (*Keyset, error) {
	now = now.UTC()
	target, ok := s.byID[kid]
	if !ok {
		return nil, fmt.Errorf("%w %q", ErrUnknownKey, kid)
	}
	if target.state == Revoked {
		return s, nil
	}
	fresh, err := Generate(now)
	if err != nil {
		return nil, err
	}
	pend := s.pending()
	ks := make([]*Key, 0, len(s.keys)+1)
	for _, k := range s.keys {
		switch {
		case k == target:
			k = k.withState(Revoked, now)
		case k == pend && target == s.active:
			k = k.withState(Active, now)
		}
		ks = append(ks, k)
	}
	switch {
	case target == s.active && pend == nil:
		ks = append(ks, fresh.withState(Active, now))
	case target == s.active || target == pend:
		ks = append(ks, fresh)
	}
	return s.next(ks...)
}

// Prune returns the next keyset without the keys that verify nothing any
// more and whose tokens have all expired: retired keys, verify-only keys whose
// retention has passed (they retire and go in one step), and revoked keys
// once every token they could have signed has expired (until then they stay,
// so that a token signed by them is reported as revoked; their ids stay for
// good as tombstones, see [Keyset.Revoked]). The retention of a
// verify-only key is the later of the one recorded when it stopped signing
// and the policy's MaxTokenLifetime+Leeway. If nothing is due, Prune returns
// the receiver unchanged (same version).
func (s *Keyset) Prune(p RotationPolicy, now time.Time) (*Keyset, error) {
	p, err := p.resolve()
	if err != nil {
		return nil, err
	}
	ks := make([]*Key, 0, len(s.keys))
	for _, k := range s.keys {
		if !k.prunable(p, now) {
			ks = append(ks, k)
		}
	}
	if len(ks) == len(s.keys) {
		return s, nil
	}
	return s.next(ks...)
}

// RetirementTime returns when a verify-only or revoked key may be pruned
// under policy p, or the zero time for keys that are never pruned (pending,
// active) or whose policy is invalid.
func (k *Key) RetirementTime(p RotationPolicy) time.Time {
	p, err := p.resolve()
	if err != nil {
		return time.Time{}
	}
	return k.retireTime(p)
}

func (k *Key) retireTime(p RotationPolicy) time.Time {
	switch k.state {
	case Retired:
		return k.deactivated
	case VerifyOnly, Revoked:
		t := k.deactivated.Add(p.retention())
		if k.retiresAt.After(t) {
			t = k.retiresAt
		}
		return t
	}
	return time.Time{}
}

func (k *Key) prunable(p RotationPolicy, now time.Time) bool {
	t := k.retireTime(p)
	return !t.IsZero() && !now.Before(t) || k.state == Retired
}

// pending returns the oldest pending key, or nil.
func (s *Keyset) pending() *Key {
	for _, k := range s.keys {
		if k.state == Pending {
			return k
		}
	}
	return nil
}

// next builds the keyset that follows s.
// It keeps every tombstone of s: a revocation is never forgotten.
func (s *Keyset) next(ks ...*Key) (*Keyset, error) { return newKeyset(s.version+1, s.revoked, ks...) }
