package auth

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/sesame-go/sesame/keys"
	"github.com/sesame-go/sesame/revocation"
	"github.com/sesame-go/sesame/token"
)

// Manager is sesame's HTTP face for session data of type T: it mints and
// verifies access tokens, rotates refresh tokens, and serves the auth
// endpoints and middleware. All methods may be called concurrently.
//
// A Manager runs what it built ([NewLocal] and [Open]: the keyset holder, the
// key rotator, the denylist replica; [New]: the replica when Config.Denylist
// is nil) and a watch on the replica's staleness until [Manager.Close].
type Manager[T any] struct {
	cfg       Config[T]
	codec     *token.Codec[payload[T]]
	cop       *http.CrossOriginProtection
	lim       *limiters
	deviceKey []byte // signs device tokens (device.go)
	cache     *tokenCache[T]
	sealer    *dataSealer
	stats     *stats
	local     *localRevocations
	parts     Parts
	stale     staleness

	stop func()         // ends what the Manager runs
	wg   sync.WaitGroup // what it runs
}

// Parts are the components a Manager runs; see [Manager.Parts].
type Parts struct {
	// Keys is the keyset holder NewLocal and Open run (nil for New).
	Keys *keys.Holder
	// Store is the revocation store.
	Store revocation.Store
	// Replica is the denylist replica the Manager runs (nil when
	// Config.Denylist was given).
	Replica *revocation.Replica
	// Journal is what the Replica reads through: the live revocations
	// with their ids, to write back to a store that lost them (see
	// revocation.Journal). Nil when Config.Denylist was given.
	Journal *revocation.Journal
}

// New returns a Manager for cfg, built from the parts cfg gives; see
// [Config] for what is required and the defaults of the rest. Most programs
// call [NewLocal] or [Open] instead, which build the parts. A Manager that
// runs its own replica (Config.Denylist nil) answers 503 until the replica
// has loaded, usually within milliseconds; call Close when done with it.
func New[T any](cfg Config[T]) (*Manager[T], error) {
	// Limits count on the store's clock (Redis: the server's TIME, one clock
	// for the fleet) unless the program injected one.
	limiterClock := cfg.Now
	cfg = cfg.withDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	leeway := cfg.Leeway
	if leeway == 0 {
		leeway = -1 // token's "none"
	}
	codec, err := token.New[payload[T]](&token.Options{
		Issuer:   cfg.Issuer,
		Audience: cfg.Audience,
		TTL:      cfg.AccessTTL,
		Leeway:   leeway,
		Now:      cfg.Now,
	})
	if err != nil {
		return nil, fmt.Errorf("auth: %w", err)
	}
	m := &Manager[T]{
		cfg:   cfg,
		codec: codec.WithEncoding(payloadEncoding[T]{cfg.DataEncoding}),
		cop:   http.NewCrossOriginProtection(),
		cache: newTokenCache[T](cfg.CacheSize, cfg.Now),
		stats: newStats(),
		local: newLocalRevocations(cfg.tokenLife()),
		parts: Parts{Store: cfg.Store},
		stop:  func() {},
	}
	if m.sealer, err = newDataSealer(cfg.DataKey); err != nil {
		return nil, err
	}
	if m.deviceKey, err = newDeviceKey(cfg.DataKey); err != nil {
		return nil, fmt.Errorf("auth: %w", err)
	}
	if m.lim, err = newLimiters(cfg.Store, cfg.Limits, cfg.Gateway, limiterClock); err != nil {
		return nil, err
	}
	for _, o := range cfg.TrustedOrigins {
		if err := m.cop.AddTrustedOrigin(o); err != nil {
			return nil, fmt.Errorf("auth: trusted origin %q: %w", o, err)
		}
	}
	m.cop.SetDenyHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		m.fail(w, r, &Error{Status: http.StatusForbidden, Code: CodeForbidden, Message: "cross-origin request refused"})
	}))
	if m.cfg.ErrorHandler == nil {
		m.cfg.ErrorHandler = JSONError
	}
	if cfg.Denylist == nil {
		feed, ok := cfg.Store.(revocation.Feed)
		if !ok {
			return nil, fmt.Errorf("auth: Config.Denylist is nil and the store (%T) has no change feed to replicate: give a Denylist", cfg.Store)
		}
		ro := cfg.Replica
		if ro.Logger == nil {
			ro.Logger = cfg.Logger
		}
		// The replica reads through a journal that keeps the ids of the
		// live entries, so that a store which lost its data (Redis restarted
		// empty) can be given them back: Parts.Journal.Republish.
		journal := revocation.NewJournal(feed, nil)
		rep, err := revocation.NewReplica(journal, &ro)
		if err != nil {
			return nil, fmt.Errorf("auth: %w", err)
		}
		m.cfg.Denylist, m.parts.Replica, m.parts.Journal = rep, rep, journal
		m.run(rep.Run)
	}
	m.stale.init(m.cfg.Denylist)
	if m.stale.status != nil {
		m.run(m.watchStale)
	}
	if cfg.Insecure {
		cfg.Logger.Warn("auth: Insecure is set: cookies lack Secure and the __Host-/__Secure- prefixes; use only for plain-HTTP development on localhost")
	}
	return m, nil
}

// run runs f until Close.
func (m *Manager[T]) run(f func(context.Context) error) {
	ctx, cancel := context.WithCancel(context.Background())
	prev := m.stop
	m.stop = func() { cancel(); prev() }
	m.wg.Go(func() { f(ctx) })
}

// Close stops what the Manager runs (see [Manager]) and waits for it to
// return. Requests served after Close are answered as the parts left them:
// a replica that stopped following the store goes stale, and past its
// staleness bound its policy applies. Close always returns nil.
func (m *Manager[T]) Close() error {
	m.stop()
	m.wg.Wait()
	return nil
}

// Parts returns the components the Manager works with, for programs that
// report on them (readiness, metrics) or act on them (reload the keyset).
func (m *Manager[T]) Parts() Parts { return m.parts }

// Verify authenticates r: it takes the access token from the request's
// transport, verifies it, and checks the local denylist. The returned error
// is an [*Error] ready to be written (401 for a bad or revoked token, 503
// when the denylist cannot vouch for it).
func (m *Manager[T]) Verify(r *http.Request) (*Session[T], error) {
	s, e := m.verify(r)
	if e != nil {
		return nil, e
	}
	return s, nil
}

func (m *Manager[T]) verify(r *http.Request) (*Session[T], *Error) {
	s, e := m.verifyToken(r)
	m.stats.verified(e)
	return s, e
}

func (m *Manager[T]) verifyToken(r *http.Request) (*Session[T], *Error) {
	raw, e := m.accessToken(r)
	if e != nil {
		return nil, e
	}
	return m.verifyRaw(raw)
}

// verifyRaw verifies the access token raw, as verifyToken does once it has
// taken it from the request.
func (m *Manager[T]) verifyRaw(raw string) (*Session[T], *Error) {
	ks, now := m.cfg.Keys.Current(), m.cfg.Now() // one clock read per request
	s, e := m.cache.get(raw, now, ks)
	if e != nil {
		return nil, e
	}
	if s != nil {
		m.stats.cacheHits.Add(1)
	} else {
		m.stats.cacheMisses.Add(1)
		if !validToken(raw) {
			return nil, unauthorized(token.Reason(token.ErrMalformed))
		}
		tok, err := m.codec.Parse(ks, raw)
		if err != nil {
			return nil, unauthorized(token.Reason(err))
		}
		fam, ok := revocation.DeriveFamilyID(tok.Payload.Sub, tok.Claims.SessionID)
		if !ok {
			// mint never seals a payload for such a sid, so no logout
			// could name this session's family.
			return nil, unauthorized(token.Reason(token.ErrDecrypt))
		}
		s = &Session[T]{
			Claims:   tok.Claims,
			UserID:   tok.Payload.Sub,
			Data:     tok.Payload.Data,
			familyID: fam,
			enc:      new(encodings),
		}
		m.cache.put(raw, s, m.leeway())
	}
	sub := denySubject(s)
	if m.local.revoked(sub.SID, sub.UserID, sub.IssuedAt, now) {
		return nil, unauthorized(CodeRevoked)
	}
	revoked, err := m.cfg.Denylist.Check(sub)
	if err != nil {
		// A stale replica under fail-closed: we cannot vouch for the token,
		// but it is not known to be bad either. 503 makes clients retry
		// instead of logging the user out.
		m.stale.refused(m, err)
		return nil, errUnavailable()
	}
	if m.stale.status == nil {
		m.stale.vouched(m)
	}
	if revoked {
		return nil, unauthorized(CodeRevoked)
	}
	return s, nil
}

// verifyStrict is verify plus a denylist read from the store itself, so a
// revocation written anywhere is seen at once.
func (m *Manager[T]) verifyStrict(r *http.Request) (*Session[T], *Error) {
	s, e := m.verify(r)
	if e != nil {
		return nil, e
	}
	revoked, err := m.cfg.Store.IsRevoked(r.Context(), denySubject(s))
	if err != nil {
		return nil, errUnavailable()
	}
	if revoked {
		return nil, unauthorized(CodeRevoked)
	}
	return s, nil
}

// mint makes an access token for session sid of user uid.
func (m *Manager[T]) mint(sid, uid string, data T) (string, token.Claims, error) {
	return m.codec.Mint(m.cfg.Keys.Current(), sid, payload[T]{Sub: uid, Data: data})
}

// Update replaces the session data of the request's session: it stores data
// with the refresh family (so the next refresh keeps it) and re-mints the
// access token. In cookie transport the new token is set as the access
// cookie; in header transport the caller must hand the returned token to the
// client (for example in its JSON response). r must have passed Require,
// Optional (with a session) or Strict.
func (m *Manager[T]) Update(w http.ResponseWriter, r *http.Request, data T) (string, error) {
	s, ok := FromContext[T](r.Context())
	if !ok {
		return "", errors.New("auth: Update called on a request without a session")
	}
	pj, err := json.Marshal(data)
	if err != nil {
		return "", fmt.Errorf("auth: encoding session data: %w", err)
	}
	// Mint first: a payload too large for a token must fail before the
	// family is changed, so nothing partial is written.
	raw, claims, err := m.mint(s.Claims.SessionID, s.UserID, data)
	if err != nil {
		return "", fmt.Errorf("auth: %w", err)
	}
	if err := m.cfg.Store.UpdateData(r.Context(), s.familyID, m.sealer.seal(pj, s.Claims.SessionID)); err != nil {
		return "", fmt.Errorf("auth: storing session data: %w", err)
	}
	if !wantsHeader(r) {
		fam, found, err := m.cfg.Store.GetFamily(r.Context(), s.familyID)
		remember := found && err == nil && m.remembered(fam)
		m.setCookies(w, raw, claims.ExpiresAt, "", time.Time{}, remember)
	}
	// s is shared with other requests carrying the same token (the
	// verified-token cache), so it is not changed here: this request's
	// FromContext keeps showing the data it came with.
	return raw, nil
}

// remembered tells whether a family was created with "remember me": its
// absolute lifetime is longer than a non-remembered session's.
func (m *Manager[T]) remembered(f revocation.Family) bool {
	return f.AbsoluteExpiry.Sub(f.Created) > m.cfg.SessionLifetime
}

func (m *Manager[T]) event(ctx context.Context, e Event) {
	m.stats.event(e.Kind)
	if m.cfg.OnEvent == nil {
		return
	}
	e.Time = m.cfg.Now()
	m.cfg.OnEvent(ctx, e)
}

// denySubject is what the denylist is asked about a session's token.
//
// iat has whole-second precision while a user's revoked-before has
// millisecond precision. Taking iat as the start of its second would revoke
// a session made in the same second right after a "log out everywhere" (a
// user who logs out everywhere and at once logs back in would be thrown
// out). So a token counts as issued at the end of its second. The tokens
// that this lets through (made in the same second just before the
// revocation) belong to sessions whose ids [Manager.endAllSessions]
// denylists one by one, so they are refused all the same.
func denySubject[T any](s *Session[T]) revocation.Subject {
	return revocation.Subject{
		SID:      s.Claims.SessionID,
		JTI:      s.Claims.ID,
		UserID:   s.UserID,
		IssuedAt: s.Claims.IssuedAt.Add(time.Second - time.Millisecond),
	}
}

// endAllSessions ends every session of a user: each family is ended (which
// denylists its session id) and then the user's revoked-before is set, which
// also catches tokens of sessions that had no family left.
func (m *Manager[T]) endAllSessions(ctx context.Context, uid string) error {
	fams, err := m.cfg.Store.ListFamilies(ctx, uid)
	if err != nil {
		return err
	}
	for _, f := range fams {
		if err := m.endFamily(ctx, f); err != nil {
			return err
		}
	}
	before := m.cfg.Now()
	if err := m.cfg.Store.RevokeAllFamilies(ctx, uid); err != nil {
		return err
	}
	m.local.user(uid, before)
	return nil
}

// endFamily ends one refresh family (the store denylists its session id)
// and notes the revocation locally so this node refuses the session's
// tokens at once.
func (m *Manager[T]) endFamily(ctx context.Context, f revocation.Family) error {
	if err := m.cfg.Store.RevokeFamily(ctx, f.ID); err != nil {
		return err
	}
	m.local.session(f.SessionID, m.cfg.Now())
	return nil
}

// leeway is the clock skew allowed on exp (zero: none).
func (m *Manager[T]) leeway() time.Duration { return m.cfg.Leeway }
