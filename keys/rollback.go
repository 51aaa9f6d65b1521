package keys

import (
	"fmt"
	"slices"
)

// Revoked returns the ids of every key revoked in this keyset's history,
// sorted: the revoked keys it holds and the tombstones of those since
// pruned. The list only grows from one version to the next ([Keyset.Prune]
// drops a revoked key but keeps its id), so any later keyset, or a node that
// has seen this one, can tell that a key with one of these ids must never
// verify again. Kids are public (they are in every token header and the
// JWKS); a tombstone is about 12 bytes, and revocations are rare.
func (s *Keyset) Revoked() []string { return slices.Clone(s.revoked) }

// tombstone reports whether kid was ever revoked in this keyset's history.
func (s *Keyset) tombstone(kid string) bool {
	_, ok := slices.BinarySearch(s.revoked, kid)
	return ok
}

// resurrects returns a kid of revoked that is usable (not in state Revoked)
// in s, or "" if none is. A kid absent from s is not usable: a keyset made
// again from scratch with [Init] after its storage was lost has new kids and
// is accepted.
func (s *Keyset) resurrects(revoked []string) string {
	for _, kid := range revoked {
		if k, ok := s.byID[kid]; ok && k.state != Revoked {
			return kid
		}
	}
	return ""
}

// sameContent reports whether a and b hold the same key ids in the same
// states: two keysets at one version should.
func sameContent(a, b *Keyset) bool {
	if len(a.keys) != len(b.keys) || !slices.Equal(a.revoked, b.revoked) {
		return false
	}
	for _, k := range a.keys {
		o, ok := b.byID[k.id]
		if !ok || o.state != k.state {
			return false
		}
	}
	return true
}

// watermark is the memory that makes a revocation permanent: the highest
// keyset version seen and every kid seen revoked. A [Holder] keeps one in
// memory; the file store keeps one beside the keyset file. It only rises.
type watermark struct {
	Version uint64   `json:"version"`
	Revoked []string `json:"revoked"` // sorted
}

// check returns an error wrapping [ErrRollback] if ks goes back from w: an
// older version, or a kid w saw revoked that ks would let verify or sign.
func (w *watermark) check(ks *Keyset) error {
	if ks.version < w.Version {
		return fmt.Errorf("%w: keyset version %d is older than version %d already seen", ErrRollback, ks.version, w.Version)
	}
	if kid := ks.resurrects(w.Revoked); kid != "" {
		return fmt.Errorf("%w: keyset version %d makes revoked key %q usable again", ErrRollback, ks.version, kid)
	}
	return nil
}

// raise records ks in w. It reports whether w changed.
func (w *watermark) raise(ks *Keyset) bool {
	changed := false
	if ks.version > w.Version {
		w.Version, changed = ks.version, true
	}
	for _, kid := range ks.revoked {
		if i, found := slices.BinarySearch(w.Revoked, kid); !found {
			w.Revoked = slices.Insert(w.Revoked, i, kid)
			changed = true
		}
	}
	return changed
}
