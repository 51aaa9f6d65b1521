package revocation

import (
	"time"

	"github.com/sesame-go/sesame/internal/testclock"
)

// fakeClock is the injected clock of these tests: it moves only when told
// to.
type fakeClock = testclock.Clock

// newFakeClock returns a clock standing at 2030-01-02 03:04:05 UTC.
func newFakeClock() *fakeClock {
	return testclock.New(time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC))
}
