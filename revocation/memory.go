package revocation

import (
	"cmp"
	"context"
	"slices"
	"strconv"
	"sync"
	"time"
)

// memoryStore is a [Store] and a [Feed] held in process memory, for a single
// node and for tests. Its state is lost when the process ends. All methods may
// be called concurrently. Its behaviour matches [NewRedis] store: one contract
// test suite runs against both.
type memoryStore struct {
	c common

	mu     sync.Mutex
	sids   map[string]int64 // id -> expiry, unix ms
	jtis   map[string]int64
	users  map[string]userEntry
	fams   map[string]*famState
	byUser map[string]map[string]struct{} // lazily pruned
	sweep  int64                          // next denylist sweep, unix ms

	log     []Entry // feed events; log[0] has sequence number logBase+1
	logBase uint64
	notify  chan struct{} // closed and replaced on every append
}

type userEntry struct{ before, exp int64 }

// NewMemory returns an empty memoryStore. opts may be nil.
func NewMemory(opts *MemoryOptions) (Backend, error) {
	s, err := newMemory(opts)
	if err != nil {
		return nil, err
	}
	return s, nil
}

func newMemory(opts *MemoryOptions) (*memoryStore, error) {
	var o MemoryOptions
	if opts != nil {
		o = *opts
	}
	c, err := newCommon(o.EntryTTL, o.GraceWindow, o.ReuseLookback, o.Now)
	if err != nil {
		return nil, err
	}
	return &memoryStore{
		c:      c,
		sids:   map[string]int64{},
		jtis:   map[string]int64{},
		users:  map[string]userEntry{},
		fams:   map[string]*famState{},
		byUser: map[string]map[string]struct{}{},
		notify: make(chan struct{}),
	}, nil
}

// EntryTTL returns how long a denylist entry lives, so that a caller can
// check its access tokens do not outlive it (auth.New does).
func (m *memoryStore) EntryTTL() time.Duration { return m.c.entryTTL }

// RevokeSession implements [Store].
func (m *memoryStore) RevokeSession(ctx context.Context, sid string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.revokeLocked(KindSession, sid, 0)
	return nil
}

// RevokeToken implements [Store].
func (m *memoryStore) RevokeToken(ctx context.Context, jti string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.revokeLocked(KindToken, jti, 0)
	return nil
}

// RevokeUser implements [Store].
func (m *memoryStore) RevokeUser(ctx context.Context, userID string, before time.Time) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.revokeLocked(KindUser, userID, before.UnixMilli())
	return nil
}

func (m *memoryStore) revokeLocked(k Kind, id string, before int64) {
	now := m.c.now().UnixMilli()
	m.sweepLocked(now)
	ttl := m.c.entryTTL.Milliseconds()
	var e Entry
	switch k {
	case KindSession, KindToken:
		set := m.sids
		if k == KindToken {
			set = m.jtis
		}
		exp := max(set[id], now+ttl)
		set[id] = exp
		e = Entry{Kind: k, ID: id, Expires: time.UnixMilli(exp)}
	case KindUser:
		u := m.users[id]
		u.before = max(u.before, before)
		u.exp = max(u.exp, before+ttl)
		if u.exp <= now {
			return // every token issued before it has expired already
		}
		m.users[id] = u
		e = Entry{Kind: k, ID: id, Before: time.UnixMilli(u.before), Expires: time.UnixMilli(u.exp)}
	}
	m.appendLocked(e, now)
}

// sweepLocked drops expired denylist entries, at most once per EntryTTL/2.
func (m *memoryStore) sweepLocked(now int64) {
	if now < m.sweep {
		return
	}
	m.sweep = now + m.c.entryTTL.Milliseconds()/2
	for _, set := range []map[string]int64{m.sids, m.jtis} {
		for id, exp := range set {
			if exp <= now {
				delete(set, id)
			}
		}
	}
	for id, u := range m.users {
		if u.exp <= now {
			delete(m.users, id)
		}
	}
}

// IsRevoked implements [Store].
func (m *memoryStore) IsRevoked(ctx context.Context, s Subject) (bool, error) {
	now := m.c.now().UnixMilli()
	m.mu.Lock()
	defer m.mu.Unlock()
	if s.SID != "" && m.sids[s.SID] > now {
		return true, nil
	}
	if s.JTI != "" && m.jtis[s.JTI] > now {
		return true, nil
	}
	if s.UserID != "" {
		if u, ok := m.users[s.UserID]; ok && u.exp > now && s.IssuedAt.UnixMilli() < u.before {
			return true, nil
		}
	}
	return false, nil
}

// CreateFamily implements [Store].
func (m *memoryStore) CreateFamily(ctx context.Context, nf NewFamily) (Family, RefreshToken, error) {
	now := m.c.now()
	if err := validNewFamily(nf, now); err != nil {
		return Family{}, RefreshToken{}, err
	}
	nowMs := now.UnixMilli()
	fid, _ := DeriveFamilyID(nf.UserID, nf.SessionID) // validNewFamily checked both
	secret := newSecret()
	f := Family{
		ID: fid, SessionID: nf.SessionID, UserID: nf.UserID,
		Data:           append([]byte{}, nf.Data...),
		Created:        time.UnixMilli(nowMs),
		LastUsed:       time.UnixMilli(nowMs),
		AbsoluteExpiry: time.UnixMilli(nf.AbsoluteExpiry.UnixMilli()),
		IdleTimeout:    nf.IdleTimeout.Truncate(time.Millisecond),
		UserAgent:      nf.UserAgent, IP: nf.IP,
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.fams[fid] != nil {
		return Family{}, RefreshToken{}, errFamilyExists
	}
	m.fams[fid] = &famState{f: f, cur: hashSecret(secret)}
	idx := m.byUser[nf.UserID]
	if idx == nil {
		idx = map[string]struct{}{}
		m.byUser[nf.UserID] = idx
	}
	idx[fid] = struct{}{}
	return cloneFamily(f), formatToken(fid, secret), nil
}

// Refresh implements [Store].
func (m *memoryStore) Refresh(ctx context.Context, token string) (RefreshResult, error) {
	fid, secret, ok := parseToken(token)
	if !ok {
		return RefreshResult{}, ErrInvalidToken
	}
	h0 := hashSecret(secret)
	next := nextSecret(secret)
	h1 := hashSecret(next)

	m.mu.Lock()
	st := m.fams[fid]
	if st == nil {
		m.mu.Unlock()
		return RefreshResult{}, ErrInvalidToken
	}
	now := m.c.now().UnixMilli()
	v := st.decide(h0, now)
	if v == vUnknown {
		// Walk outside the lock: it costs up to ReuseLookback HMACs.
		known, limit := st.known(), lookbackFor(ctx, st.f.Generation, m.c.lookback)
		m.mu.Unlock()
		if !isAncestor(secret, limit, known...) {
			return RefreshResult{}, ErrInvalidToken
		}
		m.mu.Lock()
		if m.fams[fid] != st { // ended meanwhile
			m.mu.Unlock()
			return RefreshResult{}, ErrInvalidToken
		}
		now = m.c.now().UnixMilli()
		v = vReused
	}
	defer m.mu.Unlock()
	if now >= expiresMs(&st.f) {
		delete(m.fams, fid)
		return RefreshResult{}, ErrExpired
	}
	switch v {
	case vReused:
		delete(m.fams, fid)
		m.revokeLocked(KindSession, st.f.SessionID, 0)
		return RefreshResult{}, &ReuseError{FamilyID: fid, SessionID: st.f.SessionID, UserID: st.f.UserID}
	case vRotate:
		st.rotate(h1, now, m.c.grace)
		return RefreshResult{Token: formatToken(fid, next), Family: cloneFamily(st.f)}, nil
	default: // vReplay
		st.f.LastUsed = time.UnixMilli(now)
		return RefreshResult{Token: formatToken(fid, next), Family: cloneFamily(st.f), Replayed: true}, nil
	}
}

// liveLocked returns the family if it exists and has not expired; an expired
// one is deleted.
func (m *memoryStore) liveLocked(fid string) *famState {
	st := m.fams[fid]
	if st == nil {
		return nil
	}
	if m.c.now().UnixMilli() >= expiresMs(&st.f) {
		delete(m.fams, fid)
		return nil
	}
	return st
}

// UpdateData implements [Store].
func (m *memoryStore) UpdateData(ctx context.Context, familyID string, payload []byte) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	st := m.liveLocked(familyID)
	if st == nil {
		return ErrNotFound
	}
	st.f.Data = append([]byte{}, payload...)
	return nil
}

// GetFamily implements [Store].
func (m *memoryStore) GetFamily(ctx context.Context, familyID string) (Family, bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	st := m.liveLocked(familyID)
	if st == nil {
		return Family{}, false, nil
	}
	return cloneFamily(st.f), true, nil
}

// ListFamilies implements [Store].
func (m *memoryStore) ListFamilies(ctx context.Context, userID string) ([]Family, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []Family
	for fid := range m.byUser[userID] {
		st := m.liveLocked(fid)
		if st == nil {
			delete(m.byUser[userID], fid)
			continue
		}
		out = append(out, cloneFamily(st.f))
	}
	if len(m.byUser[userID]) == 0 {
		delete(m.byUser, userID)
	}
	sortFamilies(out)
	return out, nil
}

func sortFamilies(fs []Family) {
	slices.SortFunc(fs, func(a, b Family) int {
		return cmp.Or(a.Created.Compare(b.Created), cmp.Compare(a.ID, b.ID))
	})
}

// indexLen is for tests: the number of index entries kept for a user,
// including stale ones not pruned yet.
func (m *memoryStore) indexLen(userID string) int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.byUser[userID])
}

// RevokeFamily implements [Store].
func (m *memoryStore) RevokeFamily(ctx context.Context, familyID string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	st := m.fams[familyID]
	if st == nil {
		return nil
	}
	delete(m.fams, familyID)
	if idx := m.byUser[st.f.UserID]; idx != nil {
		delete(idx, familyID)
		if len(idx) == 0 {
			delete(m.byUser, st.f.UserID)
		}
	}
	m.revokeLocked(KindSession, st.f.SessionID, 0)
	return nil
}

// RevokeAllFamilies implements [Store].
func (m *memoryStore) RevokeAllFamilies(ctx context.Context, userID string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	for fid := range m.byUser[userID] {
		// The session id goes on the denylist too, so a token minted for
		// it in the same instant as this call is refused whatever the clock.
		if st := m.fams[fid]; st != nil {
			m.revokeLocked(KindSession, st.f.SessionID, 0)
		}
		delete(m.fams, fid)
	}
	delete(m.byUser, userID)
	m.revokeLocked(KindUser, userID, m.c.now().UnixMilli())
	return nil
}

// Feed.

func (m *memoryStore) appendLocked(e Entry, now int64) {
	// Trim expired entries from the head: a replica that missed them has
	// nothing to miss. A replica whose cursor falls behind the head resyncs.
	drop := 0
	for drop < len(m.log) && m.log[drop].Expires.UnixMilli() <= now {
		drop++
	}
	if drop > 0 {
		m.log = slices.Delete(m.log, 0, drop)
		m.logBase += uint64(drop)
	}
	m.log = append(m.log, e)
	close(m.notify)
	m.notify = make(chan struct{})
}

func (m *memoryStore) cursorLocked() string {
	return strconv.FormatUint(m.logBase+uint64(len(m.log)), 10)
}

// Snapshot implements [Feed].
func (m *memoryStore) Snapshot(ctx context.Context, add func(Entry)) (string, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	now := m.c.now().UnixMilli()
	for id, exp := range m.sids {
		if exp > now {
			add(Entry{Kind: KindSession, ID: id, Expires: time.UnixMilli(exp)})
		}
	}
	for id, exp := range m.jtis {
		if exp > now {
			add(Entry{Kind: KindToken, ID: id, Expires: time.UnixMilli(exp)})
		}
	}
	for id, u := range m.users {
		if u.exp > now {
			add(Entry{Kind: KindUser, ID: id, Before: time.UnixMilli(u.before), Expires: time.UnixMilli(u.exp)})
		}
	}
	return m.cursorLocked(), nil
}

func (m *memoryStore) checkCursorLocked(cursor string) (uint64, error) {
	seq, err := strconv.ParseUint(cursor, 10, 64)
	if err != nil || seq < m.logBase || seq > m.logBase+uint64(len(m.log)) {
		return 0, ErrCursorLost
	}
	return seq, nil
}

// Resume implements [Feed].
func (m *memoryStore) Resume(ctx context.Context, cursor string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	_, err := m.checkCursorLocked(cursor)
	return err
}

// Read implements [Feed].
func (m *memoryStore) Read(ctx context.Context, cursor string, wait time.Duration) ([]Entry, string, error) {
	var timer <-chan time.Time
	for {
		m.mu.Lock()
		seq, err := m.checkCursorLocked(cursor)
		if err != nil {
			m.mu.Unlock()
			return nil, cursor, err
		}
		if end := m.logBase + uint64(len(m.log)); seq < end {
			end = min(end, seq+maxReadBatch)
			out := slices.Clone(m.log[seq-m.logBase : end-m.logBase])
			m.mu.Unlock()
			return out, strconv.FormatUint(end, 10), nil
		}
		notify := m.notify
		m.mu.Unlock()
		if timer == nil {
			t := time.NewTimer(wait)
			defer t.Stop()
			timer = t.C
		}
		select {
		case <-notify:
		case <-timer:
			return nil, cursor, nil
		case <-ctx.Done():
			return nil, cursor, unavailable("read feed", ctx.Err())
		}
	}
}

// FindSession returns the live family of session sid; found is false if
// there is none. It scans every family: for administrators' tools.
func (m *memoryStore) FindSession(ctx context.Context, sid string) (Family, bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for fid, st := range m.fams {
		if st.f.SessionID == sid && sid != "" {
			if live := m.liveLocked(fid); live != nil {
				return cloneFamily(live.f), true, nil
			}
		}
	}
	return Family{}, false, nil
}

// InProcess is implemented by the stores that keep their state in this
// process alone ([NewMemory]'s): nothing they hold reaches another
// machine, so session data kept with their families needs no sealing.
type InProcess interface{ inProcess() }

func (*memoryStore) inProcess() {}
