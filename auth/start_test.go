package auth_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/go-chi/chi/v5"

	"github.com/sesame-go/sesame/auth"
	"github.com/sesame-go/sesame/internal/sesametest"
	"github.com/sesame-go/sesame/revocation"
)

// sessionOpsEnv is an app that authenticates users its own way: /sso/{user}
// stands for an OAuth callback, and the app ends sessions itself.
func sessionOpsEnv(t *testing.T) *env {
	m, err := auth.NewLocal[Profile](auth.AuthenticatorFunc[Profile](authenticate), nil)
	if err != nil {
		t.Fatal(err)
	}
	e := &env{t: t, m: m, store: m.Parts().Store, replica: m.Parts().Replica}
	e.serve(func(r chi.Router) { sessionOpsRoutes(t, m, r) })
	return e
}

// sessionOpsRoutes are the app's routes: /app, the SSO callback and the
// admin's session ends.
func sessionOpsRoutes(t *testing.T, m *auth.Manager[Profile], r chi.Router) {
	r.With(m.Require()).Get("/app", func(w http.ResponseWriter, r *http.Request) {
		s, _ := auth.FromContext[Profile](r.Context())
		fmt.Fprintf(w, "hello %s", s.Data.Name)
	})
	r.Get("/sso/{user}", func(w http.ResponseWriter, r *http.Request) {
		user := chi.URLParam(r, "user")
		tk, err := m.StartSession(w, r, "uid-"+user, Profile{Name: "SSO " + user}, r.URL.Query().Has("remember"))
		if err != nil {
			m.WriteError(w, r, err)
			return
		}
		if strings.Contains(fmt.Sprint(tk), tk.AccessToken) || strings.Contains(fmt.Sprint(tk), tk.RefreshToken) {
			t.Errorf("Tokens print a token: %v", tk)
		}
		if r.Header.Get(auth.TransportHeader) == "header" {
			fmt.Fprintf(w, "%s %s %s", tk.SessionID, tk.AccessToken, tk.RefreshToken)
			return
		}
		http.Redirect(w, r, "/app", http.StatusSeeOther)
	})
	r.Post("/admin/end/{user}/{sid}", func(w http.ResponseWriter, r *http.Request) {
		if err := m.EndSession(r.Context(), chi.URLParam(r, "user"), chi.URLParam(r, "sid")); err != nil {
			m.WriteError(w, r, err)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	})
	r.Post("/admin/end-all/{user}", func(w http.ResponseWriter, r *http.Request) {
		if err := m.EndAllSessions(r.Context(), chi.URLParam(r, "user")); err != nil {
			m.WriteError(w, r, err)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	})
}

func TestStartSessionCookies(t *testing.T) {
	e := sessionOpsEnv(t)
	b := e.browser()
	r := e.Do(b, "GET", "/sso/carol", "")
	if r.Status != 200 || r.Body != "hello SSO carol" {
		t.Fatalf("after the SSO callback's redirect: %d %q", r.Status, r.Body)
	}
	// The refresh cookie works as a login's does.
	if r := e.Do(b, "POST", "/auth/refresh", "", "Origin", e.srv.URL); r.Status != 200 {
		t.Fatalf("refresh of a started session: %d %s", r.Status, r.Body)
	}
}

func TestEndSessionAndEndAllSessions(t *testing.T) {
	e := sessionOpsEnv(t)
	header := []string{auth.TransportHeader, "header"}
	start := func() (sid, access, refresh string) {
		r := e.Do(nil, "GET", "/sso/dan", "", header...)
		f := strings.Fields(r.Body)
		if r.Status != 200 || len(f) != 3 {
			t.Fatalf("start: %d %q", r.Status, r.Body)
		}
		return f[0], f[1], f[2]
	}
	sid1, a1, r1 := start()
	_, a2, _ := start()
	for _, a := range []string{a1, a2} {
		if r := e.Do(nil, "GET", "/app", "", sesametest.Bearer(a)...); r.Status != 200 {
			t.Fatalf("started session: %d %s", r.Status, r.Body)
		}
	}
	if r := e.Do(nil, "POST", "/admin/end/uid-dan/"+sid1, ""); r.Status != 204 {
		t.Fatalf("EndSession: %d %s", r.Status, r.Body)
	}
	if r := e.Do(nil, "GET", "/app", "", sesametest.Bearer(a1)...); r.Status != 401 || r.ErrorCode(t) != "revoked" {
		t.Errorf("ended session's token: %d %s", r.Status, r.Body)
	}
	if r, _ := e.Refresh(r1); r.Status != 401 {
		t.Errorf("ended session's refresh: %d %s", r.Status, r.Body)
	}
	if r := e.Do(nil, "GET", "/app", "", sesametest.Bearer(a2)...); r.Status != 200 {
		t.Errorf("the other session after EndSession: %d", r.Status)
	}
	if r := e.Do(nil, "POST", "/admin/end/uid-dan/"+sid1, ""); r.Status != 204 {
		t.Errorf("ending an ended session again: %d %s", r.Status, r.Body)
	}
	if r := e.Do(nil, "POST", "/admin/end/uid-dan/not-a-session-id", ""); r.Status != 500 {
		t.Errorf("EndSession of a malformed id: %d, want the WriteError 500", r.Status)
	}

	if r := e.Do(nil, "POST", "/admin/end-all/uid-dan", ""); r.Status != 204 {
		t.Fatalf("EndAllSessions: %d %s", r.Status, r.Body)
	}
	if r := e.Do(nil, "GET", "/app", "", sesametest.Bearer(a2)...); r.Status != 401 || r.ErrorCode(t) != "revoked" {
		t.Errorf("token after EndAllSessions: %d %s", r.Status, r.Body)
	}
	_, a3, _ := start() // a session started afterwards is not affected
	if r := e.Do(nil, "GET", "/app", "", sesametest.Bearer(a3)...); r.Status != 200 {
		t.Errorf("session started after EndAllSessions: %d %s", r.Status, r.Body)
	}
	fams, err := e.store.ListFamilies(context.Background(), "uid-dan")
	if err != nil || len(fams) != 1 {
		t.Errorf("families after EndAllSessions and one new login: %d (%v)", len(fams), err)
	}
}

// WriteError answers as the middleware does: the same body and headers.
func TestWriteError(t *testing.T) {
	e := sessionOpsEnv(t)
	m := e.m
	mw := e.Do(nil, "GET", "/app", "", sesametest.Bearer("x.y.z")...) // the middleware's 401
	for _, tc := range []struct {
		err                error
		status             int
		code, retry, authn string
	}{
		{&auth.Error{Status: 401, Code: "malformed", Message: "authentication required"}, 401, "malformed", "", mw.Header.Get("WWW-Authenticate")},
		{fmt.Errorf("saving: %w", revocation.ErrUnavailable), 503, auth.CodeUnavailable, "2", ""},
		{errors.New("disk on fire"), 500, auth.CodeInternal, "", ""},
	} {
		w := httptest.NewRecorder()
		m.WriteError(w, httptest.NewRequest("GET", "/", nil), tc.err)
		var body struct{ Error, Message string }
		sesametest.Response{Status: w.Code, Body: w.Body.String()}.JSON(t, &body)
		h := w.Header()
		if w.Code != tc.status || body.Error != tc.code || h.Get("Retry-After") != tc.retry || h.Get("WWW-Authenticate") != tc.authn ||
			h.Get("X-Content-Type-Options") != "nosniff" || h.Get("Cache-Control") != "no-store" {
			t.Errorf("%v: %d %s %v", tc.err, w.Code, w.Body, h)
		}
		if strings.Contains(w.Body.String(), "fire") {
			t.Errorf("a 500 tells its cause: %s", w.Body)
		}
	}
	if mw.Status != 401 || mw.Header.Get("WWW-Authenticate") == "" {
		t.Fatalf("middleware 401: %d %v", mw.Status, mw.Header)
	}
}
