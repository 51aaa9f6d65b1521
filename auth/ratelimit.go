package auth

import (
	"sync"
	"time"
)

// limiter counts events per key in fixed windows. It is per node: a fleet of
// N nodes allows up to N times the limit, which still turns an online
// password-guessing attack from millions of tries into a handful. Memory is
// bounded by pruning expired windows once the map grows.
type limiter struct {
	mu     sync.Mutex
	limit  int
	window time.Duration
	m      map[string]*bucket
}

type bucket struct {
	start time.Time
	n     int
}

const limiterPruneAt = 10000

func newLimiter(limit int, window time.Duration) *limiter {
	return &limiter{limit: limit, window: window, m: make(map[string]*bucket)}
}

// blocked reports whether key has used up its window, and for how long.
func (l *limiter) blocked(key string, now time.Time) (time.Duration, bool) {
	if l.limit < 0 {
		return 0, false
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	b, ok := l.m[key]
	if !ok || now.Sub(b.start) >= l.window || b.n < l.limit {
		return 0, false
	}
	return l.window - now.Sub(b.start), true
}

// add counts one event for key.
func (l *limiter) add(key string, now time.Time) {
	if l.limit < 0 {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	b, ok := l.m[key]
	if !ok || now.Sub(b.start) >= l.window {
		if len(l.m) >= limiterPruneAt {
			for k, v := range l.m {
				if now.Sub(v.start) >= l.window {
					delete(l.m, k)
				}
			}
		}
		l.m[key] = &bucket{start: now, n: 1}
		return
	}
	b.n++
}

// reset forgets key (a successful login clears the user's failures).
func (l *limiter) reset(key string) {
	l.mu.Lock()
	delete(l.m, key)
	l.mu.Unlock()
}
