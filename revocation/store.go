package revocation

import (
	"context"
	"time"
)

// Backend is what revocation's constructors return: a [Store] whose
// changes a [Replica] can follow ([Feed]), and the lifetime of its denylist
// entries. NewMemory (one process), NewRedis (a fleet on Redis) and
// NewDynamo (a fleet on DynamoDB) make one; their types stay unexported.
// Optional abilities are optional interfaces: [LimiterSource] (memory and
// Redis). Every method may be called concurrently.
type Backend interface {
	Store
	Feed
	// EntryTTL is how long a denylist entry lives: a token it revokes
	// must expire before it does (auth checks).
	EntryTTL() time.Duration
}

// Store is the revocation state of a deployment: the denylist and the
// refresh-token families. [NewRedis] store and [NewDynamo] store serve a fleet;
// [NewMemory] store serves a single process. Every method may be called
// concurrently.
//
// A non-nil error wraps [ErrUnavailable] when the backend could not be asked,
// or is one of the documented sentinels; "not revoked" and "not found" are
// answers, not errors.
type Store interface {
	// RevokeSession puts a session id on the denylist for EntryTTL.
	RevokeSession(ctx context.Context, sid string) error
	// RevokeToken puts one access-token id (jti) on the denylist for EntryTTL.
	RevokeToken(ctx context.Context, jti string) error
	// RevokeUser revokes every access token of userID issued before before.
	// The entry lives until before+EntryTTL, when every such token has
	// expired anyway. A later call with an earlier time never lowers it.
	RevokeUser(ctx context.Context, userID string, before time.Time) error
	// IsRevoked is the strict check: it asks the backend itself, so it sees
	// a revocation as soon as the write that made it has returned.
	IsRevoked(ctx context.Context, s Subject) (bool, error)

	// CreateFamily starts a refresh family for a new session and returns its
	// first refresh token. The family id is [DeriveFamilyID] the user and
	// session ids. A session id whose family exists is refused with an error
	// and the family is left untouched; it is never overwritten.
	CreateFamily(ctx context.Context, nf NewFamily) (Family, RefreshToken, error)
	// Refresh rotates a refresh token. See the package documentation for the
	// replay and grace rules. Errors: [ErrInvalidToken] (no state changed),
	// [ErrExpired], [*ReuseError] (wraps [ErrReused]), [ErrUnavailable].
	Refresh(ctx context.Context, token string) (RefreshResult, error)
	// UpdateData replaces the session data kept with a family, so that the
	// next refresh returns it. [ErrNotFound] if the family is gone.
	UpdateData(ctx context.Context, familyID string, data []byte) error
	// GetFamily returns a live family; found is false if it is gone.
	GetFamily(ctx context.Context, familyID string) (f Family, found bool, err error)
	// FindSession returns the live family of session sid; found is false
	// if there is none. There is no index from session ids to families, so
	// it scans them all: for administrators' tools, not the request path.
	FindSession(ctx context.Context, sid string) (f Family, found bool, err error)
	// ListFamilies returns a user's live families, oldest first. Index
	// entries of ended or expired families are pruned on the way, never
	// returned.
	ListFamilies(ctx context.Context, userID string) ([]Family, error)
	// RevokeFamily ends a family and denylists its session id. Ending a
	// family that is already gone is not an error.
	RevokeFamily(ctx context.Context, familyID string) error
	// RevokeAllFamilies ends every family of a user and sets the user's
	// revoked-before to now, which revokes every access token issued so far.
	RevokeAllFamilies(ctx context.Context, userID string) error
}

// Subject identifies an access token for a denylist check. Empty fields are
// not checked.
type Subject struct {
	SID      string    // session id (claim sid)
	JTI      string    // token id (claim jti)
	UserID   string    // user id, for the user's revoked-before
	IssuedAt time.Time // claim iat, compared with the user's revoked-before
}

// NewFamily describes the family created at login.
type NewFamily struct {
	// SessionID is required: the sid of the access tokens of this session,
	// fresh for each family. It must be 128 random bits in base64url, 22
	// characters, as token.NewSessionID makes.
	SessionID string
	UserID    string // required
	Data      []byte // the session data, sealed by the caller; opaque to this package
	// AbsoluteExpiry is when the family ends whatever its use; required, in
	// the future. It never moves.
	AbsoluteExpiry time.Time
	// IdleTimeout ends the family when no refresh happened for that long;
	// each refresh slides it. Zero means no idle timeout.
	IdleTimeout time.Duration
	UserAgent   string // device metadata shown in session lists
	IP          string
}

// Family is a refresh family: one login session on one device.
type Family struct {
	ID             string
	SessionID      string
	UserID         string
	Data           []byte
	Created        time.Time
	LastUsed       time.Time // creation or last refresh (replays included)
	AbsoluteExpiry time.Time
	IdleTimeout    time.Duration // zero: none
	UserAgent      string
	IP             string
	// Generation counts rotations: 0 for the token made at creation.
	Generation uint64
}

// Expires returns when the family ends if it is not used again.
func (f Family) Expires() time.Time {
	if f.IdleTimeout > 0 {
		if idle := f.LastUsed.Add(f.IdleTimeout); idle.Before(f.AbsoluteExpiry) {
			return idle
		}
	}
	return f.AbsoluteExpiry
}

// RefreshResult is the answer to a successful [Store.Refresh].
type RefreshResult struct {
	// Token is the refresh token to hand back to the client.
	Token RefreshToken
	// Family is the family after the refresh, with its current payload.
	Family Family
	// Replayed is true when the presented token had already been rotated and
	// Token is the successor handed out before (a race, a retry, a lost
	// answer). No new generation was made.
	Replayed bool
}

var (
	_ Store = (*redisStore)(nil)
	_ Store = (*memoryStore)(nil)
	_ Feed  = (*redisStore)(nil)
	_ Feed  = (*memoryStore)(nil)
)
