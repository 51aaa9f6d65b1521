package auth

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/sesame-go/sesame/keys"
	"github.com/sesame-go/sesame/revocation"
	"github.com/sesame-go/sesame/token"
)

// KeySource gives the keyset in force now. keys' reloading holders
// implement it; [StaticKeys] wraps a fixed keyset.
type KeySource interface {
	Current() *keys.Keyset
}

// StaticKeys is a KeySource that always returns the same keyset.
func StaticKeys(ks *keys.Keyset) KeySource { return staticKeys{ks} }

type staticKeys struct{ ks *keys.Keyset }

func (s staticKeys) Current() *keys.Keyset { return s.ks }

// Denylist is the request-path revocation check. It must answer from memory
// (revocation's Replica does): it runs on every authenticated request. An
// error wrapping revocation.ErrUnavailable (a stale replica under a
// fail-closed policy) becomes 503, never 401.
type Denylist interface {
	Check(revocation.Subject) (revoked bool, err error)
}

// Authenticator checks credentials and returns the user id and the initial
// session data. It returns an error wrapping [ErrInvalidCredentials] for an
// unknown user or a wrong password; any other error is a 503.
//
// Implementations must spend the same time on an unknown user as on a wrong
// password (hash a dummy password), so timing does not reveal which users
// exist. Authenticate may be called concurrently.
type Authenticator[T any] interface {
	Authenticate(ctx context.Context, username, password string) (userID string, data T, err error)
}

// UserChecker is an optional interface of an [Authenticator]. A Manager
// whose Authenticator implements it asks, at every refresh, whether the
// session's user may still have sessions. For a user who may not (removed,
// disabled), every session ends — all their refresh families, and their
// access tokens through the denylist — the refresh is answered 401
// revoked, and an [EventUserInactive] is emitted. An error is a 503 that
// changes nothing (the client retries with the same refresh token).
//
// Without it, removing a user stops their logins only: sessions they
// already have last until they expire or are revoked.
type UserChecker interface {
	UserActive(ctx context.Context, userID string) (bool, error)
}

// AuthenticatorFunc adapts a function to [Authenticator].
type AuthenticatorFunc[T any] func(ctx context.Context, username, password string) (string, T, error)

// Authenticate calls f.
func (f AuthenticatorFunc[T]) Authenticate(ctx context.Context, u, p string) (string, T, error) {
	return f(ctx, u, p)
}

// ErrInvalidCredentials is what an [Authenticator] returns for an unknown
// user or a wrong password.
var ErrInvalidCredentials = errors.New("auth: invalid credentials")

// SessionLimitPolicy says what happens when a login would exceed
// Config.MaxSessionsPerUser.
type SessionLimitPolicy uint8

const (
	// EvictOldest ends the user's oldest session to make room (default).
	EvictOldest SessionLimitPolicy = iota
	// RefuseLogin refuses the new login with 403 session_limit.
	RefuseLogin
)

// TheftResponse says what a detected refresh-token reuse ends.
type TheftResponse uint8

const (
	// EndSession ends the session whose token was reused (default).
	EndSession TheftResponse = iota
	// EndAllSessions ends every session of the user.
	EndAllSessions
)

// Config configures a [Manager]. Keys, Store, Denylist and Authenticator are
// required; every other zero field means its default.
type Config[T any] struct {
	// Keys gives the signing and verification keys.
	Keys KeySource
	// Store keeps refresh families and the denylist (Redis for a fleet,
	// memory for one process).
	Store revocation.Store
	// Denylist answers "is this token revoked" from memory on every request;
	// normally a *revocation.Replica fed by Store.
	Denylist Denylist
	// Authenticator checks credentials at login.
	Authenticator Authenticator[T]

	// Issuer and Audience are the iss and aud of minted tokens, required on
	// parsed ones. Zero means "sesame".
	Issuer, Audience string
	// AccessTTL is the access-token lifetime. Zero means 10 minutes. It must
	// be at most revocation's EntryTTL minus Leeway, so a denylist entry
	// outlives every token it revokes: New refuses it otherwise, for any
	// Store with an EntryTTL() method (revocation's both have one).
	AccessTTL time.Duration
	// Leeway is the clock skew allowed on exp, nbf, iat. Zero means 30s; a
	// negative value means none.
	Leeway time.Duration
	// RefreshIdle ends a session not refreshed for this long. Zero means 7 days.
	RefreshIdle time.Duration
	// RememberLifetime is the absolute lifetime of a session that asked to
	// be remembered ("remember": true). Zero means 30 days.
	RememberLifetime time.Duration
	// SessionLifetime is the absolute lifetime of a session that did not ask
	// to be remembered; its cookies end with the browser session. Zero means
	// 12 hours.
	SessionLifetime time.Duration

	// CookieName names the access-token cookie. Zero means "__Host-sesame"
	// ("sesame" with Insecure).
	CookieName string
	// RefreshCookieName names the refresh-token cookie. Zero means
	// "__Secure-sesame-refresh" ("sesame-refresh" with Insecure).
	RefreshCookieName string
	// RefreshCookiePath scopes the refresh cookie, so it travels only to the
	// auth endpoints. Zero means "/auth"; set it to where [Manager.Routes]
	// is mounted.
	RefreshCookiePath string
	// CookieDomain sets Domain on the refresh cookie. Zero means none (host
	// only), which is safest. The access cookie is always host-only: the
	// __Host- prefix forbids a Domain.
	CookieDomain string
	// Insecure drops Secure and the __Host-/__Secure- prefixes so cookies work
	// over plain HTTP on localhost. Development only.
	Insecure bool
	// Transports selects which transports are accepted. Zero means both.
	Transports Transport

	// MaxSessionsPerUser caps live sessions per user. Zero means no cap.
	MaxSessionsPerUser int
	// OnSessionLimit says what a login past the cap does. Zero means EvictOldest.
	OnSessionLimit SessionLimitPolicy
	// OnTheft says what a refresh-token reuse ends. Zero means EndSession.
	OnTheft TheftResponse

	// LoginLimit throttles logins. The zero value means 20 attempts per IP
	// and 10 failures per username per 5 minutes; see [LoginLimit].
	LoginLimit LoginLimit

	// PayloadKey, 32 bytes, seals the session data kept with each refresh
	// family, so the store (Redis) never holds it in clear. Nil stores it as
	// plain JSON. Changing it makes existing sessions fail to refresh (they
	// must log in again). sessiond derives it from the master key.
	PayloadKey []byte

	// DataCodec encodes the session data sealed in access tokens. Nil means
	// JSON. The data is base64 twice in a token (sealed, then part of the
	// base64 claims), so each byte saved here is about 1.8 characters less
	// in every request. A hand-written binary encoding drops JSON's names,
	// quotes and brackets: 148 bytes instead of 208 for the benchmarks'
	// reference session (see "Token size" in the README).
	//
	// Unmarshal must refuse what Marshal would not produce (truncation,
	// trailing bytes) and never panic. A binary encoding has no field names,
	// so start it with a version byte and change it whenever T's layout
	// changes: a token minted under the old layout must fail to decode, not
	// decode into the wrong fields. A token that fails to decode is refused
	// (401 bad_payload) and the client's refresh mints a new one.
	//
	// Only access tokens use it: the copy of the data kept with the refresh
	// family stays JSON, so changing DataCodec (or T, within what JSON
	// tolerates) never ends a session.
	DataCodec token.PayloadCodec[T]

	// CacheSize bounds the verified-token cache, in entries: about 1.7 KB
	// each for a 200-byte session (token string, decoded session, cache
	// bookkeeping; BenchmarkCacheMemory), so the default holds about 17 MB.
	// Zero means 10000; a negative value disables the cache.
	CacheSize int

	// TrustedOrigins are origins (scheme://host[:port]) other than the
	// server's own that may send state-changing requests.
	TrustedOrigins []string
	// ClientIP extracts the client's address for throttling and the session
	// list. Nil means the host of r.RemoteAddr. Behind a proxy, supply one
	// that reads the header your proxy sets, and only that.
	ClientIP func(r *http.Request) string
	// ErrorHandler writes error responses. Nil writes the JSON body
	// {"error": code, "message": text}.
	ErrorHandler func(w http.ResponseWriter, r *http.Request, e *Error)
	// OnEvent receives security events (login, logout, theft, ...). Nil
	// discards them. It must not block.
	OnEvent func(ctx context.Context, e Event)
	// Logger logs operational problems (never tokens). Nil means slog.Default().
	Logger *slog.Logger
	// Now is the clock. Nil means time.Now.
	Now func() time.Time
}

// Transport is a set of accepted token transports.
type Transport uint8

const (
	// CookieTransport carries tokens in HttpOnly cookies (browsers).
	CookieTransport Transport = 1 << iota
	// HeaderTransport carries tokens in the Authorization header and JSON
	// bodies (APIs, mobile apps).
	HeaderTransport
)

// LoginLimit throttles POST /auth/login, and failing POST /auth/refresh,
// per node. Zero fields mean defaults; a negative count disables that limit.
type LoginLimit struct {
	PerIP   int           // login attempts per client IP per Window; default 20
	PerUser int           // failed login attempts per username per Window; default 10
	Window  time.Duration // default 5 minutes
	// RefreshFailuresPerIP caps refreshes refused as invalid per client IP
	// per Window; default 60. A legitimate client almost never presents an
	// invalid refresh token, while telling a stolen old token from a
	// forgery costs the store up to ReuseLookback HMACs per attempt.
	RefreshFailuresPerIP int
}

func (c Config[T]) withDefaults() Config[T] {
	if c.Issuer == "" {
		c.Issuer = "sesame"
	}
	if c.Audience == "" {
		c.Audience = "sesame"
	}
	if c.AccessTTL == 0 {
		c.AccessTTL = 10 * time.Minute
	}
	if c.RefreshIdle == 0 {
		c.RefreshIdle = 7 * 24 * time.Hour
	}
	if c.RememberLifetime == 0 {
		c.RememberLifetime = 30 * 24 * time.Hour
	}
	if c.SessionLifetime == 0 {
		c.SessionLifetime = 12 * time.Hour
	}
	if c.CookieName == "" {
		c.CookieName = "__Host-sesame"
		if c.Insecure {
			c.CookieName = "sesame"
		}
	}
	if c.RefreshCookieName == "" {
		c.RefreshCookieName = "__Secure-sesame-refresh"
		if c.Insecure {
			c.RefreshCookieName = "sesame-refresh"
		}
	}
	if c.RefreshCookiePath == "" {
		c.RefreshCookiePath = "/auth"
	}
	if c.Transports == 0 {
		c.Transports = CookieTransport | HeaderTransport
	}
	if c.LoginLimit.PerIP == 0 {
		c.LoginLimit.PerIP = 20
	}
	if c.LoginLimit.PerUser == 0 {
		c.LoginLimit.PerUser = 10
	}
	if c.LoginLimit.RefreshFailuresPerIP == 0 {
		c.LoginLimit.RefreshFailuresPerIP = 60
	}
	if c.LoginLimit.Window == 0 {
		c.LoginLimit.Window = 5 * time.Minute
	}
	if c.DataCodec == nil {
		c.DataCodec = token.JSONCodec[T]{}
	}
	if c.CacheSize == 0 {
		c.CacheSize = 10000
	}
	if c.ClientIP == nil {
		c.ClientIP = remoteIP
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	return c
}

func (c *Config[T]) validate() error {
	switch {
	case c.Keys == nil:
		return errors.New("auth: Config.Keys is required")
	case c.Store == nil:
		return errors.New("auth: Config.Store is required")
	case c.Denylist == nil:
		return errors.New("auth: Config.Denylist is required")
	case c.Authenticator == nil:
		return errors.New("auth: Config.Authenticator is required")
	case c.AccessTTL < time.Second:
		return fmt.Errorf("auth: AccessTTL %v is too short", c.AccessTTL)
	case c.SessionLifetime > c.RememberLifetime:
		return fmt.Errorf("auth: SessionLifetime %v exceeds RememberLifetime %v", c.SessionLifetime, c.RememberLifetime)
	case c.MaxSessionsPerUser < 0:
		return errors.New("auth: MaxSessionsPerUser is negative")
	case !c.Insecure && (len(c.CookieName) < 7 || c.CookieName[:7] != "__Host-"):
		return fmt.Errorf("auth: CookieName %q must start with __Host- (or set Insecure for development)", c.CookieName)
	case c.PayloadKey != nil && len(c.PayloadKey) != 32:
		return fmt.Errorf("auth: PayloadKey must be 32 bytes, not %d", len(c.PayloadKey))
	case c.Transports&^(CookieTransport|HeaderTransport) != 0:
		return errors.New("auth: unknown Transports bits")
	}
	return nil
}

func remoteIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}
