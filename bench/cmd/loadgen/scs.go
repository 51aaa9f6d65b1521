package main

import (
	"errors"
	"fmt"
	"net/http"

	"github.com/go-chi/chi/v5"

	"github.com/sesame-go/sesame/bench"
	"github.com/sesame-go/sesame/bench/internal/ref"
)

type scsTarget struct {
	url     string
	cookie  string
	closers []func()
}

func (s *scsTarget) name() string { return "scs" }
func (s *scsTarget) base() string { return s.url }
func (s *scsTarget) close() {
	for i := len(s.closers) - 1; i >= 0; i-- {
		s.closers[i]()
	}
}

func newSCS(redisAddr string, data ref.Session) (*scsTarget, error) {
	sm, pool := bench.NewSCS(redisAddr)
	s := &scsTarget{cookie: sm.Cookie.Name}
	s.closers = append(s.closers, func() { pool.Close() })
	get := bench.SCSGet(sm)
	r := chi.NewRouter()
	r.Use(sm.LoadAndSave)
	r.Post("/login", func(w http.ResponseWriter, r *http.Request) {
		// As an scs login handler does: a new token, then the data.
		if err := sm.RenewToken(r.Context()); err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		sm.Put(r.Context(), "s", data)
		w.WriteHeader(http.StatusNoContent)
	})
	r.Get("/app", func(w http.ResponseWriter, r *http.Request) {
		if sess, ok := get(r); !ok || sess.UID == "" {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	})
	r.Post("/refresh", func(w http.ResponseWriter, r *http.Request) {
		if sess, ok := get(r); !ok || sess.UID == "" {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		if err := sm.RenewToken(r.Context()); err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
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

type scsClient struct {
	t      *scsTarget
	token  string
	req    []byte // the request for route reqFor with this token
	reqFor string // "" after the token changes
}

func (s *scsTarget) login(hc *http.Client) (client, error) {
	c := &scsClient{t: s}
	return c, c.send(hc, "POST", "/login", false)
}

// send makes one request and takes the new session cookie, if any
// (net/http.Client: only the login, which is not measured).
func (c *scsClient) send(hc *http.Client, method, path string, withCookie bool) error {
	req, _ := http.NewRequest(method, c.t.url+path, nil)
	if withCookie {
		req.AddCookie(&http.Cookie{Name: c.t.cookie, Value: c.token})
	}
	resp, err := hc.Do(req)
	if err != nil {
		return err
	}
	drain(resp)
	return c.take(resp, path)
}

func (c *scsClient) setToken(v string) { c.token, c.reqFor = v, "" }

// take checks an answer to path: 204, and the client holds a session
// cookie afterwards (a Set-Cookie naming it replaces the one it had).
func (c *scsClient) take(resp *http.Response, path string) error {
	if resp.StatusCode != http.StatusNoContent {
		return fmt.Errorf("%s: status %d", path, resp.StatusCode)
	}
	for _, ck := range resp.Cookies() {
		if ck.Name == c.t.cookie && ck.Value != "" {
			c.setToken(ck.Value)
		}
	}
	if c.token == "" {
		return fmt.Errorf("%s: no session cookie", path)
	}
	return nil
}

// build makes the request for route with the current session cookie: the
// bytes net/http sent for it (see appendHead; a POST without a body carries
// Content-Length: 0, and the cookie is sanitized as Request.AddCookie does).
func (c *scsClient) build(route string) {
	host := hostPort(c.t.url)
	if route == "refresh" {
		c.req = appendHead(c.req[:0], "POST", "/refresh", host)
		c.req = append(c.req, "Content-Length: 0\r\n"...)
	} else {
		c.req = appendHead(c.req[:0], "GET", "/app", host)
	}
	c.req = append(c.req, "Cookie: "...)
	c.req = append(c.req, c.t.cookie...)
	c.req = append(c.req, '=')
	c.req = appendCookieValue(c.req, c.token)
	c.req = append(c.req, "\r\n\r\n"...)
	c.reqFor = route
}

// do: both routes must answer 204 and leave the client with a session
// cookie (a Set-Cookie naming it replaces it); POST /refresh must set a new
// one.
func (c *scsClient) do(lc *leanConn, route string) error {
	if c.reqFor != route {
		c.build(route)
	}
	path := "/app"
	if route == "refresh" {
		path = "/refresh"
	}
	old := c.token
	resp, _, err := lc.roundTrip(c.req)
	if resp == nil {
		return err
	}
	if err := c.take(resp, path); err != nil {
		return err
	}
	if route == "refresh" && c.token == old {
		return errors.New("/refresh: token not renewed")
	}
	return err // errServerClosed: the response counts, the request failed
}
