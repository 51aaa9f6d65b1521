package revocation

import (
	"errors"
	"strings"
	"time"
)

const (
	// DefaultEntryTTL is the default denylist entry lifetime: a 10-minute
	// access token plus 30 seconds of leeway.
	DefaultEntryTTL = 10*time.Minute + 30*time.Second
	// DefaultGraceWindow is how long the token before the previous one still
	// replays after the previous one's first use (two tabs racing).
	DefaultGraceWindow = 10 * time.Second
	// DefaultReuseLookback is how many generations back a presented secret
	// is recognised as a genuine old token (theft) rather than a forgery.
	DefaultReuseLookback = 4096
)

// common holds the settings shared by both stores, filled by withDefaults.
type common struct {
	entryTTL time.Duration
	grace    time.Duration
	lookback int
	now      func() time.Time
}

func newCommon(entryTTL, grace time.Duration, lookback int, now func() time.Time) (common, error) {
	c := common{entryTTL: entryTTL, grace: grace, lookback: lookback, now: now}
	if c.entryTTL == 0 {
		c.entryTTL = DefaultEntryTTL
	}
	switch {
	case c.grace == 0:
		c.grace = DefaultGraceWindow
	case c.grace < 0:
		c.grace = 0
	}
	switch {
	case c.lookback == 0:
		c.lookback = DefaultReuseLookback
	case c.lookback < 0:
		c.lookback = 0
	}
	if c.now == nil {
		c.now = time.Now
	}
	if c.entryTTL < time.Millisecond {
		return c, errors.New("revocation: EntryTTL must be at least 1ms")
	}
	return c, nil
}

// RedisOptions configures a [NewRedis] store. A nil or zero RedisOptions means
// the defaults.
type RedisOptions struct {
	// KeyPrefix starts every key. It must not contain '{' or '}' (they would
	// change the hash tags). Zero means "sesame:".
	KeyPrefix string
	// EntryTTL is how long a denylist entry lives: the longest access-token
	// lifetime plus leeway. Zero means [DefaultEntryTTL] (10m30s).
	EntryTTL time.Duration
	// GraceWindow: see the package documentation. Zero means
	// [DefaultGraceWindow] (10s); a negative value means none.
	GraceWindow time.Duration
	// ReuseLookback bounds the forward walk that recognises a stolen old
	// token (at most this many HMACs per unrecognised secret). Older tokens
	// are refused as invalid without revoking the family. Zero means
	// [DefaultReuseLookback] (4096); a negative value means only the two
	// tokens before the current one are recognised.
	ReuseLookback int
	// Now is the clock for expiries and timestamps. Zero means time.Now.
	// Redis key TTLs follow it too, with a margin, as garbage collection.
	Now func() time.Time
	// WaitReplicas, when positive, makes every state-changing script
	// (create, refresh, update, revoke) wait until that many replicas of
	// the node that ran it have the change (Redis WAIT, sent in the same
	// pipeline, so on the same connection) before it succeeds. Redis
	// replication is asynchronous: without it, a change acknowledged just
	// before a master dies can be missing on the replica that takes over
	// (a rotated refresh token comes back as current: harmless; a logout
	// is undone: not). With it, such a change is either on a replica or
	// reported as ErrUnavailable; a refresh retried after that gets the
	// same new pair through the grace window. It costs one replication
	// round trip per write. It needs a *redis.Client (standalone or
	// Sentinel) or a *redis.ClusterClient. Zero means no waiting.
	WaitReplicas int
	// WaitTimeout bounds the WaitReplicas wait. It must be shorter than the
	// client's ReadTimeout, under which the WAIT reply is read (NewRedis
	// refuses it otherwise). Zero means 1s, or half the ReadTimeout when
	// that is 2s or less.
	WaitTimeout time.Duration
	// NoAutoPipeline sends every state-changing script as its own command.
	// By default (with a *redis.Client or a *redis.ClusterClient), scripts
	// of calls made while one is in flight to the same master go to Redis
	// together, as one pipeline: under concurrency that saves most of the
	// round trips' system calls on both sides, and an idle store sends each
	// script at once. Pipelines run under the client's timeouts, without a
	// caller's context values, so a tracing hook sees one pipeline rather
	// than each caller's command; at most 4096 calls wait per master, more
	// fail with ErrUnavailable. (With WaitReplicas, each script and its WAIT
	// are their own pipeline: no auto-pipelining.)
	NoAutoPipeline bool
}

// MemoryOptions configures a [NewMemory] store. A nil or zero MemoryOptions means
// the defaults; the fields mean what they mean in [RedisOptions].
type MemoryOptions struct {
	EntryTTL      time.Duration
	GraceWindow   time.Duration
	ReuseLookback int
	Now           func() time.Time
}

func validPrefix(p string) error {
	if strings.ContainsAny(p, "{}") {
		return errors.New("revocation: KeyPrefix must not contain '{' or '}'")
	}
	return nil
}

func validNewFamily(nf NewFamily, now time.Time) error {
	switch {
	case nf.SessionID == "":
		return errors.New("revocation: NewFamily.SessionID is empty")
	case !validSessionID(nf.SessionID):
		// The family id is derived from it (see DeriveFamilyID).
		return errors.New("revocation: NewFamily.SessionID is not a session id (22 characters of strict base64url encoding 128 random bits, as token.NewSessionID makes)")
	case nf.UserID == "":
		return errors.New("revocation: NewFamily.UserID is empty")
	case !nf.AbsoluteExpiry.After(now):
		return errors.New("revocation: NewFamily.AbsoluteExpiry is not in the future")
	case nf.IdleTimeout < 0:
		return errors.New("revocation: NewFamily.IdleTimeout is negative")
	}
	return nil
}
