package auth_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/redis/go-redis/v9"

	"github.com/sesame-go/sesame/auth"
	"github.com/sesame-go/sesame/keys"
	"github.com/sesame-go/sesame/users"
)

// ExampleNewLocal is a whole single-process app: the lines between
// "sesame:begin" and "sesame:end" (8 of them; TestExampleLineCounts keeps
// them at 10 or fewer) are all the wiring it needs. people is the app's
// Authenticator, here the users package's argon2id users file.
func ExampleNewLocal() {
	people := exampleUsers()

	// sesame:begin
	m, err := auth.NewLocal(people, nil)
	if err != nil {
		log.Fatal(err)
	}
	defer m.Close()
	r := chi.NewRouter()
	r.Mount("/auth", m.Routes())
	r.With(m.Require()).Get("/hello", hello)
	// sesame:end

	srv := httptest.NewServer(r) // http.ListenAndServe(":8080", r)
	defer srv.Close()
	fmt.Println(exampleClient(srv.URL))
	// Output: 200 hello ada
}

// ExampleOpen is a node of a fleet on one Redis: every node opened with the
// same Redis and master key shares sessions, keys and revocations. The
// wiring between the markers is 14 lines (TestExampleLineCounts keeps it
// at 15 or fewer).
func ExampleOpen() {
	people := exampleUsers()
	// Every node gets the same master key, e.g. from a secret store.
	secret := make([]byte, keys.MasterKeySize)
	rand.Read(secret)
	os.Setenv(keys.MasterKeyEnv, base64.StdEncoding.EncodeToString(secret))
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	// sesame:begin
	client := redis.NewClient(&redis.Options{Addr: exampleRedis}) // or a Sentinel or Cluster client
	defer client.Close()
	mk, err := keys.LoadMasterKey("") // SESAME_MASTER_KEY, never a flag
	if err != nil {
		log.Fatal(err)
	}
	m, err := auth.Open(ctx, client, mk, people, nil)
	if err != nil {
		log.Fatal(err)
	}
	defer m.Close()
	r := chi.NewRouter()
	r.Mount("/auth", m.Routes())
	r.With(m.Require()).Get("/hello", hello)
	// sesame:end

	srv := httptest.NewServer(r)
	defer srv.Close()
	fmt.Println(exampleClient(srv.URL))
	// Output: 200 hello ada
}

// hello is the app's protected handler.
func hello(w http.ResponseWriter, r *http.Request) {
	s, _ := auth.FromContext[users.Profile](r.Context())
	fmt.Fprintf(w, "hello %s", s.Data.Name)
}

// exampleUsers writes a users file with one user (as `sessionctl users add`
// does) and opens it.
func exampleUsers() *users.Authenticator {
	dir, err := os.MkdirTemp("", "sesame-example-")
	if err != nil {
		log.Fatal(err)
	}
	path := filepath.Join(dir, "users.json")
	u, err := users.NewUser("Ada", "correct horse", users.Params{}, time.Now())
	if err != nil {
		log.Fatal(err)
	}
	if err := users.Write(path, &users.File{Users: []users.User{u}}); err != nil {
		log.Fatal(err)
	}
	people, err := users.Open(path, nil)
	if err != nil {
		log.Fatal(err)
	}
	return people
}

// exampleClient logs in as an API client (header transport) and calls
// /hello with the access token.
func exampleClient(base string) string {
	req, _ := http.NewRequest("POST", base+"/auth/login", strings.NewReader(`{"username":"ada","password":"correct horse"}`))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Session-Transport", "header")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return err.Error()
	}
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	json.NewDecoder(res.Body).Decode(&tok)
	res.Body.Close()

	req, _ = http.NewRequest("GET", base+"/hello", nil)
	req.Header.Set("Authorization", "Bearer "+tok.AccessToken)
	res, err = http.DefaultClient.Do(req)
	if err != nil {
		return err.Error()
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	return fmt.Sprint(res.StatusCode, " ", string(bytes.TrimSpace(body)))
}
