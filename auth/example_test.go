package auth_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/sesame-go/sesame/auth"
	"github.com/sesame-go/sesame/keys"
	"github.com/sesame-go/sesame/revocation"
)

func ExampleNew() {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()

	// Single-node mode: memory store and its replica. A fleet uses
	// revocation.NewRedis with a shared Redis instead.
	store, _ := revocation.NewMemory(nil)
	replica, _ := revocation.NewReplica(store, nil)
	go replica.Run(ctx)
	<-replica.Ready() // the first snapshot is loaded
	ks, _ := keys.Init(time.Now())

	type Session struct {
		Name string `json:"name"`
	}
	m, err := auth.New(auth.Config[Session]{
		Keys:     auth.StaticKeys(ks),
		Store:    store,
		Denylist: replica,
		Authenticator: auth.AuthenticatorFunc[Session](func(_ context.Context, user, pass string) (string, Session, error) {
			if user != "ada" || pass != "correct horse" {
				return "", Session{}, auth.ErrInvalidCredentials
			}
			return "user-1", Session{Name: "Ada"}, nil
		}),
	})
	if err != nil {
		panic(err)
	}

	r := chi.NewRouter()
	r.Mount("/auth", m.Routes())
	r.With(m.Require()).Get("/hello", func(w http.ResponseWriter, r *http.Request) {
		s, _ := auth.FromContext[Session](r.Context())
		fmt.Fprintf(w, "hello %s", s.Data.Name)
	})
	srv := httptest.NewServer(r)
	defer srv.Close()

	// An API client: header transport.
	req, _ := http.NewRequest("POST", srv.URL+"/auth/login", strings.NewReader(`{"username":"ada","password":"correct horse"}`))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Session-Transport", "header")
	res, _ := http.DefaultClient.Do(req)
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	json.NewDecoder(res.Body).Decode(&tok)
	res.Body.Close()

	req, _ = http.NewRequest("GET", srv.URL+"/hello", nil)
	req.Header.Set("Authorization", "Bearer "+tok.AccessToken)
	res, _ = http.DefaultClient.Do(req)
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	fmt.Println(res.StatusCode, string(body))
	// Output: 200 hello Ada
}
