package revocation

import (
	"bytes"
	"time"
)

// The refresh rules, shared by both backends (the Redis one runs the same
// decision in scripts/refresh.lua).
//
// A family holds hashes of three secrets: cur (the newest token, never
// presented yet), prev (the token whose first presentation made cur) and p2
// (the one before, with a deadline). Presenting
//
//   - cur rotates: p2 = prev with deadline now+grace, prev = cur,
//     cur = H(next(secret)). It is the only way to make a generation, so
//     there are never two live siblings;
//   - prev replays: it answers next(prev) = cur again, however late, because
//     cur has not been presented yet (a lost answer, a suspended app, a
//     racing tab). Lost answers and races never log anyone out;
//   - p2 before its deadline replays next(p2) = prev: cur's predecessor was
//     just used, and a second tab that still holds p2 follows the chain;
//   - p2 after its deadline, or any older genuine token, is reuse: someone
//     else presented a token that the legitimate chain has left behind;
//   - anything else is a forgery and changes nothing.
//
// An older genuine token is told from a forgery by walking next() forward
// from the presented secret, at most ReuseLookback steps, until it meets a
// stored hash. Forging such a walk needs an HMAC-SHA256 preimage.
type verdict uint8

const (
	vUnknown verdict = iota // no stored hash matches: walk, then reuse or invalid
	vRotate
	vReplay
	vReused
)

type famState struct {
	f          Family
	cur, prev  [32]byte
	p2         [32]byte
	hasPrev    bool
	hasP2      bool
	p2Deadline int64 // unix ms
}

func (st *famState) decide(h0 [32]byte, nowMs int64) verdict {
	switch {
	case hashEqual(st.cur[:], h0):
		return vRotate
	case st.hasPrev && hashEqual(st.prev[:], h0):
		return vReplay
	case st.hasP2 && hashEqual(st.p2[:], h0):
		if nowMs <= st.p2Deadline {
			return vReplay
		}
		return vReused
	}
	return vUnknown
}

func (st *famState) known() [][]byte {
	h := [][]byte{st.cur[:]}
	if st.hasPrev {
		h = append(h, st.prev[:])
	}
	if st.hasP2 {
		h = append(h, st.p2[:])
	}
	return h
}

// rotate applies a rotation by the holder of cur whose successor hashes to h1.
func (st *famState) rotate(h1 [32]byte, nowMs int64, grace time.Duration) {
	st.p2, st.hasP2 = st.prev, st.hasPrev
	st.p2Deadline = nowMs + grace.Milliseconds()
	st.prev, st.hasPrev = st.cur, true
	st.cur = h1
	st.f.Generation++
	st.f.LastUsed = time.UnixMilli(nowMs)
}

func expiresMs(f *Family) int64 { return f.Expires().UnixMilli() }

func cloneFamily(f Family) Family {
	f.Data = bytes.Clone(f.Data)
	return f
}
