package auth_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/go-chi/chi/v5"

	"github.com/sesame-go/sesame/internal/sesametest"
)

// BenchmarkRefresh is one POST /auth/refresh through chi with the header
// transport, in process, against the in-memory store: what the handler
// itself costs (body decoding, the rotation, opening the stored session
// data, minting and signing a new access token, the JSON answer), without
// a network or Redis. The session data has the reference session's strings.
func BenchmarkRefresh(b *testing.B) {
	m := referenceManager(b, 0)
	r := chi.NewRouter()
	r.Mount("/auth", m.Routes())
	post := func(path, body string) *httptest.ResponseRecorder {
		req := httptest.NewRequest("POST", path, strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("X-Session-Transport", "header")
		rec := httptest.NewRecorder()
		r.ServeHTTP(rec, req)
		return rec
	}
	var tk sesametest.Tokens
	if rec := post("/auth/login", `{"username":"usr_01J9ZK3M7Q4W2B8D5F6G7H8J9K","password":"p"}`); rec.Code != 200 ||
		json.Unmarshal(rec.Body.Bytes(), &tk) != nil || tk.RefreshToken == "" {
		b.Fatalf("login: %d %s", rec.Code, rec.Body.String())
	}
	rt := tk.RefreshToken
	b.ReportAllocs()
	for b.Loop() {
		rec := post("/auth/refresh", `{"refresh_token":"`+rt+`"}`)
		if rec.Code != http.StatusOK {
			b.Fatalf("refresh: %d %s", rec.Code, rec.Body.String())
		}
		// The next token, without decoding the whole answer in the loop.
		body := rec.Body.String()
		i := strings.Index(body, `"refresh_token":"`)
		if i < 0 {
			b.Fatalf("no refresh token in %s", body)
		}
		rest := body[i+len(`"refresh_token":"`):]
		rt = rest[:strings.IndexByte(rest, '"')]
	}
}
