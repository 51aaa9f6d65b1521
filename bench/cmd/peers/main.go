// Command peers serves GET /auth/session the way sessiond does (the
// session's sid, sub, iat, exp and data as JSON, Cache-Control: no-store),
// without sesame, for comparisons run from outside with an HTTP load
// generator (bench/wrk-session.sh, bench/cmd/mixload). One server per
// process:
//
//   - ceiling: the same chi router and JSON answer, no session library, no
//     crypto: what a server costs before any session handling;
//   - gorilla: gorilla/sessions CookieStore, the session in the cookie
//     (gob, AES-CTR, HMAC-SHA256);
//   - scs: alexedwards/scs v2 with redisstore (redigo), one Redis GET per
//     request; with -users it also serves POST /auth/login (argon2id through
//     the same users file and Authenticator as sessiond), /auth/refresh
//     (RenewToken: a new session token) and /auth/logout (Destroy), the
//     equivalents of sessiond's for the mixed load.
//
// It prints the base URL on the first line of stdout and, on the second, a
// header carrying a valid session ("Cookie: session=..."; empty for the
// ceiling), then serves until SIGINT or SIGTERM. Loopback only.
package main

import (
	"context"
	"crypto/rand"
	"encoding/gob"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/alexedwards/scs/redisstore"
	"github.com/alexedwards/scs/v2"
	"github.com/go-chi/chi/v5"
	redigo "github.com/gomodule/redigo/redis"
	"github.com/gorilla/sessions"

	"github.com/sesame-go/sesame/users"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "peers:", err)
		os.Exit(1)
	}
}

// session is what every server keeps and answers, shaped like sessiond's
// GET /auth/session answer.
type session struct {
	SessionID string        `json:"sid"`
	Subject   string        `json:"sub"`
	IssuedAt  int64         `json:"iat"`
	ExpiresAt int64         `json:"exp"`
	Data      users.Profile `json:"data"`
}

func newSession(user string) session {
	now := time.Now()
	return session{SessionID: rand.Text(), Subject: user, IssuedAt: now.Unix(), ExpiresAt: now.Add(time.Hour).Unix(), Data: users.Profile{Name: user}}
}

// writeJSON answers as sesame's auth handlers do.
func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	json.NewEncoder(w).Encode(v)
}

func run() error {
	server := flag.String("server", "", "ceiling, gorilla or scs")
	addr := flag.String("addr", "127.0.0.1:0", "loopback address to listen on")
	redisAddr := flag.String("redis", "", "scs: the redis-server address (loopback)")
	usersFile := flag.String("users", "", "scs: users file for POST /auth/login (see sessionctl users)")
	flag.Parse()
	if host, _, err := net.SplitHostPort(*addr); err != nil || !net.ParseIP(host).IsLoopback() {
		return fmt.Errorf("-addr %q is not a loopback address", *addr)
	}
	gob.Register(session{})

	r := chi.NewRouter()
	var header string
	switch *server {
	case "ceiling":
		s := newSession("demo")
		r.Get("/auth/session", func(w http.ResponseWriter, r *http.Request) { writeJSON(w, http.StatusOK, s) })
	case "gorilla":
		h, err := gorillaServer(r)
		if err != nil {
			return err
		}
		header = h
	case "scs":
		if *redisAddr == "" {
			return errors.New("-server scs needs -redis")
		}
		if host, _, err := net.SplitHostPort(*redisAddr); err != nil || !net.ParseIP(host).IsLoopback() {
			return fmt.Errorf("-redis %q is not a loopback address", *redisAddr)
		}
		h, closeFn, err := scsServer(r, *redisAddr, *usersFile)
		if err != nil {
			return err
		}
		defer closeFn()
		header = h
	default:
		return fmt.Errorf("-server %q: want ceiling, gorilla or scs", *server)
	}

	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: r, ReadHeaderTimeout: 5 * time.Second, IdleTimeout: 2 * time.Minute}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	fmt.Printf("http://%s\n%s\n", ln.Addr(), header)

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	select {
	case err := <-served:
		return err
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return srv.Shutdown(sctx)
}

func gorillaServer(r chi.Router) (string, error) {
	hashKey, blockKey := make([]byte, 32), make([]byte, 32)
	if _, err := randRead(hashKey, blockKey); err != nil {
		return "", err
	}
	store := sessions.NewCookieStore(hashKey, blockKey)
	const name = "session"
	req, rec := httptest.NewRequest("GET", "/", nil), httptest.NewRecorder()
	sess, _ := store.New(req, name)
	sess.Values["s"] = newSession("demo")
	if err := sess.Save(req, rec); err != nil {
		return "", err
	}
	var value string
	for _, c := range rec.Result().Cookies() {
		if c.Name == name {
			value = c.Value
		}
	}
	r.Get("/auth/session", func(w http.ResponseWriter, r *http.Request) {
		sess, err := store.Get(r, name)
		s, ok := sess.Values["s"].(session)
		if err != nil || sess.IsNew || !ok {
			writeJSON(w, http.StatusUnauthorized, map[string]string{"error": "unauthenticated"})
			return
		}
		writeJSON(w, http.StatusOK, s)
	})
	return "Cookie: " + name + "=" + value, nil
}

func scsServer(r chi.Router, redisAddr, usersFile string) (header string, closeFn func(), err error) {
	pool := &redigo.Pool{
		MaxIdle:     256,
		IdleTimeout: time.Minute,
		Dial:        func() (redigo.Conn, error) { return redigo.Dial("tcp", redisAddr) },
	}
	sm := scs.New()
	sm.Store = redisstore.NewWithPrefix(pool, "peers:scs:")
	sm.Lifetime = time.Hour
	sm.Cookie.Name = "session"
	sm.Cookie.Secure = false
	var authn *users.Authenticator
	if usersFile != "" {
		if authn, err = users.Open(usersFile, nil); err != nil {
			pool.Close()
			return "", nil, err
		}
	}

	// A session for wrk.
	ctx, err := sm.Load(context.Background(), "")
	if err != nil {
		pool.Close()
		return "", nil, err
	}
	sm.Put(ctx, "s", newSession("demo"))
	tok, _, err := sm.Commit(ctx)
	if err != nil {
		pool.Close()
		return "", nil, err
	}

	r.Use(sm.LoadAndSave)
	r.Get("/auth/session", func(w http.ResponseWriter, r *http.Request) {
		s, ok := sm.Get(r.Context(), "s").(session)
		if !ok {
			writeJSON(w, http.StatusUnauthorized, map[string]string{"error": "unauthenticated"})
			return
		}
		writeJSON(w, http.StatusOK, s)
	})
	if authn != nil {
		r.Post("/auth/login", func(w http.ResponseWriter, r *http.Request) {
			var body struct{ Username, Password string }
			if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 64<<10)).Decode(&body); err != nil {
				writeJSON(w, http.StatusBadRequest, map[string]string{"error": "bad_request"})
				return
			}
			user, _, err := authn.Authenticate(r.Context(), body.Username, body.Password)
			if err != nil {
				writeJSON(w, http.StatusUnauthorized, map[string]string{"error": "invalid_credentials"})
				return
			}
			if err := sm.RenewToken(r.Context()); err != nil {
				writeJSON(w, http.StatusInternalServerError, map[string]string{"error": "internal_error"})
				return
			}
			s := newSession(user)
			sm.Put(r.Context(), "s", s)
			writeJSON(w, http.StatusOK, s)
		})
		r.Post("/auth/refresh", func(w http.ResponseWriter, r *http.Request) {
			if _, ok := sm.Get(r.Context(), "s").(session); !ok {
				writeJSON(w, http.StatusUnauthorized, map[string]string{"error": "unauthenticated"})
				return
			}
			if err := sm.RenewToken(r.Context()); err != nil {
				writeJSON(w, http.StatusInternalServerError, map[string]string{"error": "internal_error"})
				return
			}
			w.WriteHeader(http.StatusNoContent)
		})
		r.Post("/auth/logout", func(w http.ResponseWriter, r *http.Request) {
			if err := sm.Destroy(r.Context()); err != nil {
				writeJSON(w, http.StatusInternalServerError, map[string]string{"error": "internal_error"})
				return
			}
			w.WriteHeader(http.StatusNoContent)
		})
	}
	return "Cookie: " + sm.Cookie.Name + "=" + tok, func() { pool.Close() }, nil
}

func randRead(bs ...[]byte) (int, error) {
	n := 0
	for _, b := range bs {
		m, err := rand.Read(b)
		n += m
		if err != nil {
			return n, err
		}
	}
	return n, nil
}
