package auth

import (
	"encoding/json"
	"errors"
	"net/http"

	"github.com/sesame-go/sesame/revocation"
)

func (m *Manager[T]) refresh(w http.ResponseWriter, r *http.Request) {
	rec := &outcomeWriter{ResponseWriter: w}
	defer func() { m.stats.refreshes.add(rec.refreshOutcome()) }()
	m.doRefresh(rec, r)
}

func (m *Manager[T]) doRefresh(w http.ResponseWriter, r *http.Request) {
	header, e := m.responseTransport(r)
	if e != nil {
		m.fail(w, r, e)
		return
	}
	var rt string
	if header {
		var req struct {
			RefreshToken string `json:"refresh_token"`
		}
		if e := decodeJSON(w, r, &req); e != nil {
			m.fail(w, r, e)
			return
		}
		rt = req.RefreshToken
	} else {
		v, e := m.refreshCookie(w, r)
		if e != nil {
			m.fail(w, r, e)
			return
		}
		rt = v
	}
	ip, ctx := m.cfg.ClientIP(r), r.Context()
	res, e, err := m.checkRefreshToken(r, rt)
	if e != nil {
		m.fail(w, r, e)
		return
	}
	if err != nil {
		m.refreshError(w, r, header, err)
		return
	}
	if ow, ok := w.(*outcomeWriter); ok {
		ow.replayed = res.Replayed
	}
	if uc, ok := m.cfg.Authenticator.(UserChecker); ok {
		active, err := uc.UserActive(ctx, res.Family.UserID)
		if err != nil {
			m.cfg.Logger.ErrorContext(ctx, "auth: cannot check the session's user", "err", err)
			m.fail(w, r, errUnavailable())
			return
		}
		if !active {
			if err := m.endAllSessions(ctx, res.Family.UserID); err != nil {
				m.storeError(w, r, err)
				return
			}
			m.event(ctx, Event{Kind: EventUserInactive, UserID: res.Family.UserID, SessionID: res.Family.SessionID,
				IP: ip, UserAgent: r.UserAgent(), Reason: CodeRevoked})
			if !header {
				m.clearCookies(w)
			}
			m.fail(w, r, unauthorized(CodeRevoked))
			return
		}
	}
	var data T
	if len(res.Family.Data) > 0 {
		pj, err := m.sealer.open(res.Family.Data, res.Family.SessionID)
		if err == nil {
			err = json.Unmarshal(pj, &data)
		}
		if err != nil {
			m.cfg.Logger.ErrorContext(ctx, "auth: stored session data does not decode", "err", err)
			m.fail(w, r, &Error{Status: http.StatusInternalServerError, Code: CodeInternal, Message: "cannot decode session data"})
			return
		}
	}
	f := res.Family
	access, claims, err := m.mint(f.SessionID, f.UserID, data)
	if err != nil {
		m.cfg.Logger.ErrorContext(ctx, "auth: cannot mint access token", "err", err)
		m.fail(w, r, &Error{Status: http.StatusInternalServerError, Code: CodeInternal, Message: "cannot issue session"})
		return
	}
	m.respondTokens(w, header, issued{access: access, exp: claims.ExpiresAt, refresh: res.Token.Reveal(), fam: f}, f.UserID, m.remembered(f))
}

func (m *Manager[T]) refreshError(w http.ResponseWriter, r *http.Request, header bool, err error) {
	var reuse *revocation.ReuseError
	switch {
	case errors.As(err, &reuse):
		m.reused(w, r, header, reuse)
	case errors.Is(err, revocation.ErrExpired):
		if !header {
			m.clearCookies(w)
		}
		m.fail(w, r, unauthorized(CodeRefreshExpired))
	case errors.Is(err, revocation.ErrInvalidToken):
		// Counted by checkRefreshToken.
		m.fail(w, r, unauthorized(CodeInvalidRefresh))
	default:
		m.storeError(w, r, err)
	}
}
