package auth_test

import (
	"encoding/json"
	"fmt"
	"log"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"

	"github.com/go-chi/chi/v5"

	"github.com/sesame-go/sesame/auth"
	"github.com/sesame-go/sesame/users"
)

// ExampleManager_ForwardAuth is what a proxy's auth subrequest sees (nginx
// auth_request, Traefik ForwardAuth, Caddy forward_auth, Envoy ext_authz):
// the routes mounted under /auth answer /auth/verify with the session's
// identity in headers for the proxy to copy onto the request, and, for a
// browser without a session, with where the sign-in page is. The proxy is
// trusted to describe the original request (here it runs on this host).
func ExampleManager_ForwardAuth() {
	m, err := auth.NewLocal(exampleUsers(), &auth.Config[users.Profile]{
		Gateway: auth.Gateway{TrustedProxies: []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}},
	})
	if err != nil {
		log.Fatal(err)
	}
	defer m.Close()
	r := chi.NewRouter()
	r.Mount("/auth", m.Routes())
	srv := httptest.NewServer(r)
	defer srv.Close()

	req, _ := http.NewRequest("POST", srv.URL+"/auth/login", strings.NewReader(`{"username":"ada","password":"correct horse"}`))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set(auth.TransportHeader, "header")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		log.Fatal(err)
	}
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	json.NewDecoder(res.Body).Decode(&tok)
	res.Body.Close()

	// The subrequest for GET /orders?id=7, as nginx sends it.
	verify := func(bearer string) *http.Response {
		req, _ := http.NewRequest("GET", srv.URL+"/auth/verify", nil)
		req.Header.Set("X-Original-Method", "GET")
		req.Header.Set("X-Original-URI", "/orders?id=7")
		req.Header.Set("Sec-Fetch-Mode", "navigate")
		if bearer != "" {
			req.Header.Set("Authorization", "Bearer "+bearer)
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			log.Fatal(err)
		}
		res.Body.Close()
		return res
	}
	res = verify(tok.AccessToken)
	fmt.Println(res.StatusCode, res.Header.Get("X-Sesame-User"))
	res = verify("")
	fmt.Println(res.StatusCode, res.Header.Get("Location"))
	// Output:
	// 200 ada
	// 401 /auth/login?rd=%2Forders%3Fid%3D7
}
