package revocation

import (
	"context"
	"fmt"
	"sync"
	"time"
)

// Journal is a [Feed] that passes another feed through to a [Replica] and
// keeps a copy of every live denylist entry that goes by, ids included (the
// replica keeps only hashes), so that after Redis lost its data set the node
// can write them back: [Journal.Republish]. Memory is that of the live
// denylist, which CAPACITY.md sizes by the logout rate times EntryTTL;
// expired entries are dropped as new ones arrive.
//
// # Why republishing is sound
//
// The denylist only ever says "revoked", and nothing removes an entry before
// it expires: there is no un-revoke. So every entry a node has seen and that
// has not expired is one the fleet still means, and writing it again can
// only restore a revocation, never create one nobody made. The writes are
// idempotent and commute (a user's revoked-before only rises; a session or
// token entry keeps the later expiry), so several nodes republishing at
// once, or racing new revocations, end in the union. A session or token
// entry comes back with a full EntryTTL from now rather than its remaining
// time: it is revoked for longer, which no one can tell from "revoked",
// since nothing it revoked becomes valid again. What cannot come back:
// refresh families (those sessions must log in again: the loss fails
// closed) and revocations no running node saw.
//
// The journal also feeds the replica as before: a replica merges, so it
// never forgets an entry because Redis did.
//
// All methods may be called concurrently.
type Journal struct {
	feed Feed
	now  func() time.Time

	mu      sync.Mutex
	entries map[journalKey]Entry
	sweepAt int
}

type journalKey struct {
	kind Kind
	id   string
}

var _ Feed = (*Journal)(nil)

// NewJournal returns a Journal over feed. now is the clock for expiries;
// nil means time.Now.
func NewJournal(feed Feed, now func() time.Time) *Journal {
	if now == nil {
		now = time.Now
	}
	return &Journal{feed: feed, now: now, entries: map[journalKey]Entry{}, sweepAt: 1024}
}

// Snapshot implements [Feed].
func (j *Journal) Snapshot(ctx context.Context, add func(Entry)) (string, error) {
	return j.feed.Snapshot(ctx, func(e Entry) {
		j.record(e)
		add(e)
	})
}

// Resume implements [Feed].
func (j *Journal) Resume(ctx context.Context, cursor string) error {
	return j.feed.Resume(ctx, cursor)
}

// Read implements [Feed].
func (j *Journal) Read(ctx context.Context, cursor string, wait time.Duration) ([]Entry, string, error) {
	entries, next, err := j.feed.Read(ctx, cursor, wait)
	for _, e := range entries {
		j.record(e)
	}
	return entries, next, err
}

// record keeps e, with the latest Expires and Before seen for its id.
func (j *Journal) record(e Entry) {
	if e.Kind != KindSession && e.Kind != KindToken && e.Kind != KindUser {
		return
	}
	now := j.now()
	if !e.Expires.After(now) {
		return
	}
	j.mu.Lock()
	defer j.mu.Unlock()
	k := journalKey{e.Kind, e.ID}
	if old, ok := j.entries[k]; ok {
		if old.Expires.After(e.Expires) {
			e.Expires = old.Expires
		}
		if old.Before.After(e.Before) {
			e.Before = old.Before
		}
	}
	j.entries[k] = e
	if len(j.entries) >= j.sweepAt {
		for k, e := range j.entries {
			if !e.Expires.After(now) {
				delete(j.entries, k)
			}
		}
		j.sweepAt = max(1024, 2*len(j.entries)) // amortized O(1) per entry
	}
}

// Len returns how many live entries the journal holds.
func (j *Journal) Len() int {
	now := j.now()
	j.mu.Lock()
	defer j.mu.Unlock()
	n := 0
	for _, e := range j.entries {
		if e.Expires.After(now) {
			n++
		}
	}
	return n
}

// Republish writes every live entry back to store: RevokeSession,
// RevokeToken, or RevokeUser with the recorded revoked-before. It returns
// how many it wrote; on error it stops, and a later call starts again
// (every write is idempotent). See the type's documentation for why this is
// sound.
func (j *Journal) Republish(ctx context.Context, store Store) (int, error) {
	now := j.now()
	j.mu.Lock()
	live := make([]Entry, 0, len(j.entries))
	for _, e := range j.entries {
		if e.Expires.After(now) {
			live = append(live, e)
		}
	}
	j.mu.Unlock()
	for i, e := range live {
		var err error
		switch e.Kind {
		case KindSession:
			err = store.RevokeSession(ctx, e.ID)
		case KindToken:
			err = store.RevokeToken(ctx, e.ID)
		case KindUser:
			err = store.RevokeUser(ctx, e.ID, e.Before)
		}
		if err != nil {
			return i, fmt.Errorf("revocation: republishing: %w", err)
		}
	}
	return len(live), nil
}
