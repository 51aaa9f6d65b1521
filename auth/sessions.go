package auth

import (
	"encoding/json"
	"net/http"
	"sync"
	"time"

	"github.com/go-chi/chi/v5"
)

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
	body := s.sessionBody()
	if body == nil { // data that does not encode: answered as before
		writeJSON(w, s.response())
		return
	}
	jsonHeaders(w.Header())
	w.WriteHeader(http.StatusOK)
	w.Write(body)
}

func (s *Session[T]) response() sessionResponse[T] {
	return sessionResponse[T]{s.Claims.SessionID, s.UserID, s.Claims.IssuedAt.Unix(), s.Claims.ExpiresAt.Unix(), s.Data}
}

// encodedBody is a session's GET /session answer, encoded once.
type encodedBody struct {
	once sync.Once
	b    []byte // nil when the data does not encode
}

// sessionBody returns the GET /session answer of s, the bytes writeJSON
// writes for it, made on first use (see encodings): the answer depends
// only on the session's claims and data. nil when the data does not
// encode.
func (s *Session[T]) sessionBody() []byte {
	e := &s.encodings().body
	e.once.Do(func() {
		// What json.Encoder.Encode writes: Marshal's bytes and a newline.
		if b, err := json.Marshal(s.response()); err == nil {
			e.b = append(b, '\n')
		}
	})
	return e.b
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
