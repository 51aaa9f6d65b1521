package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sesame-go/sesame/bench/internal/redisproc"
	"github.com/sesame-go/sesame/bench/internal/ref"
)

// testServers starts both servers on a test redis-server; they stop with t.
func testServers(t *testing.T) (*sesameTarget, *scsTarget) {
	t.Helper()
	addr, data := testRedis(t)
	ses, err := newSesame(addr, data, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(ses.close)
	sc, err := newSCS(addr, data)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(sc.close)
	return ses, sc
}

// TestServers: both servers refuse GET /app without a session, and a short
// measurement of each route completes with no failed request (so the load
// test measures working logins, protected requests and refresh chains).
func TestServers(t *testing.T) {
	ses, sc := testServers(t)
	cfg := config{duration: 200 * time.Millisecond, maxRequests: 200}
	for _, s := range []target{ses, sc} {
		t.Run(s.name(), func(t *testing.T) {
			resp, err := http.Get(s.base() + "/app")
			if err != nil {
				t.Fatal(err)
			}
			drain(resp)
			if resp.StatusCode != http.StatusUnauthorized {
				t.Errorf("GET /app without a session: got status %d, want 401", resp.StatusCode)
			}
			for _, route := range []string{"protected", "refresh"} {
				res, err := measure(cfg, s, route, 2)
				if err != nil {
					t.Fatalf("%s: %v", route, err)
				}
				if res.errors != 0 || res.n == 0 {
					t.Errorf("%s: %d requests, %d failed", route, res.n, res.errors)
				}
			}
		})
	}
}

// testRedis returns a redis-server address ($BENCH_REDIS_ADDR or one started
// for the test) and the reference session.
func testRedis(t *testing.T) (string, ref.Session) {
	t.Helper()
	addr := os.Getenv("BENCH_REDIS_ADDR")
	if addr == "" {
		srv, err := redisproc.Start(10 * time.Second)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(srv.Stop)
		addr = srv.Addr
	}
	data, _, err := ref.Load()
	if err != nil {
		t.Fatal(err)
	}
	return addr, data
}

// loginLean logs one client in on s and dials its lean connection.
func loginLean(t *testing.T, s target) (client, *leanConn) {
	t.Helper()
	hc := &http.Client{Timeout: 10 * time.Second}
	c, err := s.login(hc)
	if err != nil {
		t.Fatal(err)
	}
	hc.CloseIdleConnections()
	lc := &leanConn{addr: hostPort(s.base())}
	if err := lc.dial(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(lc.close)
	return c, lc
}

// TestLeanClientFailures: the lean client counts a refused request as a
// failure, not a success, and an error answer leaves the connection usable
// (its body was read in full): a garbage access token on the protected
// route, a garbage refresh token on the refresh route, a garbage session
// cookie on scs.
func TestLeanClientFailures(t *testing.T) {
	ses, sc := testServers(t)

	t.Run("sesame", func(t *testing.T) {
		cl, lc := loginLean(t, ses)
		c := cl.(*sesameClient)
		nc := lc.nc
		mustDo := func(route string) {
			t.Helper()
			if err := c.do(lc, route); err != nil {
				t.Fatalf("%s with valid tokens: %v", route, err)
			}
			if lc.nc != nc {
				t.Fatalf("%s: the connection was not kept", route)
			}
		}
		mustFail := func(route string) {
			t.Helper()
			if err := c.do(lc, route); err == nil {
				t.Fatalf("%s with access %q, refresh %q: no error", route, c.access, c.refresh)
			} else if !strings.Contains(err.Error(), "status 401") {
				t.Errorf("%s: error %v, want a 401", route, err)
			}
			if lc.nc != nc {
				t.Fatalf("%s: the connection was not kept after a 401", route)
			}
		}
		mustDo("protected")
		access, refresh := c.access, c.refresh
		c.setTokens("garbage", refresh)
		mustFail("protected")
		c.setTokens(access[:len(access)-2]+"xx", refresh) // a bad signature
		mustFail("protected")
		c.setTokens(access, refresh)
		mustDo("protected")

		c.setTokens(access, "garbage")
		mustFail("refresh")
		if c.access != access || c.refresh != "garbage" {
			t.Fatal("a failed refresh changed the tokens")
		}
		c.setTokens(access, refresh)
		mustDo("refresh")
		if c.access == access || c.refresh == refresh || c.access == "" || c.refresh == "" {
			t.Fatalf("refresh did not take new tokens")
		}
		mustDo("protected") // with the new access token
		mustDo("refresh")
	})

	t.Run("scs", func(t *testing.T) {
		cl, lc := loginLean(t, sc)
		c := cl.(*scsClient)
		nc := lc.nc
		for _, route := range []string{"protected", "refresh", "protected"} {
			if err := c.do(lc, route); err != nil {
				t.Fatalf("%s: %v", route, err)
			}
		}
		token := c.token
		c.setToken("garbage")
		for _, route := range []string{"protected", "refresh"} {
			if err := c.do(lc, route); err == nil || !strings.Contains(err.Error(), "status 401") {
				t.Errorf("%s with a garbage cookie: error %v, want a 401", route, err)
			}
		}
		c.setToken(token)
		if err := c.do(lc, "refresh"); err != nil || c.token == token {
			t.Fatalf("refresh: %v (token renewed: %v)", err, c.token != token)
		}
		if lc.nc != nc {
			t.Fatal("the connection was not kept")
		}
	})
}

// TestLeanConnClose: a response with Connection: close counts as a failed
// request, and the next request dials a new connection and succeeds.
func TestLeanConnClose(t *testing.T) {
	var n atomic.Int32
	url, stop, err := serve(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if n.Add(1) == 2 {
			w.Header().Set("Connection", "close")
		}
		w.WriteHeader(http.StatusNoContent)
	}))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(stop)
	c := &sesameClient{url: url, access: "a.b.c"}
	lc := &leanConn{addr: hostPort(url)}
	if err := lc.dial(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(lc.close)
	first := lc.nc
	if err := c.do(lc, "protected"); err != nil {
		t.Fatal(err)
	}
	if err := c.do(lc, "protected"); !errors.Is(err, errServerClosed) {
		t.Fatalf("answer with Connection: close: error %v, want errServerClosed", err)
	}
	if lc.nc != nil {
		t.Fatal("connection not closed")
	}
	for range 2 {
		if err := c.do(lc, "protected"); err != nil {
			t.Fatalf("after a redial: %v", err)
		}
	}
	if lc.nc == nil || lc.nc == first {
		t.Fatal("no new connection")
	}
}

// TestRequestBytes: the lean requests are byte for byte what the
// net/http.Client of the previous load generator sent.
func TestRequestBytes(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	got := make(chan []byte, 1)
	go func() {
		for {
			conn, err := l.Accept()
			if err != nil {
				return
			}
			var raw bytes.Buffer
			req, err := http.ReadRequest(bufio.NewReader(io.TeeReader(conn, &raw)))
			if err == nil {
				io.Copy(io.Discard, req.Body)
			}
			got <- raw.Bytes()
			conn.Write([]byte("HTTP/1.1 204 No Content\r\nConnection: close\r\n\r\n"))
			conn.Close()
		}
	}()
	url := "http://" + l.Addr().String()
	hc := &http.Client{Transport: &http.Transport{DisableCompression: true}, Timeout: 10 * time.Second}
	sent := func(req *http.Request) []byte {
		t.Helper()
		resp, err := hc.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		drain(resp)
		return <-got
	}
	for _, tok := range []string{"abc.DEF-_123", `needs "escaping" <&> \ é` + "\u2028\x01"} {
		// As the previous sesameClient.do sent a refresh.
		var b bytes.Buffer
		json.NewEncoder(&b).Encode(map[string]string{"refresh_token": tok})
		req, _ := http.NewRequest("POST", url+"/auth/refresh", strings.NewReader(b.String()))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("X-Session-Transport", "header")
		c := &sesameClient{url: url, access: "a.b.c", refresh: tok}
		if err := c.build("refresh"); err != nil {
			t.Fatal(err)
		}
		if want := sent(req); !bytes.Equal(c.req, want) {
			t.Errorf("sesame refresh:\n got %q\nwant %q", c.req, want)
		}
	}
	{
		req, _ := http.NewRequest("GET", url+"/app", nil)
		req.Header.Set("Authorization", "Bearer "+"a.b.c")
		c := &sesameClient{url: url, access: "a.b.c", refresh: "r"}
		if err := c.build("protected"); err != nil {
			t.Fatal(err)
		}
		if want := sent(req); !bytes.Equal(c.req, want) {
			t.Errorf("sesame protected:\n got %q\nwant %q", c.req, want)
		}
		c.setTokens("a b", "r")
		if err := c.build("protected"); err == nil {
			t.Error("an access token with a space makes a request")
		}
	}
	for _, cookie := range []string{"Tok-123_x", "with space", "with,comma", "bad;\\\"bytes"} {
		c := &scsClient{t: &scsTarget{url: url, cookie: "session"}, token: cookie}
		for _, r := range []struct{ route, method, path string }{{"refresh", "POST", "/refresh"}, {"protected", "GET", "/app"}} {
			// As the previous scsClient.send sent them.
			req, _ := http.NewRequest(r.method, url+r.path, nil)
			req.AddCookie(&http.Cookie{Name: "session", Value: cookie})
			c.build(r.route)
			if want := sent(req); !bytes.Equal(c.req, want) {
				t.Errorf("scs %s, cookie %q:\n got %q\nwant %q", r.route, cookie, c.req, want)
			}
		}
	}
}

// TestServeOnly: -serve prints the servers' URLs, writes -sessions refresh
// tokens that each refresh once, and returns when its context ends.
func TestServeOnly(t *testing.T) {
	ses, sc := testServers(t)
	file := filepath.Join(t.TempDir(), "tokens.txt")
	ctx, cancel := context.WithCancel(context.Background())
	var out bytes.Buffer
	done := make(chan error, 1)
	go func() { done <- serveOnlyFor(ctx, &out, []target{ses, sc}, file, 3) }()
	var toks []string
	waitTokens := time.NewTicker(time.Millisecond)
	defer waitTokens.Stop()
	deadline := time.Now().Add(10 * time.Second)
	for len(toks) < 3 {
		if time.Now().After(deadline) {
			t.Fatalf("no tokens file with 3 tokens: %q", toks)
		}
		<-waitTokens.C
		if b, _ := os.ReadFile(file); bytes.Count(b, []byte("\n")) == 3 { // written whole
			toks = strings.Fields(string(b))
		}
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if want := "sesame " + ses.base() + "\nscs " + sc.base() + "\n"; out.String() != want {
		t.Errorf("printed %q, want %q", out.String(), want)
	}
	for i, tok := range toks {
		c := &sesameClient{url: ses.base()}
		if err := c.post(http.DefaultClient, "/auth/refresh", `{"refresh_token":"`+tok+`"}`); err != nil {
			t.Errorf("token %d: %v", i, err)
		}
	}
}
