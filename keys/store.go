package keys

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"time"
)

// Store keeps the fleet's keyset. Implementations must be safe for
// concurrent use, by goroutines and, for shared storage, by processes.
type Store interface {
	// Load returns the stored keyset, an error wrapping [ErrNotFound] if there
	// is none, or [ErrCannotOpen] if it cannot be opened.
	Load(ctx context.Context) (*Keyset, error)

	// CompareAndSwap stores next if the stored keyset is still at version old
	// (0: nothing stored yet), and otherwise returns an error wrapping
	// [ErrConflict] and stores nothing. next.Version() must be greater than
	// old. A failed write leaves the old keyset in place.
	CompareAndSwap(ctx context.Context, old uint64, next *Keyset) error
}

// Watcher is implemented by stores that can push change notices (Redis
// pub/sub). Stores without it are polled.
type Watcher interface {
	// Watch calls notify, from one goroutine, whenever the stored keyset may
	// have changed, until ctx ends (then it returns nil) or the notice channel
	// fails (then it returns the error; the caller polls and calls Watch again).
	Watch(ctx context.Context, notify func()) error
}

// maxUpdateAttempts bounds [Update]'s retries. Each lost race means another
// writer made progress; a random pause that grows with each loss (up to about
// 100ms) keeps a fast writer from starving a slower one.
const maxUpdateAttempts = 16

// Update loads the keyset, applies change and stores the result with
// compare-and-swap, reloading and reapplying change when another writer got
// there first. It returns the stored keyset. If change returns its argument
// unchanged (same version), nothing is written. change may be called more
// than once and must not have side effects.
func Update(ctx context.Context, st Store, change func(cur *Keyset) (*Keyset, error)) (*Keyset, error) {
	var err error
	for attempt := range maxUpdateAttempts {
		if attempt > 0 {
			t := time.NewTimer(time.Duration(rand.Int64N(int64(time.Millisecond) << min(attempt, 7))))
			select {
			case <-ctx.Done():
				t.Stop()
				return nil, ctx.Err()
			case <-t.C:
			}
		}
		var cur, next *Keyset
		cur, err = st.Load(ctx)
		if err != nil {
			return nil, err
		}
		next, err = change(cur)
		if err != nil {
			return nil, err
		}
		if next.Version() == cur.Version() {
			return cur, nil
		}
		err = st.CompareAndSwap(ctx, cur.Version(), next)
		if err == nil {
			return next, nil
		}
		if !errors.Is(err, ErrConflict) {
			return nil, err
		}
	}
	return nil, fmt.Errorf("keys: gave up after %d attempts: %w", maxUpdateAttempts, err)
}

// NewMemoryStore returns a Store kept in memory, with push notices
// ([Watcher]), for tests and single-process programs. initial may be nil.
func NewMemoryStore(initial *Keyset) Store {
	return &memoryStore{cur: initial, changed: make(chan struct{})}
}

type memoryStore struct {
	mu      sync.Mutex
	cur     *Keyset
	changed chan struct{} // closed and replaced on every change
}

var (
	_ Store   = (*memoryStore)(nil)
	_ Watcher = (*memoryStore)(nil)
)

func (m *memoryStore) Load(ctx context.Context) (*Keyset, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.cur == nil {
		return nil, ErrNotFound
	}
	return m.cur, nil
}

func (m *memoryStore) CompareAndSwap(ctx context.Context, old uint64, next *Keyset) error {
	if err := checkNext(old, next); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	var v uint64
	if m.cur != nil {
		v = m.cur.version
	}
	if v != old {
		return fmt.Errorf("%w: stored version %d, expected %d", ErrConflict, v, old)
	}
	m.cur = next
	close(m.changed)
	m.changed = make(chan struct{})
	return nil
}

func (m *memoryStore) Watch(ctx context.Context, notify func()) error {
	for {
		m.mu.Lock()
		ch := m.changed
		m.mu.Unlock()
		select {
		case <-ctx.Done():
			return nil
		case <-ch:
			notify()
		}
	}
}

func checkNext(old uint64, next *Keyset) error {
	if next == nil {
		return errors.New("keys: nil keyset")
	}
	if next.version <= old {
		return fmt.Errorf("keys: new keyset version %d is not after %d", next.version, old)
	}
	return nil
}
