package auth

import (
	"errors"
	"net/http"

	"github.com/sesame-go/sesame/revocation"
)

func (m *Manager[T]) logout(w http.ResponseWriter, r *http.Request) {
	s, e := m.verify(r)
	if e != nil {
		if e.Status == http.StatusUnauthorized && m.logoutByRefreshToken(w, r) {
			return
		}
		// Clearing the caller's own cookies is harmless; revoking anything on
		// the word of an unverified token is not, so nothing else happens.
		if e.Status == http.StatusUnauthorized && !wantsHeader(r) {
			m.clearCookies(w)
		}
		m.fail(w, r, e)
		return
	}
	if err := m.endFamily(r.Context(), revocation.Family{ID: s.familyID, SessionID: s.Claims.SessionID}); err != nil {
		m.storeError(w, r, err)
		return
	}
	m.event(r.Context(), Event{Kind: EventLogout, UserID: s.UserID, SessionID: s.Claims.SessionID, IP: m.cfg.ClientIP(r), UserAgent: r.UserAgent()})
	m.noContent(w, r)
}

// logoutByRefreshToken ends a session whose access token has expired (a
// user who clicks "log out" after the tab sat idle): the refresh token, from
// its cookie or from the JSON body {"refresh_token"} in header transport, is
// proven genuine by the store (a refresh) before its family is ended, so a
// guessed or forged one ends nothing. A token the store calls reuse is
// answered as [Manager.refresh] answers it (see reused). It reports whether
// it answered.
func (m *Manager[T]) logoutByRefreshToken(w http.ResponseWriter, r *http.Request) bool {
	var rt string
	if wantsHeader(r) {
		if r.ContentLength == 0 {
			return false
		}
		var req struct {
			RefreshToken string `json:"refresh_token"`
		}
		if decodeJSON(w, r, &req) != nil {
			return false
		}
		rt = req.RefreshToken
	} else if v, e := m.refreshCookie(w, r); e == nil {
		rt = v
	}
	if rt == "" {
		return false
	}
	ctx := r.Context()
	res, e, err := m.checkRefreshToken(r, rt) // shares POST /refresh's failure budget
	var reuse *revocation.ReuseError
	switch {
	case e != nil:
		m.fail(w, r, e)
		return true
	case errors.As(err, &reuse):
		// A stale token is theft here as on /refresh: the store ended the
		// family, and the policy, the event and the answer are the same.
		m.reused(w, r, wantsHeader(r), reuse)
		return true
	case errors.Is(err, revocation.ErrUnavailable):
		m.storeError(w, r, err)
		return true
	case err != nil:
		return false
	}
	if err := m.endFamily(ctx, res.Family); err != nil {
		m.storeError(w, r, err)
		return true
	}
	m.event(ctx, Event{Kind: EventLogout, UserID: res.Family.UserID, SessionID: res.Family.SessionID, IP: m.cfg.ClientIP(r), UserAgent: r.UserAgent()})
	m.noContent(w, r)
	return true
}

func (m *Manager[T]) logoutAll(w http.ResponseWriter, r *http.Request) {
	s, e := m.verify(r)
	if e != nil {
		m.fail(w, r, e)
		return
	}
	if err := m.endAllSessions(r.Context(), s.UserID); err != nil {
		m.storeError(w, r, err)
		return
	}
	m.event(r.Context(), Event{Kind: EventLogoutAll, UserID: s.UserID, SessionID: s.Claims.SessionID, IP: m.cfg.ClientIP(r), UserAgent: r.UserAgent()})
	m.noContent(w, r)
}

func (m *Manager[T]) noContent(w http.ResponseWriter, r *http.Request) {
	if !wantsHeader(r) {
		m.clearCookies(w)
	}
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusNoContent)
}
