package keys

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"
)

// HolderOptions configures a [Holder]. A nil *HolderOptions means the defaults.
type HolderOptions struct {
	// PollInterval is how often the store is read to catch a change that no
	// notice announced (file stores, or a missed Redis message). Zero means
	// 1 second; a negative value disables polling (then only notices and
	// [Holder.Reload] bring changes).
	PollInterval time.Duration

	// Logger receives a line per keyset change and per failed load. Nil means
	// slog.Default(). Keys log their id and state only, never secrets.
	Logger *slog.Logger
}

// loadTimeout bounds one read of the store, so that a hung backend cannot
// stall reloading forever.
const loadTimeout = 10 * time.Second

func (o *HolderOptions) withDefaults() HolderOptions {
	var c HolderOptions
	if o != nil {
		c = *o
	}
	if c.PollInterval == 0 {
		c.PollInterval = time.Second
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	return c
}

// Holder keeps the current keyset of a node and reloads it when the store
// changes. The request path calls [Holder.Current], which is one atomic load
// and takes no lock. A keyset that fails to load is reported
// ([Holder.Status], log) and the node stays on the last good one.
//
// A Holder never goes back. It remembers the highest keyset version it has
// seen and every key id it has seen revoked (its own watermark, for the life
// of the process), and refuses with [ErrRollback], loudly (log, Status), a
// stored keyset that is older, that makes one of those keys usable again, or
// that differs from the one in use at the same version: each means the store
// was restored from an older copy or written by a writer working from one.
// A keyset created from scratch with [Init] is newer than the old one (its
// first version is its creation time) and has new key ids, so nodes do move
// to it.
//
// All methods are safe for concurrent use.
type Holder struct {
	store Store
	opts  HolderOptions
	cur   atomic.Pointer[Keyset]
	kick  chan struct{}

	loadMu sync.Mutex // serializes loads; guards mark
	mark   watermark  // highest version and every kid seen revoked
	mu     sync.Mutex // guards status; never held across I/O, so Status stays instant while a load hangs
	status HolderStatus
}

// HolderStatus is a [Holder]'s health, for readiness checks and logs.
type HolderStatus struct {
	// Version is the version of the keyset in use.
	Version uint64
	// LoadedAt is when that keyset was loaded.
	LoadedAt time.Time
	// LastError is the error of the last load, or nil if it succeeded. The
	// node keeps serving with the keyset in use either way.
	LastError error
	// LastErrorAt is when LastError happened.
	LastErrorAt time.Time
}

// NewHolder loads the keyset from store and returns a Holder serving it.
// It fails if the keyset cannot be loaded: a node must not start without one.
// Call [Holder.Run] to follow changes.
func NewHolder(ctx context.Context, store Store, opts *HolderOptions) (*Holder, error) {
	h := &Holder{store: store, opts: opts.withDefaults(), kick: make(chan struct{}, 1)}
	if err := h.Reload(ctx); err != nil {
		return nil, err
	}
	return h, nil
}

// Current returns the keyset in use. It is never nil.
func (h *Holder) Current() *Keyset { return h.cur.Load() }

// Status returns the holder's health.
func (h *Holder) Status() HolderStatus {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.status
}

// Reload reads the store now and swaps the new keyset in if it is newer.
// Programs call it on SIGHUP. On error the keyset in use stays.
func (h *Holder) Reload(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, loadTimeout)
	defer cancel()
	h.loadMu.Lock()
	defer h.loadMu.Unlock()
	ks, err := h.store.Load(ctx)
	old := h.cur.Load()
	if err == nil {
		err = h.mark.check(ks)
	}
	if err == nil && old != nil && ks.Version() == old.Version() && !sameContent(ks, old) {
		err = fmt.Errorf("%w: two different keysets at version %d", ErrRollback, ks.Version())
	}
	now := time.Now()
	h.mu.Lock()
	defer h.mu.Unlock()
	if err != nil {
		h.status.LastError, h.status.LastErrorAt = err, now
		if errors.Is(err, ErrRollback) {
			h.opts.Logger.Error("keys: stored keyset refused, keeping the one in use; restore the newest keyset or re-apply the revocations", "version", h.mark.Version, "err", err)
		} else if old != nil {
			h.opts.Logger.Warn("keys: keyset reload failed, keeping the last good one", "version", old.Version(), "err", err)
		}
		return err
	}
	h.status.LastError = nil
	h.mark.raise(ks)
	if old != nil && ks.Version() == old.Version() {
		return nil
	}
	h.cur.Store(ks)
	h.status.Version, h.status.LoadedAt = ks.Version(), now
	signer, _ := ks.Signer()
	h.opts.Logger.Info("keys: keyset loaded", "version", ks.Version(), "active", signer.ID())
	return nil
}

// Run follows the store until ctx ends, then returns nil. It reloads on every
// notice of a [Watcher] store, every PollInterval, and after a notice channel
// failed (when it may have missed a change). Call it once per Holder.
func (h *Holder) Run(ctx context.Context) error {
	var wg sync.WaitGroup
	defer wg.Wait()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	if w, ok := h.store.(Watcher); ok {
		wg.Go(func() { h.watch(ctx, w) })
	}
	var tick <-chan time.Time
	if h.opts.PollInterval > 0 {
		t := time.NewTicker(h.opts.PollInterval)
		defer t.Stop()
		tick = t.C
	}
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-tick:
		case <-h.kick:
		}
		h.Reload(ctx) // errors are in Status and the log
	}
}

// notify asks Run to reload without blocking the notifier.
func (h *Holder) notify() {
	select {
	case h.kick <- struct{}{}:
	default:
	}
}

// watch keeps a Watch call running, backing off when the notice channel
// fails. Polling covers the gap.
func (h *Holder) watch(ctx context.Context, w Watcher) {
	const minBackoff, maxBackoff = 100 * time.Millisecond, 10 * time.Second
	backoff := minBackoff
	for {
		start := time.Now()
		err := w.Watch(ctx, h.notify)
		if ctx.Err() != nil {
			return
		}
		h.opts.Logger.Warn("keys: keyset change notices failed, polling meanwhile", "err", err)
		if time.Since(start) > maxBackoff {
			backoff = minBackoff
		}
		t := time.NewTimer(backoff)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
		backoff = min(2*backoff, maxBackoff)
		h.notify() // a change may have been missed while disconnected
	}
}
