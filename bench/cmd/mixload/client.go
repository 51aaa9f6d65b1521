package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
)

// kind is a kind of request in the mix.
type kind int

const (
	read kind = iota
	refresh
	login
	logout
	nKinds
)

var kindNames = [nKinds]string{"read", "refresh", "login", "logout"}

func (k kind) String() string { return kindNames[k] }

// next draws the next request: of 99 equally likely draws, 90 are reads, 8
// refreshes and 1 a logout, and the request after a logout is always a
// login, so that out of 100 requests 90 are reads, 8 refreshes, 1 a login
// and 1 a logout, and every client always has exactly one session (the
// number of live sessions, and so Redis memory, stays flat).
func next(rng *rand.Rand, loggedIn bool) kind {
	if !loggedIn {
		return login
	}
	switch d := rng.IntN(99); {
	case d < 90:
		return read
	case d < 98:
		return refresh
	default:
		return logout
	}
}

// stats are one client's results, merged at the end.
type stats struct {
	lat      [nKinds][]time.Duration // successful requests
	failures [nKinds]int
	status   map[string]int // "kind status" → count, for failures
	firstErr error
}

func (s *stats) fail(k kind, status int, err error) {
	s.failures[k]++
	if s.status == nil {
		s.status = map[string]int{}
	}
	s.status[fmt.Sprintf("%s %d", k, status)]++
	if s.firstErr == nil {
		s.firstErr = fmt.Errorf("%s: status %d: %v", k, status, err)
	}
}

// client is one user: a session on the cluster, requests back to back,
// alternating between the nodes (a refresh on one node, the next read on
// the other), each over its own keep-alive connection.
type client struct {
	id      int
	target  string // "sesame" or "scs"
	nodes   []string
	http    *http.Client
	rng     *rand.Rand
	ttl     time.Duration // sesame's --access-ttl: refresh before the token expires
	ipCount *atomic.Uint64

	access, refreshTok string    // sesame, header transport
	issued             time.Time // of the access token
	cookie             string    // scs
	turn               int
}

func newClient(id int, target string, nodes []string, ttl time.Duration, ipCount *atomic.Uint64) *client {
	return &client{
		// turn starts at the client's id, so that the clients' first
		// requests (their logins) are spread over the nodes.
		id: id, target: target, nodes: nodes, ttl: ttl, ipCount: ipCount, turn: id,
		rng: rand.New(rand.NewPCG(uint64(id), 0x5e5a3e)),
		http: &http.Client{
			Transport: &http.Transport{MaxIdleConnsPerHost: 1, MaxConnsPerHost: 1, DisableCompression: true},
			Timeout:   30 * time.Second,
		},
	}
}

func (c *client) loggedIn() bool { return c.access != "" || c.cookie != "" }

// run sends requests until ctx ends or max requests; measured says whether
// a request that started at a given time counts (after the warm-up).
func (c *client) run(ctx context.Context, max int, measuredFrom time.Time, s *stats) {
	for i := 0; i < max && ctx.Err() == nil; i++ {
		k := next(c.rng, c.loggedIn())
		if k == read && c.target == "sesame" && time.Since(c.issued) > c.ttl*8/10 {
			k = refresh // the access token is about to expire
		}
		start := time.Now()
		status, err := c.do(ctx, k)
		d := time.Since(start)
		if ctx.Err() != nil {
			return // cut off at the end: not a failure
		}
		if start.Before(measuredFrom) {
			if err != nil {
				s.fail(k, status, fmt.Errorf("during warm-up: %w", err))
			}
			continue
		}
		if err != nil {
			s.fail(k, status, err)
			continue
		}
		s.lat[k] = append(s.lat[k], d)
	}
}

func (c *client) node() string {
	c.turn++
	return c.nodes[c.turn%len(c.nodes)]
}

// do sends one request of kind k and checks its answer.
func (c *client) do(ctx context.Context, k kind) (int, error) {
	var (
		method = http.MethodPost
		path   string
		body   string
		want   = http.StatusOK
	)
	switch k {
	case read:
		method, path = http.MethodGet, "/auth/session"
	case refresh:
		path = "/auth/refresh"
		if c.target == "sesame" {
			body = `{"refresh_token":"` + c.refreshTok + `"}`
		} else {
			want = http.StatusNoContent
		}
	case login:
		path = "/auth/login"
		body = fmt.Sprintf(`{"username":"user%d","password":%q}`, c.id, password)
	case logout:
		path, want = "/auth/logout", http.StatusNoContent
	}
	req, err := http.NewRequestWithContext(ctx, method, c.node()+path, strings.NewReader(body))
	if err != nil {
		return 0, err
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if k == login {
		// A client address per login, as many users logging in from
		// their own machines: sessiond throttles logins per address.
		n := c.ipCount.Add(1)
		req.Header.Set("X-Forwarded-For", fmt.Sprintf("10.%d.%d.%d", n>>16&255, n>>8&255, n&255))
	}
	if c.target == "sesame" {
		req.Header.Set("X-Session-Transport", "header")
		if k == read || k == logout {
			req.Header.Set("Authorization", "Bearer "+c.access)
		}
	} else if c.cookie != "" && k != login {
		req.Header.Set("Cookie", "session="+c.cookie)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return 0, err
	}
	b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	resp.Body.Close()
	if err != nil {
		return resp.StatusCode, err
	}
	if resp.StatusCode != want {
		return resp.StatusCode, fmt.Errorf("want %d: %s", want, bytes.TrimSpace(b))
	}
	return resp.StatusCode, c.take(k, resp, b)
}

// take checks an answer and keeps the new credentials.
func (c *client) take(k kind, resp *http.Response, b []byte) error {
	if k == logout {
		c.access, c.refreshTok, c.cookie = "", "", ""
		return nil
	}
	if c.target == "scs" {
		if k == login || k == refresh {
			for _, ck := range resp.Cookies() {
				if ck.Name == "session" && ck.Value != "" {
					if ck.Value == c.cookie {
						return errors.New("the session token did not change")
					}
					c.cookie = ck.Value
					return nil
				}
			}
			return errors.New("no new session cookie")
		}
		return checkSession(b, c.id)
	}
	if k == read {
		return checkSession(b, c.id)
	}
	var tk struct {
		AccessToken  string `json:"access_token"`
		RefreshToken string `json:"refresh_token"`
	}
	if err := json.Unmarshal(b, &tk); err != nil || tk.AccessToken == "" || tk.RefreshToken == "" {
		return fmt.Errorf("no token pair in %q", b)
	}
	c.access, c.refreshTok, c.issued = tk.AccessToken, tk.RefreshToken, time.Now()
	return nil
}

// checkSession checks that a GET /auth/session answer is this client's.
func checkSession(b []byte, id int) error {
	var s struct {
		Sub string `json:"sub"`
	}
	if err := json.Unmarshal(b, &s); err != nil || s.Sub != "user"+strconv.Itoa(id) {
		return fmt.Errorf("session of %q, want user%d", s.Sub, id)
	}
	return nil
}
