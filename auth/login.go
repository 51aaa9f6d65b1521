package auth

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/sesame-go/sesame/revocation"
	"github.com/sesame-go/sesame/token"
)

type loginRequest struct {
	Username string `json:"username"`
	Password string `json:"password"`
	Remember bool   `json:"remember"`
	// DeviceToken is the device token of an earlier login, in header
	// transport (see device.go).
	DeviceToken string `json:"device_token"`
}

func (m *Manager[T]) login(w http.ResponseWriter, r *http.Request) {
	rec := &outcomeWriter{ResponseWriter: w}
	defer func() { m.stats.logins.add(rec.loginOutcome()) }()
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
	devID := m.checkDevice(m.deviceToken(r, header, req.DeviceToken), userKey, now)
	devKey := ""
	if devID != nil {
		devKey = base64.RawURLEncoding.EncodeToString(devID)
	}
	budget, e := m.loginBudget(ctx, m.addrKey(r), userKey, devKey)
	if e != nil {
		ev.Kind, ev.Reason = EventLoginThrottled, CodeRateLimited
		m.event(ctx, ev)
		m.fail(w, r, e)
		return
	}

	uid, data, err := m.cfg.Authenticator.Authenticate(ctx, req.Username, req.Password)
	switch {
	case errors.Is(err, ErrInvalidCredentials):
		// The failure was counted by loginBudget, before the check.
		ev.Kind, ev.Reason = EventLoginFailure, CodeInvalidCredentials
		m.event(ctx, ev)
		m.fail(w, r, &Error{Status: http.StatusUnauthorized, Code: CodeInvalidCredentials, Message: "invalid username or password"})
		return
	case err != nil:
		budget.refund(ctx)
		m.cfg.Logger.ErrorContext(ctx, "auth: authenticator failed", "err", err)
		m.fail(w, r, errUnavailable())
		return
	}
	budget.forgive(ctx)

	is, e := m.start(r, uid, data, req.Remember, ev)
	if e != nil {
		m.fail(w, r, e)
		return
	}
	if m.cfg.Limits.DeviceTTL > 0 {
		is.device = m.mintDevice(userKey, devID, now)
	}
	m.respondTokens(w, header, is, uid, req.Remember)
}

// issued is what a new or refreshed session hands the client.
type issued struct {
	access  string
	exp     time.Time // the access token's
	refresh string
	fam     revocation.Family
	device  string // a new device token, at login
}

// start makes a new session for uid with data: the session cap, a refresh
// family, an access token, and the login_success event (ev gives the
// request's details). The error is ready to be written.
func (m *Manager[T]) start(r *http.Request, uid string, data T, remember bool, ev Event) (issued, *Error) {
	ctx := r.Context()
	ev.UserID = uid
	if e := m.enforceSessionCap(r, uid, ev); e != nil {
		return issued{}, e
	}
	pj, err := json.Marshal(data)
	if err != nil {
		m.cfg.Logger.ErrorContext(ctx, "auth: encoding session data", "err", err)
		return issued{}, &Error{Status: http.StatusInternalServerError, Code: CodeInternal, Message: "cannot encode session data"}
	}
	// Always a new session id: whatever the client presented (a planted
	// cookie, an old token) is ignored, so a session cannot be fixated.
	sid := token.NewSessionID()
	lifetime := m.cfg.SessionLifetime
	if remember {
		lifetime = m.cfg.RememberLifetime
	}
	fam, rt, err := m.cfg.Store.CreateFamily(ctx, revocation.NewFamily{
		SessionID:      sid,
		UserID:         uid,
		Data:           m.sealer.seal(pj, sid),
		AbsoluteExpiry: m.cfg.Now().Add(lifetime),
		IdleTimeout:    m.cfg.RefreshIdle,
		UserAgent:      truncate(r.UserAgent(), 256),
		IP:             ev.IP,
	})
	if err != nil {
		return issued{}, m.storeFailure(r, err)
	}
	access, claims, err := m.mint(sid, uid, data)
	if err != nil {
		// Undo the family so nothing half-made stays behind.
		_ = m.cfg.Store.RevokeFamily(ctx, fam.ID)
		m.cfg.Logger.ErrorContext(ctx, "auth: cannot mint access token", "err", err)
		return issued{}, &Error{Status: http.StatusInternalServerError, Code: CodeInternal, Message: "cannot issue session"}
	}
	ev.Kind, ev.SessionID = EventLoginSuccess, sid
	m.event(ctx, ev)
	return issued{access: access, exp: claims.ExpiresAt, refresh: rt.Reveal(), fam: fam}, nil
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
	if m.cfg.RefuseAtSessionLimit {
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
