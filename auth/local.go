package auth

import (
	"sync"
	"sync/atomic"
	"time"
)

// localRevocations makes a node's own revocations count on that node at
// once. The denylist replica learns of a logout through the store's event
// feed, typically within a millisecond but not before the logout response
// has left: without this, a client that logs out and at once replays its old
// token on the same node could get through in that gap. Every revocation
// this manager writes is also noted here, and kept for the longest lifetime
// of a token it could concern (by then the replica has long caught up, and
// the token has expired anyway).
//
// The request path pays one atomic load while nothing is noted, and two
// lock-free map lookups otherwise.
type localRevocations struct {
	n       atomic.Int64
	sids    sync.Map // sid → expiry (time.Time)
	users   sync.Map // user id → localUser
	keep    time.Duration
	pruneMu sync.Mutex
	pruneAt atomic.Int64 // unix ns of the next prune
}

type localUser struct{ before, expires time.Time }

func newLocalRevocations(keep time.Duration) *localRevocations {
	return &localRevocations{keep: keep}
}

func (l *localRevocations) session(sid string, now time.Time) {
	if _, loaded := l.sids.Swap(sid, now.Add(l.keep)); !loaded {
		l.n.Add(1)
	}
	l.prune(now)
}

func (l *localRevocations) user(uid string, before time.Time) {
	if _, loaded := l.users.Swap(uid, localUser{before: before, expires: before.Add(l.keep)}); !loaded {
		l.n.Add(1)
	}
	l.prune(before)
}

// revoked reports whether a session noted here covers a token of session
// sid, user uid, issued at iat (see denySubject for iat's rounding).
func (l *localRevocations) revoked(sid, uid string, iat, now time.Time) bool {
	if l.n.Load() == 0 {
		return false
	}
	if v, ok := l.sids.Load(sid); ok && now.Before(v.(time.Time)) {
		return true
	}
	if v, ok := l.users.Load(uid); ok {
		u := v.(localUser)
		return now.Before(u.expires) && iat.Before(u.before)
	}
	return false
}

// prune drops expired notes, at most once per keep/4.
func (l *localRevocations) prune(now time.Time) {
	if now.UnixNano() < l.pruneAt.Load() || !l.pruneMu.TryLock() {
		return
	}
	defer l.pruneMu.Unlock()
	l.pruneAt.Store(now.Add(l.keep / 4).UnixNano())
	l.sids.Range(func(k, v any) bool {
		if !now.Before(v.(time.Time)) && l.sids.CompareAndDelete(k, v) {
			l.n.Add(-1)
		}
		return true
	})
	l.users.Range(func(k, v any) bool {
		if !now.Before(v.(localUser).expires) && l.users.CompareAndDelete(k, v) {
			l.n.Add(-1)
		}
		return true
	})
}
