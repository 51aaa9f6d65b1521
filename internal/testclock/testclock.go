// Package testclock holds the clocks sesame's tests inject where a package
// takes a Now func (auth.Config.Now, revocation's options, token.Mint's
// clock): a [Clock] that stands still until the test moves it, and an
// [Offset] that follows real time shifted by a settable amount, for tests
// that also need time to pass. Both are safe for concurrent use.
package testclock

import (
	"sync"
	"sync/atomic"
	"time"
)

// Clock is a clock that moves only when told to. The zero value stands at
// the zero time; New sets a start.
type Clock struct {
	mu  sync.Mutex
	now time.Time
}

// New returns a Clock standing at start.
func New(start time.Time) *Clock { return &Clock{now: start} }

// Now returns the clock's time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// Advance moves the clock by d (back, if d is negative).
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

// Set moves the clock to t.
func (c *Clock) Set(t time.Time) {
	c.mu.Lock()
	c.now = t
	c.mu.Unlock()
}

// Offset is real time plus a settable offset, so a test can jump past an
// expiry without sleeping while timeouts still run. The zero value is real
// time.
type Offset struct{ off atomic.Int64 }

// Now returns time.Now() plus the offset.
func (c *Offset) Now() time.Time { return time.Now().Add(c.Offset()) }

// Advance adds d to the offset.
func (c *Offset) Advance(d time.Duration) { c.off.Add(int64(d)) }

// Set sets the offset.
func (c *Offset) Set(offset time.Duration) { c.off.Store(int64(offset)) }

// Offset returns the offset.
func (c *Offset) Offset() time.Duration { return time.Duration(c.off.Load()) }
