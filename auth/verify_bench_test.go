package auth_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/sesame-go/sesame/auth"
)

// BenchmarkForwardAuth compares a cache-hit /auth/verify with Require in
// front of a handler that does nothing, on the same bearer token: what
// forward auth adds is writing the identity headers.
func BenchmarkForwardAuth(b *testing.B) {
	m, err := auth.NewLocal[Profile](auth.AuthenticatorFunc[Profile](authenticate), nil)
	if err != nil {
		b.Fatal(err)
	}
	defer m.Close()
	login := httptest.NewRequest("POST", "/auth/login", nil)
	login.Header.Set(auth.TransportHeader, "header")
	tk, err := m.StartSession(httptest.NewRecorder(), login, "uid-alice", Profile{Name: "Alice", Cart: []string{"mug", "tea"}}, false)
	if err != nil {
		b.Fatal(err)
	}
	req := httptest.NewRequest("GET", "/auth/verify", nil).WithContext(context.Background())
	req.Header.Set("Authorization", "Bearer "+tk.AccessToken)
	for _, bc := range []struct {
		name string
		h    http.Handler
	}{
		{"Require", m.Require()(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusOK) }))},
		{"ForwardAuth", m.ForwardAuth()},
	} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				w := httptest.NewRecorder()
				bc.h.ServeHTTP(w, req)
				if w.Code != http.StatusOK {
					b.Fatalf("status %d", w.Code)
				}
			}
		})
	}
}
