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

// Config configures a [Manager]. Every zero field means its default, and
// for durations a negative value means none (the feature is off); this holds
// for every options struct of sesame ([keys.RotationPolicy],
// [revocation.RedisOptions], [revocation.ReplicaOptions]).
//
// [NewLocal] and [Open] build Keys, Store and Denylist themselves and take
// the Authenticator as an argument; [New] needs Keys, Store and
// Authenticator.
//
// # Lifetimes
//
// Every lifetime follows from the fields below, so any sane combination
// works and an impossible one is refused by the constructor, with an error
// that names the fields:
//
//   - an access token lives AccessTTL, and is accepted up to Leeway past
//     its exp;
//   - a denylist entry must outlive every token it revokes: NewLocal and
//     Open size the store's entries to AccessTTL + Leeway; New checks that a
//     given store's entries are at least that long;
//   - a signing key keeps verifying for at least AccessTTL + Leeway after
//     it stops signing (Rotation's MaxTokenLifetime and Leeway are derived
//     from them, and may only be raised);
//   - a session ends after RefreshIdle without a refresh, and at the latest
//     SessionLifetime (RememberLifetime with "remember me") after login.
type Config[T any] struct {
	// Keys gives the signing and verification keys: a *keys.Holder, or a
	// *keys.Keyset for a fixed one. New requires it; NewLocal and Open run
	// a keys.Holder over KeyStore.
	Keys keys.Source
	// Store keeps refresh families and the denylist. New requires it;
	// NewLocal keeps them in memory, Open in Redis.
	Store revocation.Store
	// Denylist answers "is this token revoked" from memory on every request.
	// Nil means a [revocation.Replica] of Store (which must then implement
	// [revocation.Feed], as both of revocation's stores do), run by the
	// Manager until Close; see Replica for its options.
	Denylist Denylist
	// Authenticator checks credentials at login. New requires it; NewLocal
	// and Open take it as an argument.
	Authenticator Authenticator[T]

	// Issuer and Audience are the iss and aud of minted tokens, required on
	// parsed ones. Zero means "sesame".
	Issuer, Audience string
	// AccessTTL is the access-token lifetime. Zero means 10 minutes; at
	// least 1s.
	AccessTTL time.Duration
	// Leeway is the clock skew allowed on exp, nbf, iat. Zero means 30s; a
	// negative value means none.
	Leeway time.Duration
	// RefreshIdle ends a session not refreshed for this long. Zero means 7
	// days; a negative value means no idle timeout (sessions end at their
	// absolute lifetime only).
	RefreshIdle time.Duration
	// RememberLifetime is the absolute lifetime of a session that asked to
	// be remembered ("remember": true). Zero means 30 days.
	RememberLifetime time.Duration
	// SessionLifetime is the absolute lifetime of a session that did not ask
	// to be remembered; its cookies end with the browser session. Zero means
	// 12 hours. It must not exceed RememberLifetime.
	SessionLifetime time.Duration

	// KeyStore is where NewLocal and Open keep the keyset; a missing keyset
	// is created (by compare-and-swap, so nodes starting together agree on
	// one). Nil means in memory for NewLocal (keys die with the process,
	// as its sessions do) and Redis, sealed with the master key, for Open.
	// New ignores it.
	KeyStore keys.Store
	// Rotation is the key lifecycle NewLocal and Open run (automatic
	// rotation, publish delay). Its MaxTokenLifetime and Leeway are derived
	// from AccessTTL and Leeway when zero; set higher, they are kept. New
	// ignores it.
	Rotation keys.RotationPolicy
	// Replica configures the denylist replica the Manager runs when
	// Denylist is nil: staleness bound and policy. Its Logger defaults to
	// the Manager's; its clock stays its own (staleness is real time).
	Replica revocation.ReplicaOptions
	// Redis configures the store Open makes. Its EntryTTL is derived (see
	// Lifetimes) when zero, and must cover AccessTTL + Leeway otherwise; its
	// Now defaults to the Manager's.
	Redis revocation.RedisOptions

	// CookieName names the access-token cookie. Zero means "__Host-sesame"
	// ("sesame" with Insecure).
	CookieName string
	// RefreshCookieName names the refresh-token cookie. Zero means
	// "__Host-sesame-refresh": host-only, Path=/, so no other host of the
	// site (a sibling subdomain) can plant or shadow it. With CookieDomain
	// set, zero means "__Secure-sesame-refresh", scoped to
	// RefreshCookiePath; with Insecure, "sesame-refresh". A name starting
	// with __Host- cannot be combined with CookieDomain.
	RefreshCookieName string
	// RefreshCookiePath scopes a refresh cookie that is not __Host- (with
	// CookieDomain, Insecure or a name of your own), so it travels only to
	// the auth endpoints. Zero means "/auth"; set it to where
	// [Manager.Routes] is mounted. A __Host- refresh cookie always has
	// Path=/ (the prefix requires it); the middleware then hides it from
	// application handlers.
	RefreshCookiePath string
	// CookieDomain sets Domain on the refresh cookie, sharing it with every
	// host under that domain (sso.example.com and app.example.com). Zero
	// means none: the __Host- refresh cookie, bound to this host, which is
	// safest. With a Domain any host of the domain can also plant a refresh
	// cookie of its own: two are refused and both cleared (the user logs in
	// again), but a lone planted one is indistinguishable from a genuine
	// one, so set it only when every host under the domain is trusted. The
	// access cookie is always host-only: the __Host- prefix forbids a Domain.
	CookieDomain string
	// Insecure drops Secure and the __Host-/__Secure- prefixes so cookies work
	// over plain HTTP on localhost. Development only.
	Insecure bool
	// Transports selects which transports are accepted. Zero means both.
	Transports Transport

	// MaxSessionsPerUser caps live sessions per user. Zero means no cap.
	MaxSessionsPerUser int
	// RefuseAtSessionLimit makes a login past MaxSessionsPerUser fail with
	// 403 session_limit. False (the default) ends the user's oldest session
	// to make room.
	RefuseAtSessionLimit bool
	// TheftEndsAllSessions makes a detected refresh-token reuse end every
	// session of the user. False (the default) ends the session whose token
	// was reused.
	TheftEndsAllSessions bool

	// Limits throttles logins and failing refreshes; see [Limits].
	Limits Limits

	// DataKey, 32 bytes, seals the session data kept with each refresh
	// family, so the store (Redis) never holds it in clear. Open derives it
	// from the master key when nil. Changing it makes existing sessions fail
	// to refresh (they must log in again).
	//
	// With a store that leaves the process (anything but revocation's
	// memory store), a nil DataKey is refused unless PlaintextData is set.
	DataKey []byte
	// PlaintextData lets the session data sit in the store as plain JSON
	// when DataKey is nil. Set it only if the store is as private as the
	// process.
	PlaintextData bool

	// DataEncoding encodes the session data sealed in access tokens. Nil
	// means JSON. The data is base64 twice in a token (sealed, then part of
	// the base64 claims), so each byte saved here is about 1.8 characters
	// less in every request. A hand-written binary encoding drops JSON's
	// names, quotes and brackets: 148 bytes instead of 208 for the
	// benchmarks' reference session (see "Token size" in the README).
	//
	// Unmarshal must refuse what Marshal would not produce (truncation,
	// trailing bytes) and never panic. A binary encoding has no field names,
	// so start it with a version byte and change it whenever T's layout
	// changes: a token minted under the old layout must fail to decode, not
	// decode into the wrong fields. A token that fails to decode is refused
	// (401 bad_payload) and the client's refresh mints a new one.
	//
	// Only access tokens use it: the copy of the data kept with the refresh
	// family stays JSON, so changing DataEncoding (or T, within what JSON
	// tolerates) never ends a session.
	DataEncoding token.Encoding[T]

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
	// Gateway configures forward auth (/auth/verify), the sign-in page and
	// introspection, for applications behind a proxy; see [Gateway]. Zero
	// means forward auth and the sign-in page with X-Sesame-* headers, and
	// no introspection.
	Gateway Gateway
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

// Limits throttles POST /auth/login, and failed refresh-token checks (POST
// /auth/refresh, and POST /auth/logout with a refresh token). Each limit is
// a budget per key that refills evenly over Window (a GCRA, see
// [revocation.Rate]): 10 per 5 minutes allows 10 at once, then one every
// 30s.
//
// The budgets are the fleet's, not a node's, when the store implements
// [revocation.LimiterSource]: with Redis every node counts in Redis, and
// with the memory store the process counts. With any other store (DynamoDB)
// each node counts alone, so a fleet of N nodes allows N times each limit.
// When Redis cannot be asked, each node falls back to counting alone (never
// to no limit) until it answers again; [Stats].LimiterFallback shows it.
//
// Zero fields mean defaults; a negative count disables that limit.
type Limits struct {
	// LoginsPerAddress caps login attempts (right or wrong) per client
	// network per Window. Zero means 20.
	LoginsPerAddress int
	// FailuresPerUser caps failed logins per username per Window, from
	// clients without a device token for that username. Zero means 10.
	// The failure is counted before the password is checked (and given back
	// on success), so concurrent guesses cannot exceed it.
	FailuresPerUser int
	// FailuresPerDevice caps failed logins per device token per Window: a
	// client that logged in as the user before is counted here instead of
	// against FailuresPerUser, so an attacker who locks the username out
	// does not lock out its owner's devices. Zero means 10.
	FailuresPerDevice int
	// DeviceTTL is how long a device token, handed out at each successful
	// login, stays valid. Zero means 90 days; a negative value turns device
	// tokens off (every login counts against FailuresPerUser).
	DeviceTTL time.Duration
	// RefreshFailuresPerAddress caps refresh tokens refused as invalid per
	// client network per Window. Zero means 60. Only failures count: a
	// genuine refresh token is never refused by this limit. A legitimate
	// client almost never presents an invalid refresh token, while telling
	// a stolen old token from a forgery costs the store up to ReuseLookback
	// HMACs per attempt.
	RefreshFailuresPerAddress int
	// Window is the time over which each budget refills. Zero means 5
	// minutes.
	Window time.Duration
	// IPv4Prefix and IPv6Prefix are the prefix lengths by which client
	// addresses are counted (see [IPKey]). Zero means 32 (one address) for
	// IPv4 and 64 for IPv6, where one subscriber holds a whole /64.
	IPv4Prefix, IPv6Prefix int
	// Timeout bounds one call to the shared backend (Redis); past it, and
	// for a second after, the node counts alone. Zero means 250ms.
	Timeout time.Duration
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
	switch {
	case c.Leeway == 0:
		c.Leeway = defaultLeeway
	case c.Leeway < 0:
		c.Leeway = 0
	}
	switch {
	case c.RefreshIdle == 0:
		c.RefreshIdle = 7 * 24 * time.Hour
	case c.RefreshIdle < 0:
		c.RefreshIdle = 0 // none: the store's "no idle timeout"
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
		switch {
		case c.Insecure:
			c.RefreshCookieName = "sesame-refresh"
		case c.CookieDomain != "":
			c.RefreshCookieName = "__Secure-sesame-refresh"
		default:
			c.RefreshCookieName = "__Host-sesame-refresh"
		}
	}
	if c.RefreshCookiePath == "" {
		c.RefreshCookiePath = "/auth"
	}
	if c.Transports == 0 {
		c.Transports = CookieTransport | HeaderTransport
	}
	if c.Limits.LoginsPerAddress == 0 {
		c.Limits.LoginsPerAddress = 20
	}
	if c.Limits.FailuresPerUser == 0 {
		c.Limits.FailuresPerUser = 10
	}
	if c.Limits.FailuresPerDevice == 0 {
		c.Limits.FailuresPerDevice = 10
	}
	if c.Limits.DeviceTTL == 0 {
		c.Limits.DeviceTTL = 90 * 24 * time.Hour
	}
	if c.Limits.RefreshFailuresPerAddress == 0 {
		c.Limits.RefreshFailuresPerAddress = 60
	}
	if c.Limits.Window == 0 {
		c.Limits.Window = 5 * time.Minute
	}
	if c.DataEncoding == nil {
		c.DataEncoding = token.JSONEncoding[T]{}
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
	c.Gateway = c.Gateway.withDefaults()
	return c
}

// defaultLeeway is Config.Leeway's default.
const defaultLeeway = 30 * time.Second

// EntryTTL is how long a denylist entry must live under c: AccessTTL plus
// Leeway, defaults filled in, so that an entry outlives every token it
// revokes. NewLocal and Open size their stores with it; a program that
// makes a store for Managers of these lifetimes (an admin tool) uses it too.
func (c Config[T]) EntryTTL() time.Duration {
	d := c.withDefaults()
	return d.tokenLife()
}

// tokenLife is how long after it is minted an access token may still be
// accepted: its lifetime plus the leeway on exp. Denylist entries and
// verify-only keys must last at least this long.
func (c *Config[T]) tokenLife() time.Duration { return c.AccessTTL + c.Leeway }

// validate checks a Config with its defaults filled in. Errors name the
// fields, so that an impossible combination says what to change.
func (c *Config[T]) validate() error {
	switch {
	case c.Keys == nil:
		return errors.New("auth: Config.Keys is required")
	case c.Store == nil:
		return errors.New("auth: Config.Store is required")
	case c.Authenticator == nil:
		return errors.New("auth: Config.Authenticator is required")
	case c.AccessTTL < time.Second:
		return fmt.Errorf("auth: Config.AccessTTL %v is too short (at least 1s)", c.AccessTTL)
	case c.SessionLifetime < 0 || c.RememberLifetime < 0:
		return errors.New("auth: Config.SessionLifetime and RememberLifetime cannot be negative: a session needs an absolute lifetime")
	case c.SessionLifetime > c.RememberLifetime:
		return fmt.Errorf("auth: Config.SessionLifetime %v exceeds Config.RememberLifetime %v", c.SessionLifetime, c.RememberLifetime)
	case c.MaxSessionsPerUser < 0:
		return errors.New("auth: Config.MaxSessionsPerUser is negative")
	case !c.Insecure && (len(c.CookieName) < 7 || c.CookieName[:7] != "__Host-"):
		return fmt.Errorf("auth: Config.CookieName %q must start with __Host- (or set Insecure for development)", c.CookieName)
	case hostPrefixed(c.RefreshCookieName) && c.CookieDomain != "":
		return fmt.Errorf("auth: Config.RefreshCookieName %q cannot have Config.CookieDomain %q: a __Host- cookie has no Domain", c.RefreshCookieName, c.CookieDomain)
	case c.DataKey != nil && len(c.DataKey) != 32:
		return fmt.Errorf("auth: Config.DataKey must be 32 bytes, not %d", len(c.DataKey))
	case c.DataKey == nil && !c.PlaintextData && !inProcess(c.Store):
		return errors.New("auth: Config.DataKey is nil, so session data would sit in the store in clear: " +
			"use Open (it derives the key from the master key), set DataKey (e.g. masterKey.Derive(auth.DataKeyLabel)), " +
			"or set PlaintextData to accept it")
	case c.Limits.IPv4Prefix < 0 || c.Limits.IPv4Prefix > 32 || c.Limits.IPv6Prefix < 0 || c.Limits.IPv6Prefix > 128:
		return fmt.Errorf("auth: Config.Limits.IPv4Prefix %d or IPv6Prefix %d is out of range (0-32, 0-128)", c.Limits.IPv4Prefix, c.Limits.IPv6Prefix)
	case c.Transports&^(CookieTransport|HeaderTransport) != 0:
		return errors.New("auth: unknown Config.Transports bits")
	}
	// A revoked token must stay refused until it expires: its denylist
	// entry has to outlive it. Stores that say how long entries live are
	// checked (revocation's all do).
	if st, ok := c.Store.(interface{ EntryTTL() time.Duration }); ok && c.tokenLife() > st.EntryTTL() {
		return fmt.Errorf("auth: Config.AccessTTL %v plus Config.Leeway %v outlives the store's denylist entries (EntryTTL %v): "+
			"a revoked token would be accepted again once its entry expired; use NewLocal or Open, which size the store, or give the store an EntryTTL of at least %v",
			c.AccessTTL, c.Leeway, st.EntryTTL(), c.tokenLife())
	}
	return c.Gateway.validate()
}

// inProcess reports whether a store keeps its data in this process only.
func inProcess(st revocation.Store) bool {
	_, ok := st.(revocation.InProcess)
	return ok
}

func remoteIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}
