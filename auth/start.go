package auth

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"time"

	"github.com/sesame-go/sesame/revocation"
)

// Tokens are a new session's credentials, as [Manager.StartSession] hands
// them out. String and LogValue never print the tokens.
type Tokens struct {
	SessionID      string
	AccessToken    string
	AccessExpires  time.Time
	RefreshToken   string
	RefreshExpires time.Time
}

// String shows the session id and expiries, never the tokens.
func (t Tokens) String() string {
	return "auth.Tokens{sid " + t.SessionID + ", access until " + t.AccessExpires.UTC().Format(time.RFC3339) + ", REDACTED}"
}

// LogValue logs the session id and expiries, never the tokens.
func (t Tokens) LogValue() slog.Value {
	return slog.GroupValue(slog.String("sid", t.SessionID), slog.Time("access_expires", t.AccessExpires),
		slog.Time("refresh_expires", t.RefreshExpires))
}

// StartSession starts a session for user uid with data, for an application
// that authenticated the user its own way (an OAuth callback, a magic link,
// WebAuthn): everything POST /auth/login does once the password is checked.
// remember gives the session RememberLifetime and persistent cookies.
//
// In cookie transport it sets the session cookies on w, and the caller then
// writes its own response (a redirect, a page). In header transport (r has
// "X-Session-Transport: header" or an Authorization header) it sets
// nothing, and the caller hands the returned Tokens to the client. Either
// way the session id is new: nothing the client presented is reused.
//
// MaxSessionsPerUser applies, and an [EventLoginSuccess] is emitted. An
// error is an [*Error] for [Manager.WriteError]: 503 when the store is
// unreachable, 403 session_limit, 500.
func (m *Manager[T]) StartSession(w http.ResponseWriter, r *http.Request, uid string, data T, remember bool) (Tokens, error) {
	if uid == "" {
		return Tokens{}, errors.New("auth: StartSession needs a user id")
	}
	is, e := m.start(r, uid, data, remember, Event{IP: m.cfg.ClientIP(r), UserAgent: r.UserAgent()})
	if e != nil {
		return Tokens{}, e
	}
	if !wantsHeader(r) {
		m.setCookies(w, is.access, is.exp, is.refresh, is.fam.Expires(), remember)
	}
	return Tokens{SessionID: is.fam.SessionID, AccessToken: is.access, AccessExpires: is.exp,
		RefreshToken: is.refresh, RefreshExpires: is.fam.Expires()}, nil
}

// EndSession ends session sid of user uid: its refresh family ends, and its
// access tokens are refused by this node at once and by every node once its
// replica has the change. Ending a session that is already over is not an
// error. The caller decides who may end which session (DELETE
// /auth/sessions/{sid} lets users end only their own). An
// [EventSessionEnded] is emitted. An error wraps revocation.ErrUnavailable
// when the store could not be reached; calling it again is safe.
func (m *Manager[T]) EndSession(ctx context.Context, uid, sid string) error {
	fid, ok := revocation.DeriveFamilyID(uid, sid)
	if !ok {
		return errors.New("auth: EndSession: not a user id and session id")
	}
	if err := m.endFamily(ctx, revocation.Family{ID: fid, SessionID: sid}); err != nil {
		return err
	}
	m.event(ctx, Event{Kind: EventSessionEnded, UserID: uid, SessionID: sid})
	return nil
}

// EndAllSessions ends every session of user uid ("log out everywhere"), as
// POST /auth/logout-all does for the requesting user: each refresh family
// ends, and every access token issued to the user so far is refused (this
// node at once, every node once its replica has the change). Sessions
// started afterwards are not affected. An [EventLogoutAll] is emitted. An
// error wraps revocation.ErrUnavailable when the store could not be reached;
// calling it again is safe.
func (m *Manager[T]) EndAllSessions(ctx context.Context, uid string) error {
	if uid == "" {
		return errors.New("auth: EndAllSessions needs a user id")
	}
	if err := m.endAllSessions(ctx, uid); err != nil {
		return err
	}
	m.event(ctx, Event{Kind: EventLogoutAll, UserID: uid})
	return nil
}
