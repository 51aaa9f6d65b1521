package auth

import (
	"encoding/json"
	"errors"
	"mime"
	"net/http"
	"strconv"
	"time"
)

// Introspection outcomes, the keys of Stats.Introspections.
const (
	introActive        = "active"
	introInactive      = "inactive"
	introInvalidClient = "invalid_client"
	introBadRequest    = "bad_request"
	introRateLimited   = "rate_limited"
	introUnavailable   = "unavailable"
	introDisabled      = "disabled"
)

var introOutcomes = []string{introActive, introInactive, introInvalidClient, introBadRequest, introRateLimited,
	introUnavailable, introDisabled}

type introspection[T any] struct {
	Active    bool   `json:"active"`
	Subject   string `json:"sub"`
	SessionID string `json:"sid"`
	ExpiresAt int64  `json:"exp"`
	IssuedAt  int64  `json:"iat"`
	Issuer    string `json:"iss"`
	Audience  string `json:"aud"`
	TokenType string `json:"token_type"`
	Data      T      `json:"data"`
}

// Introspection returns the RFC 7662 token-introspection handler that
// [Manager.Routes] mounts at POST /introspect, for API gateways (Kong, Tyk,
// APISIX, Envoy) and services that receive bearer tokens.
//
// The caller authenticates with HTTP Basic as a client of
// Config.Gateway.IntrospectionClients (401 invalid_client otherwise) and
// posts an application/x-www-form-urlencoded body with token=ACCESS_TOKEN
// (token_type_hint is accepted and ignored; 400 invalid_request for a
// malformed request). The answer is 200 with
//
//	{"active":true,"sub","sid","exp","iat","iss","aud","token_type":"access_token","data":{...}}
//
// for a token that [Manager.Require] would accept, and {"active":false},
// with no reason, for anything else: expired, revoked, forged, garbage,
// a refresh token. When the denylist cannot vouch for the token (a stale
// replica under fail-closed) it answers 503 with Retry-After, not
// "inactive", so that a caller does not end a session over an outage.
//
// Calls are limited per client and node (Config.Gateway.IntrospectionsPerClient;
// 429 past it) and counted in Stats.Introspections. Without
// IntrospectionClients the endpoint answers 404.
func (m *Manager[T]) Introspection() http.Handler { return http.HandlerFunc(m.introspect) }

func (m *Manager[T]) introspect(w http.ResponseWriter, r *http.Request) {
	outcome := m.doIntrospect(w, r)
	m.stats.intros.add(outcome)
}

func (m *Manager[T]) doIntrospect(w http.ResponseWriter, r *http.Request) string {
	g := &m.cfg.Gateway
	if g.IntrospectionClients == nil {
		m.fail(w, r, &Error{Status: http.StatusNotFound, Code: CodeNotFound, Message: "no such endpoint"})
		return introDisabled
	}
	id, secret, ok := r.BasicAuth()
	if !ok || !g.IntrospectionClients.AuthenticateClient(id, secret) {
		w.Header().Set("WWW-Authenticate", `Basic realm="sesame introspection", charset="UTF-8"`)
		oauthError(w, http.StatusUnauthorized, "invalid_client")
		return introInvalidClient
	}
	// Per client, after authentication: an unknown caller cannot use up a
	// real client's allowance. Counted as the login limits are: shared by
	// the fleet with a Redis store.
	if d := m.lim.introClient.Reserve(r.Context(), id); !d.Allowed {
		w.Header().Set("Retry-After", strconv.Itoa(max(1, int((d.RetryAfter+time.Second-1)/time.Second))))
		oauthError(w, http.StatusTooManyRequests, "rate_limited")
		return introRateLimited
	}

	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || mt != "application/x-www-form-urlencoded" {
		oauthError(w, http.StatusBadRequest, "invalid_request")
		return introBadRequest
	}
	r.Body = http.MaxBytesReader(w, r.Body, maxBody)
	if err := r.ParseForm(); err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			oauthError(w, http.StatusRequestEntityTooLarge, "invalid_request")
		} else {
			oauthError(w, http.StatusBadRequest, "invalid_request")
		}
		return introBadRequest
	}
	toks := r.PostForm["token"]
	if len(toks) != 1 || toks[0] == "" || len(r.PostForm["token_type_hint"]) > 1 {
		oauthError(w, http.StatusBadRequest, "invalid_request")
		return introBadRequest
	}
	s, e := m.verifyRaw(toks[0])
	switch {
	case e != nil && e.Code == CodeUnavailable:
		m.fail(w, r, e)
		return introUnavailable
	case e != nil:
		writeJSON(w, struct {
			Active bool `json:"active"`
		}{false})
		return introInactive
	}
	writeJSON(w, introspection[T]{
		Active: true, Subject: s.UserID, SessionID: s.Claims.SessionID,
		ExpiresAt: s.Claims.ExpiresAt.Unix(), IssuedAt: s.Claims.IssuedAt.Unix(),
		Issuer: s.Claims.Issuer, Audience: s.Claims.Audience, TokenType: "access_token", Data: s.Data,
	})
	return introActive
}

// oauthError writes an RFC 6749 error body, as RFC 7662 asks of a refused
// introspection call.
func oauthError(w http.ResponseWriter, status int, code string) {
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(map[string]string{"error": code})
}
