package revocation

import (
	"context"
	"hash/maphash"
	"math/bits"
	"sync"
	"time"
)

// ways is the number of keys sharing one slot of the local table.
const ways = 8

// NewLocalLimiter returns a [Limiter] that counts in this process only, in a
// table of fixed size: memory is set by opts.Capacity at construction and
// never grows, and each call hashes the key and looks at one slot of 8
// entries, under that slot's lock, whatever the number of keys seen. (The
// per-node limiter it replaces kept one map entry per key for a whole window
// and, past 10,000 entries, scanned the map on every new key: an attacker
// inventing keys made it grow and slow down.)
//
// An entry is a 64-bit hash of the key, under a seed drawn per limiter that
// an attacker cannot know, and the key's GCRA state; keys are not kept. Two
// keys with one hash would share a budget: at 2⁻⁶⁴ per pair, never in practice.
//
// Eviction: a new key takes an empty entry of its slot, else the entry
// closest to a full budget. An entry whose budget has refilled in full holds
// nothing (evicting it changes no answer), so eviction only costs when all 8
// entries of a slot are partly used; then the key that lost the least is
// dropped and starts again with a full budget. The key an attack drives to
// its limit (a username under guessing) is the one furthest from a full
// budget, so it is the last to go: to make it forget, an attacker must fill
// its slot, which he cannot locate (the seed), so every slot, with keys each
// driven further than the victim within one period: Capacity×Limit attempts,
// about 655,000 at the defaults and a limit of 10. That is the trade-off
// for fixed memory; size Capacity above the number of keys legitimately
// active in one period.
//
// The returned limiter never falls back; its Status is always the zero value.
func NewLocalLimiter(rate Rate, opts *LimiterOptions) (Limiter, error) {
	o := opts.withDefaults()
	if err := o.validate(); err != nil {
		return nil, err
	}
	if err := rate.validate(); err != nil {
		return nil, err
	}
	return newLocal(rate, o), nil
}

type localLimiter struct {
	rate     Rate
	interval int64 // ns
	period   int64 // ns
	now      func() time.Time
	seed     maphash.Seed
	slots    []lslot
	mask     uint64
}

type lslot struct {
	mu sync.Mutex
	e  [ways]lentry
}

// lentry is one key's state; fp == 0 marks it empty.
type lentry struct {
	fp  uint64
	tat int64 // theoretical arrival time, unix ns
}

func newLocal(rate Rate, o LimiterOptions) *localLimiter {
	n := 1 << bits.Len(uint(o.Capacity-1)) / ways // slots, a power of two
	l := &localLimiter{rate: rate, now: o.Now, seed: maphash.MakeSeed(), slots: make([]lslot, max(n, 1))}
	l.mask = uint64(len(l.slots) - 1)
	if l.now == nil {
		l.now = time.Now
	}
	if !rate.off() {
		l.interval, l.period = int64(rate.interval()), int64(rate.Period)
	}
	return l
}

var _ Limiter = (*localLimiter)(nil)

// find locks key's slot and returns it and the index of key's entry, or -1.
func (l *localLimiter) find(key string) (*lslot, uint64, int) {
	h := maphash.String(l.seed, key)
	fp := h | 1
	s := &l.slots[(h>>32^h)&l.mask]
	s.mu.Lock()
	for i := range s.e {
		if s.e[i].fp == fp {
			return s, fp, i
		}
	}
	return s, fp, -1
}

func (l *localLimiter) Reserve(_ context.Context, key string) Decision { return l.take(key, true) }
func (l *localLimiter) Peek(_ context.Context, key string) Decision    { return l.take(key, false) }

func (l *localLimiter) take(key string, commit bool) Decision {
	if l.rate.off() {
		return Decision{Allowed: true, Remaining: -1}
	}
	now := l.now().UnixNano()
	s, fp, i := l.find(key)
	defer s.mu.Unlock()
	var tat int64
	if i >= 0 {
		tat = s.e[i].tat
	}
	d, next := gcra(tat, now, l.interval, l.period)
	if i >= 0 && tat > now+l.period {
		s.e[i].tat = now + l.period // a clock stepped back: keep the cap (see gcra)
	}
	if !d.Allowed || !commit {
		return d
	}
	if i < 0 {
		i = victim(&s.e)
	}
	s.e[i] = lentry{fp: fp, tat: next}
	return d
}

// victim returns the entry to replace: an empty one, else the one with the
// earliest tat, which is the closest to a full budget.
func victim(e *[ways]lentry) int {
	v := 0
	for i := range e {
		if e[i].fp == 0 {
			return i
		}
		if e[i].tat < e[v].tat {
			v = i
		}
	}
	return v
}

func (l *localLimiter) Refund(_ context.Context, key string) {
	if l.rate.off() {
		return
	}
	now := l.now().UnixNano()
	s, _, i := l.find(key)
	defer s.mu.Unlock()
	if i < 0 {
		return
	}
	if t := s.e[i].tat - l.interval; t > now {
		s.e[i].tat = t
	} else {
		s.e[i] = lentry{}
	}
}

func (l *localLimiter) Reset(_ context.Context, key string) {
	s, _, i := l.find(key)
	defer s.mu.Unlock()
	if i >= 0 {
		s.e[i] = lentry{}
	}
}

func (l *localLimiter) Status() LimiterStatus { return LimiterStatus{} }

// Limiter returns a [NewLocalLimiter] limiter: a process has one count per
// key. name is not used (each call returns a separate table).
func (m *memoryStore) Limiter(name string, rate Rate, opts *LimiterOptions) (Limiter, error) {
	o := opts.withDefaults()
	if o.Now == nil {
		o.Now = m.c.now
	}
	return NewLocalLimiter(rate, &o)
}
