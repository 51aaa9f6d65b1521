package auth

import (
	"net/http"

	"github.com/sesame-go/sesame/revocation"
)

// reused answers a refresh token presented after its family moved on past
// the grace rules: theft, wherever the token was presented (POST /refresh
// or POST /logout), since a thief who learns that one endpoint reports
// reuse would present stolen tokens to the other. The store has already
// ended the family and denylisted its session id; this applies the rest of
// the policy: the session is refused on this node at once, Config.TheftEndsAllSessions
// may end every session of the user, a refresh_token_reused event is
// emitted, and the answer is 401 refresh_token_reused with the cookies
// cleared.
func (m *Manager[T]) reused(w http.ResponseWriter, r *http.Request, header bool, reuse *revocation.ReuseError) {
	ctx := r.Context()
	m.local.session(reuse.SessionID, m.cfg.Now())
	if m.cfg.TheftEndsAllSessions {
		if err := m.endAllSessions(ctx, reuse.UserID); err != nil {
			m.cfg.Logger.ErrorContext(ctx, "auth: ending all sessions after theft failed", "err", err)
		}
	}
	m.event(ctx, Event{Kind: EventRefreshReused, UserID: reuse.UserID, SessionID: reuse.SessionID,
		IP: m.cfg.ClientIP(r), UserAgent: r.UserAgent(), Reason: CodeRefreshReused})
	if !header {
		m.clearCookies(w)
	}
	m.fail(w, r, unauthorized(CodeRefreshReused))
}
