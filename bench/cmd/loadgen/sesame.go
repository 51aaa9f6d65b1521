package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/redis/go-redis/v9"
	"github.com/sesame-go/sesame/auth"
	"github.com/sesame-go/sesame/keys"
	"github.com/sesame-go/sesame/revocation"

	"github.com/sesame-go/sesame/bench"
	"github.com/sesame-go/sesame/bench/internal/ref"
)

type sesameTarget struct {
	url     string
	closers []func()
}

func (s *sesameTarget) name() string { return "sesame" }
func (s *sesameTarget) base() string { return s.url }
func (s *sesameTarget) close() {
	for i := len(s.closers) - 1; i >= 0; i-- {
		s.closers[i]()
	}
}

// newSesame starts the sesame server; opts (nil: defaults) configures its
// Redis store, whose KeyPrefix it sets.
func newSesame(redisAddr string, data ref.Session, opts *revocation.RedisOptions) (*sesameTarget, error) {
	s := &sesameTarget{}
	rdb := redis.NewClient(&redis.Options{Addr: redisAddr, PoolSize: 128})
	s.closers = append(s.closers, func() { rdb.Close() })
	prefix := fmt.Sprintf("bench-%d:", time.Now().UnixNano())
	var o revocation.RedisOptions
	if opts != nil {
		o = *opts
	}
	o.KeyPrefix = prefix
	store, err := revocation.NewRedis(rdb, &o)
	if err != nil {
		s.close()
		return nil, err
	}
	rep, err := revocation.NewReplica(store, nil)
	if err != nil {
		s.close()
		return nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { rep.Run(ctx); close(done) }()
	s.closers = append(s.closers, func() { cancel(); <-done })
	if err := bench.WaitReplica(rep); err != nil {
		s.close()
		return nil, err
	}
	ks, err := keys.Init(time.Now())
	if err != nil {
		s.close()
		return nil, err
	}
	m, err := auth.New(auth.Config[ref.Session]{
		Keys: ks, Store: store, Denylist: rep,
		// Sealed as sessiond seals it (Open derives the key).
		DataKey: []byte("loadgen-data-key-0123456789abcde"),
		Limits:  auth.Limits{LoginsPerAddress: -1, FailuresPerUser: -1},
		// Login cost (argon2id) is measured by BenchmarkLogin; here it
		// only sets up sessions, so the check is a plain comparison.
		Authenticator: auth.AuthenticatorFunc[ref.Session](func(_ context.Context, u, p string) (string, ref.Session, error) {
			if u != "bench" || p != "bench-pw" {
				return "", ref.Session{}, auth.ErrInvalidCredentials
			}
			return data.UID, data, nil
		}),
	})
	if err != nil {
		s.close()
		return nil, err
	}
	r := chi.NewRouter()
	r.Mount("/auth", m.Routes())
	r.With(m.Require()).Get("/app", func(w http.ResponseWriter, r *http.Request) {
		if sess, ok := auth.FromContext[ref.Session](r.Context()); !ok || sess.Data.UID == "" {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	})
	url, stop, err := serve(r)
	if err != nil {
		s.close()
		return nil, err
	}
	s.url = url
	s.closers = append(s.closers, stop)
	return s, nil
}

type sesameClient struct {
	url             string
	access, refresh string
	req             []byte // the request for route reqFor with these tokens
	reqFor          string // "" after the tokens change
}

type tokenPair struct {
	AccessToken  string `json:"access_token"`
	RefreshToken string `json:"refresh_token"`
}

func (s *sesameTarget) login(hc *http.Client) (client, error) {
	c := &sesameClient{url: s.url}
	return c, c.post(hc, "/auth/login", `{"username":"bench","password":"bench-pw"}`)
}

// post is the login request (net/http.Client: logins are not measured).
func (c *sesameClient) post(hc *http.Client, path, body string) error {
	req, _ := http.NewRequest("POST", c.url+path, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set(auth.TransportHeader, "header")
	resp, err := hc.Do(req)
	if err != nil {
		return err
	}
	defer drain(resp)
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s: status %d", path, resp.StatusCode)
	}
	var tp tokenPair
	if err := json.NewDecoder(resp.Body).Decode(&tp); err != nil {
		return err
	}
	if tp.AccessToken == "" || tp.RefreshToken == "" {
		return fmt.Errorf("%s: no tokens", path)
	}
	c.setTokens(tp.AccessToken, tp.RefreshToken)
	return nil
}

func (c *sesameClient) setTokens(access, refresh string) {
	c.access, c.refresh, c.reqFor = access, refresh, ""
}

// build makes the request for route with the current tokens: the bytes
// net/http sent for it (see appendHead).
func (c *sesameClient) build(route string) error {
	host := hostPort(c.url)
	if route == "refresh" {
		c.req = appendRefreshRequest(c.req[:0], host, c.refresh)
	} else {
		if !headerSafe(c.access) {
			return errors.New("/app: access token is not a valid header value")
		}
		c.req = appendHead(c.req[:0], "GET", "/app", host)
		c.req = append(c.req, "Authorization: Bearer "...)
		c.req = append(c.req, c.access...)
		c.req = append(c.req, "\r\n\r\n"...)
	}
	c.reqFor = route
	return nil
}

// do: GET /app must answer 204; POST /auth/refresh must answer 200 with a
// JSON body holding a new access token and a new refresh token, which the
// next request uses.
func (c *sesameClient) do(lc *leanConn, route string) error {
	if c.reqFor != route {
		if err := c.build(route); err != nil {
			return err
		}
	}
	resp, body, err := lc.roundTrip(c.req)
	if resp == nil {
		return err
	}
	if route == "refresh" {
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("/auth/refresh: status %d", resp.StatusCode)
		}
		var tp tokenPair
		if err2 := json.Unmarshal(body, &tp); err2 != nil {
			return fmt.Errorf("/auth/refresh: %w", err2)
		}
		if tp.AccessToken == "" || tp.RefreshToken == "" {
			return errors.New("/auth/refresh: no tokens")
		}
		c.setTokens(tp.AccessToken, tp.RefreshToken)
		return err // errServerClosed: the response counts, the request failed
	}
	if resp.StatusCode != http.StatusNoContent {
		return fmt.Errorf("/app: status %d", resp.StatusCode)
	}
	return err
}
