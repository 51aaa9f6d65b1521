package auth

import (
	"encoding/json"
	"errors"
	"io"
	"mime"
	"net/http"
	"strings"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/sesame-go/sesame/revocation"
	"github.com/sesame-go/sesame/token"
)

// maxBody bounds request bodies of the auth endpoints: credentials and a
// refresh token fit in far less; anything larger is refused with 413 before
// it is decoded.
const maxBody = 64 << 10

// Routes returns the auth endpoints, to mount under /auth (the refresh
// cookie's path; see Config.RefreshCookiePath):
//
//	r.Mount("/auth", m.Routes())
//
//	POST   /login          credentials → new session        200
//	POST   /refresh        refresh token → new token pair   200
//	POST   /logout         end this session                 204
//	POST   /logout-all     end every session of the user    204
//	GET    /session        this session's claims and data   200
//	GET    /sessions       the user's sessions (devices)    200
//	DELETE /sessions/{sid} end one of the user's sessions   204
//
// State-changing routes refuse cross-origin browser requests (403). No GET
// changes state.
func (m *Manager[T]) Routes() chi.Router {
	r := chi.NewRouter()
	r.Use(m.cop.Handler)
	r.Post("/login", m.login)
	r.Post("/refresh", m.refresh)
	r.Post("/logout", m.logout)
	r.Post("/logout-all", m.logoutAll)
	r.Get("/session", m.session)
	r.Get("/sessions", m.sessions)
	r.Delete("/sessions/{sid}", m.endSession)
	r.NotFound(func(w http.ResponseWriter, r *http.Request) {
		m.fail(w, r, &Error{Status: http.StatusNotFound, Code: CodeNotFound, Message: "no such endpoint"})
	})
	r.MethodNotAllowed(func(w http.ResponseWriter, r *http.Request) {
		m.fail(w, r, &Error{Status: http.StatusMethodNotAllowed, Code: CodeBadRequest, Message: "method not allowed"})
	})
	return r
}

// decodeJSON reads one JSON object of at most maxBody bytes into v.
func decodeJSON(w http.ResponseWriter, r *http.Request, v any) *Error {
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || mt != "application/json" {
		return errBadRequest("Content-Type must be application/json")
	}
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxBody))
	if err := dec.Decode(v); err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			return &Error{Status: http.StatusRequestEntityTooLarge, Code: CodeTooLarge, Message: "request body too large"}
		}
		return errBadRequest("body must be a JSON object")
	}
	if _, err := dec.Token(); err != io.EOF {
		return errBadRequest("body must hold one JSON object")
	}
	return nil
}

type loginRequest struct {
	Username string `json:"username"`
	Password string `json:"password"`
	Remember bool   `json:"remember"`
}

func (m *Manager[T]) login(w http.ResponseWriter, r *http.Request) {
	rec := &outcomeWriter{ResponseWriter: w}
	defer func() { m.metrics.logins.WithLabelValues(rec.loginOutcome()).Inc() }()
	m.doLogin(rec, r)
}

func (m *Manager[T]) doLogin(w http.ResponseWriter, r *http.Request) {
	header, e := m.responseTransport(r)
	if e != nil {
		m.fail(w, r, e)
		return
	}
	var req loginRequest
	if e := decodeJSON(w, r, &req); e != nil {
		m.fail(w, r, e)
		return
	}
	if req.Username == "" || req.Password == "" || len(req.Username) > 256 || len(req.Password) > 1024 {
		m.fail(w, r, errBadRequest("username and password are required"))
		return
	}
	ctx, now, ip := r.Context(), m.cfg.Now(), m.cfg.ClientIP(r)
	userKey := strings.ToLower(req.Username)
	ev := Event{Username: req.Username, IP: ip, UserAgent: r.UserAgent()}
	if wait, blocked := m.ipLimit.blocked(ip, now); blocked {
		m.throttled(w, r, ev, wait)
		return
	}
	if wait, blocked := m.usLimit.blocked(userKey, now); blocked {
		m.throttled(w, r, ev, wait)
		return
	}
	m.ipLimit.add(ip, now)

	uid, data, err := m.cfg.Authenticator.Authenticate(ctx, req.Username, req.Password)
	switch {
	case errors.Is(err, ErrInvalidCredentials):
		m.usLimit.add(userKey, now)
		ev.Kind, ev.Reason = EventLoginFailure, CodeInvalidCredentials
		m.event(ctx, ev)
		m.fail(w, r, &Error{Status: http.StatusUnauthorized, Code: CodeInvalidCredentials, Message: "invalid username or password"})
		return
	case err != nil:
		m.cfg.Logger.ErrorContext(ctx, "auth: authenticator failed", "err", err)
		m.fail(w, r, errUnavailable())
		return
	}
	m.usLimit.reset(userKey)
	ev.UserID = uid

	if e := m.enforceSessionCap(r, uid, ev); e != nil {
		m.fail(w, r, e)
		return
	}
	pj, err := json.Marshal(data)
	if err != nil {
		m.cfg.Logger.ErrorContext(ctx, "auth: encoding session data", "err", err)
		m.fail(w, r, &Error{Status: http.StatusInternalServerError, Code: CodeInternal, Message: "cannot encode session data"})
		return
	}
	// Always a new session id: whatever the client presented (a planted
	// cookie, an old token) is ignored, so a session cannot be fixated.
	sid := token.NewSessionID()
	lifetime := m.cfg.SessionLifetime
	if req.Remember {
		lifetime = m.cfg.RememberLifetime
	}
	fam, rt, err := m.cfg.Store.CreateFamily(ctx, revocation.NewFamily{
		SessionID:      sid,
		UserID:         uid,
		Payload:        m.sealer.seal(pj, sid),
		AbsoluteExpiry: now.Add(lifetime),
		IdleTimeout:    m.cfg.RefreshIdle,
		UserAgent:      truncate(r.UserAgent(), 256),
		IP:             ip,
	})
	if err != nil {
		m.storeError(w, r, err)
		return
	}
	access, claims, err := m.mint(sid, uid, fam.ID, data)
	if err != nil {
		// Undo the family so nothing half-made stays behind.
		_ = m.cfg.Store.RevokeFamily(ctx, fam.ID)
		m.cfg.Logger.ErrorContext(ctx, "auth: cannot mint access token", "err", err)
		m.fail(w, r, &Error{Status: http.StatusInternalServerError, Code: CodeInternal, Message: "cannot issue session"})
		return
	}
	ev.Kind, ev.SessionID = EventLoginSuccess, sid
	m.event(ctx, ev)
	m.respondTokens(w, header, access, claims.ExpiresAt, rt.Reveal(), fam, uid, req.Remember)
}

func (m *Manager[T]) throttled(w http.ResponseWriter, r *http.Request, ev Event, wait time.Duration) {
	ev.Kind, ev.Reason = EventLoginThrottled, CodeRateLimited
	m.event(r.Context(), ev)
	m.fail(w, r, &Error{Status: http.StatusTooManyRequests, Code: CodeRateLimited,
		Message: "too many login attempts, retry later", RetryAfter: max(1, int((wait+time.Second-1)/time.Second))})
}

// enforceSessionCap applies MaxSessionsPerUser before a new session is made.
func (m *Manager[T]) enforceSessionCap(r *http.Request, uid string, ev Event) *Error {
	if m.cfg.MaxSessionsPerUser <= 0 {
		return nil
	}
	ctx := r.Context()
	fams, err := m.cfg.Store.ListFamilies(ctx, uid)
	if err != nil {
		return errUnavailable()
	}
	excess := len(fams) - m.cfg.MaxSessionsPerUser + 1
	if excess <= 0 {
		return nil
	}
	if m.cfg.OnSessionLimit == RefuseLogin {
		return &Error{Status: http.StatusForbidden, Code: CodeSessionLimit, Message: "too many active sessions; end one first"}
	}
	for _, f := range fams[:excess] { // oldest first
		if err := m.endFamily(ctx, f); err != nil {
			return errUnavailable()
		}
		ev.Kind, ev.SessionID = EventSessionEvicted, f.SessionID
		m.event(ctx, ev)
	}
	return nil
}

// responseTransport decides how login and refresh hand out tokens.
func (m *Manager[T]) responseTransport(r *http.Request) (header bool, e *Error) {
	header = strings.EqualFold(r.Header.Get(TransportHeader), "header")
	if header && m.cfg.Transports&HeaderTransport == 0 || !header && m.cfg.Transports&CookieTransport == 0 {
		return header, &Error{Status: http.StatusBadRequest, Code: CodeTransport, Message: "transport not allowed"}
	}
	return header, nil
}

type tokenResponse struct {
	AccessToken      string `json:"access_token"`
	TokenType        string `json:"token_type"`
	ExpiresIn        int    `json:"expires_in"`
	RefreshToken     string `json:"refresh_token"`
	RefreshExpiresIn int    `json:"refresh_expires_in"`
}

type cookieResponse struct {
	SessionID        string `json:"sid"`
	Subject          string `json:"sub"`
	ExpiresIn        int    `json:"expires_in"`
	RefreshExpiresIn int    `json:"refresh_expires_in"`
}

func (m *Manager[T]) respondTokens(w http.ResponseWriter, header bool, access string, exp time.Time, refresh string, fam revocation.Family, uid string, remember bool) {
	now := m.cfg.Now()
	expIn := int(exp.Sub(now).Round(time.Second) / time.Second)
	refreshIn := int(fam.Expires().Sub(now).Round(time.Second) / time.Second)
	h := w.Header()
	h.Set("Cache-Control", "no-store")
	h.Set("Pragma", "no-cache")
	h.Set("Content-Type", "application/json")
	var body any
	if header {
		body = tokenResponse{AccessToken: access, TokenType: "Bearer", ExpiresIn: expIn, RefreshToken: refresh, RefreshExpiresIn: refreshIn}
	} else {
		m.setCookies(w, access, exp, refresh, fam.Expires(), remember)
		body = cookieResponse{SessionID: fam.SessionID, Subject: uid, ExpiresIn: expIn, RefreshExpiresIn: refreshIn}
	}
	w.WriteHeader(http.StatusOK)
	json.NewEncoder(w).Encode(body)
}

func (m *Manager[T]) refresh(w http.ResponseWriter, r *http.Request) {
	rec := &outcomeWriter{ResponseWriter: w}
	defer func() { m.metrics.refreshes.WithLabelValues(rec.refreshOutcome()).Inc() }()
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
		v, e := singleCookie(r, m.cfg.RefreshCookieName)
		if e != nil {
			m.fail(w, r, e)
			return
		}
		rt = v
	}
	ip, now := m.cfg.ClientIP(r), m.cfg.Now()
	if wait, blocked := m.rfLimit.blocked(ip, now); blocked {
		m.fail(w, r, &Error{Status: http.StatusTooManyRequests, Code: CodeRateLimited,
			Message: "too many failed refreshes, retry later", RetryAfter: max(1, int((wait+time.Second-1)/time.Second))})
		return
	}
	if rt == "" || len(rt) > 512 {
		m.rfLimit.add(ip, now)
		m.fail(w, r, unauthorized(CodeInvalidRefresh))
		return
	}
	ctx := r.Context()
	res, err := m.cfg.Store.Refresh(ctx, rt)
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
	if len(res.Family.Payload) > 0 {
		pj, err := m.sealer.open(res.Family.Payload, res.Family.SessionID)
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
	access, claims, err := m.mint(f.SessionID, f.UserID, f.ID, data)
	if err != nil {
		m.cfg.Logger.ErrorContext(ctx, "auth: cannot mint access token", "err", err)
		m.fail(w, r, &Error{Status: http.StatusInternalServerError, Code: CodeInternal, Message: "cannot issue session"})
		return
	}
	m.respondTokens(w, header, access, claims.ExpiresAt, res.Token.Reveal(), f, f.UserID, m.remembered(f))
}

func (m *Manager[T]) refreshError(w http.ResponseWriter, r *http.Request, header bool, err error) {
	ctx := r.Context()
	var reuse *revocation.ReuseError
	switch {
	case errors.As(err, &reuse):
		// Theft: the store already ended the family and denylisted its sid.
		m.local.session(reuse.SessionID, m.cfg.Now())
		if m.cfg.OnTheft == EndAllSessions {
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
	case errors.Is(err, revocation.ErrExpired):
		if !header {
			m.clearCookies(w)
		}
		m.fail(w, r, unauthorized(CodeRefreshExpired))
	case errors.Is(err, revocation.ErrInvalidToken):
		m.rfLimit.add(m.cfg.ClientIP(r), m.cfg.Now())
		m.fail(w, r, unauthorized(CodeInvalidRefresh))
	default:
		m.storeError(w, r, err)
	}
}

// storeError answers a store failure: 503 with Retry-After, never a 401 that
// would log the user out.
func (m *Manager[T]) storeError(w http.ResponseWriter, r *http.Request, err error) {
	if !errors.Is(err, revocation.ErrUnavailable) {
		m.cfg.Logger.ErrorContext(r.Context(), "auth: session store error", "err", err)
	}
	m.fail(w, r, errUnavailable())
}

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
// guessed or forged one ends nothing. It reports whether it answered.
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
	} else if v, e := singleCookie(r, m.cfg.RefreshCookieName); e == nil {
		rt = v
	}
	if rt == "" || len(rt) > 512 {
		return false
	}
	ctx := r.Context()
	res, err := m.cfg.Store.Refresh(ctx, rt)
	switch {
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

type sessionResponse[T any] struct {
	SessionID string `json:"sid"`
	Subject   string `json:"sub"`
	IssuedAt  int64  `json:"iat"`
	ExpiresAt int64  `json:"exp"`
	Data      T      `json:"data"`
}

func (m *Manager[T]) session(w http.ResponseWriter, r *http.Request) {
	s, e := m.verify(r)
	if e != nil {
		m.fail(w, r, e)
		return
	}
	writeJSON(w, sessionResponse[T]{s.Claims.SessionID, s.UserID, s.Claims.IssuedAt.Unix(), s.Claims.ExpiresAt.Unix(), s.Data})
}

type deviceResponse struct {
	SessionID string    `json:"sid"`
	Created   time.Time `json:"created"`
	LastUsed  time.Time `json:"last_used"`
	UserAgent string    `json:"user_agent"`
	IP        string    `json:"ip"`
	Current   bool      `json:"current"`
}

func (m *Manager[T]) sessions(w http.ResponseWriter, r *http.Request) {
	s, e := m.verify(r)
	if e != nil {
		m.fail(w, r, e)
		return
	}
	fams, err := m.cfg.Store.ListFamilies(r.Context(), s.UserID)
	if err != nil {
		m.storeError(w, r, err)
		return
	}
	out := make([]deviceResponse, 0, len(fams))
	for _, f := range fams {
		out = append(out, deviceResponse{f.SessionID, f.Created.UTC(), f.LastUsed.UTC(), f.UserAgent, f.IP, f.ID == s.familyID})
	}
	writeJSON(w, out)
}

func (m *Manager[T]) endSession(w http.ResponseWriter, r *http.Request) {
	s, e := m.verify(r)
	if e != nil {
		m.fail(w, r, e)
		return
	}
	sid := chi.URLParam(r, "sid")
	fams, err := m.cfg.Store.ListFamilies(r.Context(), s.UserID)
	if err != nil {
		m.storeError(w, r, err)
		return
	}
	// Only the user's own sessions are found here; any other sid is a 404,
	// the same answer as a sid that does not exist.
	for _, f := range fams {
		if f.SessionID != sid {
			continue
		}
		if err := m.endFamily(r.Context(), f); err != nil {
			m.storeError(w, r, err)
			return
		}
		m.event(r.Context(), Event{Kind: EventSessionEnded, UserID: s.UserID, SessionID: sid, IP: m.cfg.ClientIP(r), UserAgent: r.UserAgent()})
		if f.ID == s.familyID && !wantsHeader(r) {
			m.clearCookies(w)
		}
		w.WriteHeader(http.StatusNoContent)
		return
	}
	m.fail(w, r, &Error{Status: http.StatusNotFound, Code: CodeNotFound, Message: "no such session"})
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusOK)
	json.NewEncoder(w).Encode(v)
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n]
}
