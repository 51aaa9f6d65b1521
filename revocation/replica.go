package revocation

import (
	"context"
	"errors"
	"hash/maphash"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"
)

// Policy says how a stale [Replica] answers.
type Policy uint8

const (
	// FailClosed (the default) answers revoked=true with [ErrStale] once the
	// replica is stale: a revocation it may have missed is never ignored,
	// and callers answer 503 (ErrStale wraps ErrUnavailable), not 401.
	FailClosed Policy = iota
	// FailOpen answers from the (possibly old) replica content, with a nil
	// error, and only reports staleness through [Replica.Status].
	FailOpen
)

func (p Policy) String() string {
	if p == FailOpen {
		return "fail-open"
	}
	return "fail-closed"
}

// maxReadBatch is the most entries a [Feed] Read returns at once. A Read
// that returns fewer was current when it answered.
const maxReadBatch = 1024

// ReplicaOptions configures a [Replica]. A nil or zero ReplicaOptions means
// the defaults.
type ReplicaOptions struct {
	// StalenessBound is how long the replica may go without confirming it is
	// current before Policy applies. Zero means 5s.
	StalenessBound time.Duration
	// Policy applies past the staleness bound. Zero means FailClosed.
	Policy Policy
	// ResyncInterval is how often a full snapshot is merged in, as a safety
	// net behind the feed. Zero means 5m; a negative value disables it.
	ResyncInterval time.Duration
	// SweepInterval is how often expired entries are dropped from memory
	// (they stop counting at their expiry regardless). Zero means 1m.
	SweepInterval time.Duration
	// ReadWait is how long one feed read may block. Zero means 1s, capped
	// at a quarter of StalenessBound. Run may take this long to return after
	// its context ends.
	ReadWait time.Duration
	// Now is the clock for expiries and lag. Zero means time.Now.
	Now func() time.Time
	// Logger receives feed errors and resyncs. Zero means no logging.
	Logger *slog.Logger
}

// Replica is a node's in-memory copy of the denylist: a snapshot at start,
// then the feed's ordered events, a periodic full resync, and reconnection
// that resumes from its cursor (or resyncs when the cursor is lost).
// A resync merges: an entry leaves the replica only by expiring.
//
// Check, Lag and Status may be called concurrently with each other and with
// Run; Run is called once.
type Replica struct {
	feed                Feed
	bound, wait         time.Duration
	resync, sweep       time.Duration
	policy              Policy
	now                 func() time.Time // the injected clock, or time.Now
	fastNow             bool             // now is time.Now: Check uses clock
	clock               atomic.Pointer[clockBase]
	log                 *slog.Logger
	seedS, seedJ, seedU maphash.Seed
	created             time.Time

	ids     atomic.Pointer[table] // sessions and tokens (distinct seeds)
	users   atomic.Pointer[table] // aux: revoked-before
	current atomic.Int64          // unix ms of the last confirmation; 0: never
	running atomic.Bool
	// stale is the request path's view of staleness (when the clock is not
	// injected): a timer sets it at the bound, a confirmation clears it.
	stale      atomic.Bool
	staleMu    sync.Mutex
	staleTimer *time.Timer  // armed while Run runs
	entries    atomic.Int64 // used slots of both tables, for Status

	ready     chan struct{} // closed once the first snapshot is loaded
	readyOnce sync.Once

	mu      sync.Mutex
	lastErr error
	resyncs uint64
}

// NewReplica returns a replica of feed. It holds nothing (and is stale)
// until [Replica.Run] has loaded the first snapshot.
func NewReplica(feed Feed, opts *ReplicaOptions) (*Replica, error) {
	if feed == nil {
		return nil, errors.New("revocation: nil feed")
	}
	var o ReplicaOptions
	if opts != nil {
		o = *opts
	}
	if o.StalenessBound == 0 {
		o.StalenessBound = 5 * time.Second
	}
	if o.ResyncInterval == 0 {
		o.ResyncInterval = 5 * time.Minute
	}
	if o.SweepInterval == 0 {
		o.SweepInterval = time.Minute
	}
	if o.ReadWait == 0 {
		o.ReadWait = min(time.Second, o.StalenessBound/4)
	}
	fastNow := o.Now == nil
	if fastNow {
		o.Now = time.Now
	}
	switch {
	case o.StalenessBound < time.Millisecond:
		return nil, errors.New("revocation: StalenessBound must be at least 1ms")
	case o.SweepInterval < 0:
		return nil, errors.New("revocation: SweepInterval is negative")
	case o.ReadWait < time.Millisecond:
		return nil, errors.New("revocation: ReadWait must be at least 1ms")
	case o.Policy > FailOpen:
		return nil, errors.New("revocation: unknown Policy")
	}
	r := &Replica{
		feed: feed, bound: o.StalenessBound, wait: o.ReadWait,
		resync: o.ResyncInterval, sweep: o.SweepInterval, policy: o.Policy,
		now: o.Now, fastNow: fastNow, log: o.Logger,
		seedS: maphash.MakeSeed(), seedJ: maphash.MakeSeed(), seedU: maphash.MakeSeed(),
		created: o.Now(),
		ready:   make(chan struct{}),
	}
	r.ids.Store(newTable(0, false))
	r.users.Store(newTable(0, true))
	r.rebase()
	r.stale.Store(true)
	return r, nil
}

// clockBase lets Check read the time from the monotonic clock alone, which
// costs a fraction of time.Now on many virtual machines. Run re-bases it on
// every loop, so a step of the wall clock is followed within ReadWait.
type clockBase struct {
	mono   time.Time // with its monotonic reading
	wallMs int64
}

func (r *Replica) rebase() {
	if r.fastNow {
		now := time.Now()
		r.clock.Store(&clockBase{mono: now, wallMs: now.UnixMilli()})
	}
}

// nowMs is the request path's clock.
func (r *Replica) nowMs() int64 {
	if !r.fastNow {
		return r.now().UnixMilli()
	}
	b := r.clock.Load()
	return b.wallMs + int64(time.Since(b.mono)/time.Millisecond)
}

// Check reports whether s is revoked, from memory only: no lock, no
// allocation, and no clock read unless an entry matches. A stale replica
// answers per its Policy: FailClosed gives (true, [ErrStale]); FailOpen
// answers from memory with a nil error.
func (r *Replica) Check(s Subject) (revoked bool, err error) {
	var nowMs int64 // read lazily: the clock costs more than a lookup
	if r.fastNow {
		if r.stale.Load() && r.policy == FailClosed {
			return true, ErrStale
		}
	} else {
		nowMs = r.now().UnixMilli()
		if r.staleAt(nowMs) && r.policy == FailClosed {
			return true, ErrStale
		}
	}
	ids := r.ids.Load()
	if s.SID != "" {
		if exp, _, ok := ids.get(hashID(r.seedS, s.SID)); ok && r.live(exp, &nowMs) {
			return true, nil
		}
	}
	if s.JTI != "" {
		if exp, _, ok := ids.get(hashID(r.seedJ, s.JTI)); ok && r.live(exp, &nowMs) {
			return true, nil
		}
	}
	if s.UserID != "" {
		if exp, before, ok := r.users.Load().get(hashID(r.seedU, s.UserID)); ok && s.IssuedAt.UnixMilli() < before && r.live(exp, &nowMs) {
			return true, nil
		}
	}
	return false, nil
}

// live reports whether an entry expiring at exp is live, reading the clock
// into *nowMs on first use.
func (r *Replica) live(exp int64, nowMs *int64) bool {
	if *nowMs == 0 {
		*nowMs = r.nowMs()
	}
	return exp > *nowMs
}

// staleAt computes staleness from the clock.
func (r *Replica) staleAt(nowMs int64) bool {
	cur := r.current.Load()
	return cur == 0 || nowMs-cur > r.bound.Milliseconds()
}

// confirm records that the replica was current at nowMs.
func (r *Replica) confirm(nowMs int64) {
	r.staleMu.Lock()
	defer r.staleMu.Unlock()
	r.current.Store(nowMs)
	r.stale.Store(false)
	r.readyOnce.Do(func() { close(r.ready) })
	if r.staleTimer != nil {
		r.staleTimer.Reset(r.bound + time.Millisecond)
	}
}

// checkStale runs when the staleness bound may have passed without a
// confirmation. Holding staleMu orders it with confirm, so a confirmation
// is never overwritten by an older verdict.
func (r *Replica) checkStale() {
	r.staleMu.Lock()
	defer r.staleMu.Unlock()
	if r.staleTimer == nil {
		return
	}
	nowMs := r.now().UnixMilli()
	if r.staleAt(nowMs) {
		r.stale.Store(true)
		return
	}
	left := r.bound.Milliseconds() - (nowMs - r.current.Load())
	r.staleTimer.Reset(time.Duration(left+1) * time.Millisecond)
}

// Ready returns a channel that is closed once the replica has loaded its
// first snapshot, so a program can wait for it (with its own timeout)
// before serving, instead of polling Status.
func (r *Replica) Ready() <-chan struct{} { return r.ready }

// lag returns the time since the replica last confirmed it was current
// (since it was created, if it never did).
func (r *Replica) lag() time.Duration {
	cur := r.current.Load()
	if cur == 0 {
		return r.now().Sub(r.created)
	}
	return time.Duration(r.now().UnixMilli()-cur) * time.Millisecond
}

// ReplicaStatus is a replica's health, for readiness checks and metrics.
type ReplicaStatus struct {
	Ready          bool          // the first snapshot is loaded
	Stale          bool          // Lag is past StalenessBound (or not Ready)
	Policy         Policy        // what Check does while Stale
	Lag            time.Duration // since the replica last confirmed it was current (since it was made, if never)
	StalenessBound time.Duration
	Entries        int    // entries held, expired ones not yet swept included
	Resyncs        uint64 // full snapshots loaded, the first one included
	LastError      string // the last feed error, "" once reading works again
}

// Status returns the replica's current health.
func (r *Replica) Status() ReplicaStatus {
	lag := r.lag()
	ready := r.current.Load() != 0
	stale := r.staleAt(r.now().UnixMilli())
	if r.fastNow {
		stale = r.stale.Load()
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	st := ReplicaStatus{
		Ready: ready, Stale: stale, Policy: r.policy, Lag: lag,
		StalenessBound: r.bound, Resyncs: r.resyncs,
		Entries: int(r.entries.Load()),
	}
	if r.lastErr != nil {
		st.LastError = r.lastErr.Error()
	}
	return st
}

// Run keeps the replica current until ctx ends, then returns nil. Feed errors
// never stop it: it retries with backoff (50ms doubling to 2s), resuming from
// its cursor or resyncing when the cursor is lost, and reports them through
// Status. It returns an error only if called while another Run is active.
func (r *Replica) Run(ctx context.Context) error {
	if !r.running.CompareAndSwap(false, true) {
		return errors.New("revocation: Replica.Run is already running")
	}
	defer r.running.Store(false)
	r.staleMu.Lock()
	r.staleTimer = time.AfterFunc(r.bound, r.checkStale)
	r.staleMu.Unlock()
	defer func() {
		// A replica that no longer runs can not vouch for anything.
		r.staleMu.Lock()
		r.staleTimer.Stop()
		r.staleTimer = nil
		r.current.Store(0)
		r.stale.Store(true)
		r.staleMu.Unlock()
	}()
	const minBackoff, maxBackoff = 50 * time.Millisecond, 2 * time.Second
	var cursor string
	needSnap, needResume := true, false
	backoff := minBackoff
	var nextResync, nextSweep time.Time
	for ctx.Err() == nil {
		r.rebase()
		var err error
		switch {
		case needSnap:
			if cursor, err = r.snapshot(ctx); err == nil {
				needSnap, needResume = false, false
				nextResync = r.now().Add(r.resync)
			}
		case needResume:
			if err = r.feed.Resume(ctx, cursor); err == nil {
				needResume = false
			}
		default:
			var entries []Entry
			var next string
			entries, next, err = r.feed.Read(ctx, cursor, r.wait)
			if err == nil {
				r.apply(entries)
				cursor = next
				if len(entries) < maxReadBatch {
					r.confirm(r.now().UnixMilli())
				}
			}
		}
		if errors.Is(err, ErrCursorLost) {
			r.logf("revocation replica: cursor lost, resyncing")
			needSnap = true
			continue
		}
		if err != nil {
			if ctx.Err() != nil {
				break
			}
			r.setErr(err)
			r.logf("revocation replica: feed error, retrying", "err", err, "backoff", backoff)
			needResume = !needSnap
			t := time.NewTimer(backoff)
			select {
			case <-ctx.Done():
			case <-t.C:
			}
			t.Stop()
			backoff = min(backoff*2, maxBackoff)
			continue
		}
		backoff = minBackoff
		r.setErr(nil)
		now := r.now()
		if r.resync > 0 && !now.Before(nextResync) {
			needSnap = true
		}
		if nextSweep.IsZero() {
			nextSweep = now.Add(r.sweep)
		} else if !now.Before(nextSweep) {
			nowMs := now.UnixMilli()
			ids, users := r.ids.Load().rebuilt(nowMs, 0), r.users.Load().rebuilt(nowMs, 0)
			r.ids.Store(ids)
			r.users.Store(users)
			r.entries.Store(int64(ids.used + users.used))
			nextSweep = now.Add(r.sweep)
		}
	}
	return nil
}

func (r *Replica) logf(msg string, args ...any) {
	if r.log != nil {
		r.log.Warn(msg, args...)
	}
}

func (r *Replica) setErr(err error) {
	r.mu.Lock()
	r.lastErr = err
	r.mu.Unlock()
}

// snapshot merges a full snapshot into fresh tables and publishes them. The
// replica counts as current as of the snapshot's start.
func (r *Replica) snapshot(ctx context.Context) (string, error) {
	start := r.now()
	nowMs := start.UnixMilli()
	ids := r.ids.Load().rebuilt(nowMs, 0)
	users := r.users.Load().rebuilt(nowMs, 0)
	cursor, err := r.feed.Snapshot(ctx, func(e Entry) {
		ids, users = r.put(ids, users, e)
	})
	if err != nil {
		return "", err
	}
	r.ids.Store(ids)
	r.users.Store(users)
	r.entries.Store(int64(ids.used + users.used))
	r.confirm(nowMs)
	r.mu.Lock()
	r.resyncs++
	r.mu.Unlock()
	return cursor, nil
}

// apply adds feed entries to the published tables, publishing a grown table
// when one fills up.
func (r *Replica) apply(entries []Entry) {
	ids0, users0 := r.ids.Load(), r.users.Load()
	ids, users := ids0, users0
	for _, e := range entries {
		ids, users = r.put(ids, users, e)
	}
	if ids != ids0 {
		r.ids.Store(ids)
	}
	if users != users0 {
		r.users.Store(users)
	}
	r.entries.Store(int64(ids.used + users.used))
}

// put adds e to the right table, returning the tables to use from now on
// (a full table is replaced by a grown copy, not yet published).
func (r *Replica) put(ids, users *table, e Entry) (*table, *table) {
	exp := e.Expires.UnixMilli()
	var t **table
	var key uint64
	var aux int64
	switch e.Kind {
	case KindSession:
		t, key = &ids, hashID(r.seedS, e.ID)
	case KindToken:
		t, key = &ids, hashID(r.seedJ, e.ID)
	case KindUser:
		t, key, aux = &users, hashID(r.seedU, e.ID), e.Before.UnixMilli()
	default:
		return ids, users
	}
	if !(*t).put(key, exp, aux) {
		*t = (*t).rebuilt(r.now().UnixMilli(), 1)
		(*t).put(key, exp, aux)
	}
	return ids, users
}
