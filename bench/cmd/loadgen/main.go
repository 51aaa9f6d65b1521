// Command loadgen is the HTTP load test of BENCHMARKS.md: a fixed number of
// clients, each with its own session, send requests back to back for a
// fixed time to a server on a loopback port, and it reports requests per
// second and p50/p99 latency.
//
// Servers (both in this process, on 127.0.0.1, backed by the same
// redis-server):
//
//   - sesame: auth.Manager with the Redis revocation store and a replica;
//     "protected" is GET /app behind Require (local verification, cache
//     hit), "refresh" is POST /auth/refresh (header transport: one Redis
//     script rotating the refresh token, a new access token minted).
//   - scs: alexedwards/scs v2 with redisstore; "protected" is GET /app
//     behind LoadAndSave (one Redis GET), "refresh" is POST /refresh calling
//     RenewToken (a new session token: one DEL, one SET, a new cookie).
//
// Clients are lean HTTP/1.1 clients, not net/http.Clients: each owns one
// keep-alive TCP connection to the server, dialled before the measurement
// and closed after it, and on its own measuring goroutine (no other
// goroutine per client, connection or request) writes each request as
// pre-built bytes and reads the response with http.ReadResponse from a
// bufio.Reader (the body is read in full, so the connection stays usable).
// The requests are byte for byte what net/http sent (Host, User-Agent,
// Content-Length, Content-Type, the transport header, Authorization or
// Cookie), and the responses are checked as strictly: status, and for a
// refresh a new access and refresh token or a new session cookie. A
// response with Connection: close, or a failed read or write, counts as a
// failed request and the next request dials again. Why: clients and servers
// share this machine's cores (two on the benchmark VM), so CPU the clients
// burn is taken from the servers under test. A CPU profile put
// net/http.Client at about 60 µs per request (a read and a write goroutine
// per connection, map-encoded JSON bodies, decoders) against about 130 µs
// for sesame's whole refresh, and under wrk the servers ran about 30 %
// faster; the lean client with a hand-written response parser and JSON
// scanner cost about 19 µs per refresh, most of it the write and read
// system calls (http.ReadResponse and json.Unmarshal, used since, cost
// more: see the loadgen commits for the measured difference). Logins are
// not measured and still use net/http.Client.
//
// Load generator and servers share this machine's cores, so figures are for
// comparison within a run, not capacity planning. Every loop is bounded by
// -duration and by -max-requests per client.
package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/redis/go-redis/v9"
	"github.com/sesame-go/sesame/auth"
	"github.com/sesame-go/sesame/keys"
	"github.com/sesame-go/sesame/revocation"

	"github.com/sesame-go/sesame/bench"
	"github.com/sesame-go/sesame/bench/internal/redisproc"
	"github.com/sesame-go/sesame/bench/internal/ref"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "loadgen:", err)
		os.Exit(1)
	}
}

type config struct {
	redisAddr   string
	duration    time.Duration
	warmup      time.Duration
	clients     []int
	maxRequests int
}

func run() error {
	var cfg config
	var clients, servers, routes, cpuprofile string
	var noPipe, serveOnly bool
	var tokensFile string
	var sessions int
	flag.StringVar(&cfg.redisAddr, "redis", os.Getenv("BENCH_REDIS_ADDR"), "redis-server address (loopback); empty starts one on a free port")
	flag.DurationVar(&cfg.duration, "duration", 5*time.Second, "measured time per (server, route, clients)")
	flag.DurationVar(&cfg.warmup, "warmup", time.Second, "unmeasured time before each measurement")
	flag.StringVar(&clients, "clients", "16,64", "comma-separated concurrent client counts")
	flag.StringVar(&servers, "servers", "sesame,scs", "comma-separated servers to measure")
	flag.StringVar(&routes, "routes", "protected,refresh", "comma-separated routes to measure")
	flag.BoolVar(&noPipe, "no-auto-pipeline", false, "sesame's Redis store sends one command per call (revocation.RedisOptions.NoAutoPipeline), to measure what auto-pipelining gives")
	flag.BoolVar(&serveOnly, "serve", false, "only serve: start the servers, print \"name URL\" for each, and wait for SIGINT or SIGTERM, for an external load generator (bench/wrk-refresh.lua)")
	flag.StringVar(&tokensFile, "tokens", "", "with -serve: log in -sessions sessions on sesame and write their refresh tokens to this file, one a line")
	flag.IntVar(&sessions, "sessions", 128, "with -serve -tokens: how many sessions")
	flag.StringVar(&cpuprofile, "cpuprofile", "", "write a CPU profile of the measurements (server and clients) to this file")
	flag.IntVar(&cfg.maxRequests, "max-requests", 1_000_000, "cap on requests per client per measurement")
	flag.Parse()
	if cfg.duration <= 0 || cfg.duration > time.Minute || cfg.warmup < 0 || cfg.warmup > 10*time.Second {
		return errors.New("-duration must be in (0, 1m] and -warmup in [0, 10s]")
	}
	for f := range strings.SplitSeq(clients, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 1 || n > 1024 {
			return fmt.Errorf("bad -clients value %q", f)
		}
		cfg.clients = append(cfg.clients, n)
	}
	if cfg.redisAddr == "" {
		srv, err := redisproc.Start(10 * time.Second)
		if err != nil {
			return err
		}
		defer srv.Stop()
		cfg.redisAddr = srv.Addr
	}
	if host, _, err := net.SplitHostPort(cfg.redisAddr); err != nil || !net.ParseIP(host).IsLoopback() {
		return fmt.Errorf("-redis %q is not a loopback address", cfg.redisAddr)
	}
	data, src, err := ref.Load()
	if err != nil {
		return err
	}
	fmt.Printf("reference session from %s; redis %s; %v per measurement after %v warm-up\n\n", src, cfg.redisAddr, cfg.duration, cfg.warmup)

	var targets []target
	for name := range strings.SplitSeq(servers, ",") {
		var t target
		switch name {
		case "sesame":
			t, err = newSesame(cfg.redisAddr, data, &revocation.RedisOptions{NoAutoPipeline: noPipe})
		case "scs":
			t, err = newSCS(cfg.redisAddr, data)
		default:
			err = fmt.Errorf("unknown server %q", name)
		}
		if err != nil {
			return err
		}
		defer t.close()
		targets = append(targets, t)
	}
	if serveOnly {
		ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
		defer stop()
		return serveOnlyFor(ctx, os.Stdout, targets, tokensFile, sessions)
	}
	if cpuprofile != "" {
		f, err := os.Create(cpuprofile)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}

	var results []result
	for _, n := range cfg.clients {
		for route := range strings.SplitSeq(routes, ",") {
			if route != "protected" && route != "refresh" {
				return fmt.Errorf("unknown route %q", route)
			}
			for _, s := range targets { // interleaved: sesame, scs, sesame, scs, ...
				res, err := measure(cfg, s, route, n)
				if err != nil {
					return fmt.Errorf("%s %s %d clients: %w", s.name(), route, n, err)
				}
				results = append(results, res)
				fmt.Fprintf(os.Stderr, "%-7s %-9s %3d clients: %8.0f req/s  p50 %v  p99 %v  errors %d\n",
					res.server, res.route, res.clients, res.rps, res.p50, res.p99, res.errors)
			}
		}
	}
	fmt.Println("| server | route | clients | requests | errors | req/s | p50 | p99 |")
	fmt.Println("|---|---|---:|---:|---:|---:|---:|---:|")
	for _, r := range results {
		fmt.Printf("| %s | %s | %d | %d | %d | %.0f | %s | %s |\n", r.server, r.route, r.clients, r.n, r.errors, r.rps, ms(r.p50), ms(r.p99))
	}
	fmt.Println()
	for _, r := range results {
		if r.server == "sesame" && r.route == "refresh" && r.clients == 64 {
			fmt.Printf("target: sesame refresh at 64 clients ≥ 5000 req/s: %.0f → %s\n", r.rps, met(r.rps >= 5000))
			fmt.Printf("target: sesame refresh at 64 clients p99 ≤ 20 ms: %s → %s\n", ms(r.p99), met(r.p99 <= 20*time.Millisecond))
		}
	}
	return nil
}

func met(ok bool) string {
	if ok {
		return "MET"
	}
	return "MISSED"
}

func ms(d time.Duration) string { return fmt.Sprintf("%.2f ms", float64(d)/float64(time.Millisecond)) }

// target is a server under test; a client is one logged-in session on it.
type target interface {
	name() string
	base() string
	login(c *http.Client) (client, error)
	close()
}

type client interface {
	// do sends one request of route on lc, the client's own connection, and
	// reports whether it succeeded.
	do(lc *leanConn, route string) error
}

type result struct {
	server, route string
	clients, n    int
	errors        int
	rps           float64
	p50, p99      time.Duration
}

func measure(cfg config, s target, route string, n int) (result, error) {
	tr := &http.Transport{MaxIdleConns: n, MaxIdleConnsPerHost: n, DisableCompression: true, IdleConnTimeout: time.Minute}
	defer tr.CloseIdleConnections()
	hc := &http.Client{Transport: tr, Timeout: 10 * time.Second}
	cls := make([]client, n)
	for i := range cls {
		c, err := s.login(hc)
		if err != nil {
			return result{}, err
		}
		cls[i] = c
	}
	tr.CloseIdleConnections() // the logins' connections; requests go on conns
	conns := make([]*leanConn, n)
	defer func() {
		for _, lc := range conns {
			if lc != nil {
				lc.close()
			}
		}
	}()
	for i := range conns {
		conns[i] = &leanConn{addr: hostPort(s.base())}
		if err := conns[i].dial(); err != nil {
			return result{}, err
		}
	}
	loop := func(d time.Duration, record bool) ([][]time.Duration, []int) {
		lat := make([][]time.Duration, n)
		errs := make([]int, n)
		deadline := time.Now().Add(d)
		var wg sync.WaitGroup
		for i := range cls {
			wg.Go(func() {
				if record {
					lat[i] = make([]time.Duration, 0, 4096)
				}
				for k := 0; k < cfg.maxRequests; k++ {
					t0 := time.Now()
					if t0.After(deadline) {
						return
					}
					err := cls[i].do(conns[i], route)
					if err != nil {
						errs[i]++
					}
					if record {
						lat[i] = append(lat[i], time.Since(t0))
					}
				}
			})
		}
		wg.Wait()
		return lat, errs
	}
	if cfg.warmup > 0 {
		loop(cfg.warmup, false)
	}
	start := time.Now()
	lat, errs := loop(cfg.duration, true)
	elapsed := time.Since(start)
	all := slices.Concat(lat...)
	slices.Sort(all)
	res := result{server: s.name(), route: route, clients: n, n: len(all)}
	for _, e := range errs {
		res.errors += e
	}
	if len(all) == 0 {
		return res, errors.New("no requests completed")
	}
	res.rps = float64(len(all)) / elapsed.Seconds()
	res.p50 = all[len(all)*50/100]
	res.p99 = all[min(len(all)-1, len(all)*99/100)]
	return res, nil
}

func serve(h http.Handler) (string, func(), error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", nil, err
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second}
	go srv.Serve(l)
	return "http://" + l.Addr().String(), func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.Shutdown(ctx)
	}, nil
}

func drain(resp *http.Response) {
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
}

// --- sesame -----------------------------------------------------------------

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

// --- scs --------------------------------------------------------------------

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

// --- lean HTTP/1.1 client ---------------------------------------------------

// leanConn is one client's keep-alive HTTP/1.1 connection to a server. One
// goroutine uses it: it writes a request and reads the whole response on
// that goroutine, then the next request goes on the same connection. No
// goroutine runs per connection or per request.
type leanConn struct {
	addr     string // host:port
	nc       net.Conn
	br       *bufio.Reader
	deadline time.Time // nc's read and write deadline
}

const (
	requestTimeout = 10 * time.Second // as the net/http.Client of the logins
	maxBody        = 1 << 20
)

// errServerClosed: the server answered but closed the connection (or will):
// the request counts as failed and the next one dials again.
var errServerClosed = errors.New("server closed the connection")

// hostPort is the host:port of a server's "http://host:port" base URL.
func hostPort(base string) string { return strings.TrimPrefix(base, "http://") }

func (c *leanConn) dial() error {
	c.close()
	nc, err := net.DialTimeout("tcp", c.addr, requestTimeout)
	if err != nil {
		return err
	}
	c.nc, c.deadline = nc, time.Time{}
	if c.br == nil {
		c.br = bufio.NewReaderSize(nc, 4096)
	} else {
		c.br.Reset(nc)
	}
	return nil
}

func (c *leanConn) close() {
	if c.nc != nil {
		c.nc.Close()
		c.nc = nil
	}
}

// roundTrip writes req (a complete HTTP/1.1 request) and reads the response
// and its whole body (at most maxBody bytes). On a failure the connection is
// closed (the next round trip dials a new one) and resp is nil, except for
// errServerClosed, which comes with the complete response the server sent
// before closing.
func (c *leanConn) roundTrip(req []byte) (resp *http.Response, body []byte, err error) {
	if c.nc == nil {
		if err := c.dial(); err != nil {
			return nil, nil, err
		}
	}
	// Every request gets at least requestTimeout (at most a second more),
	// with one deadline update a second rather than one per request.
	if now := time.Now(); now.Add(requestTimeout).After(c.deadline) {
		c.deadline = now.Add(requestTimeout + time.Second)
		if err := c.nc.SetDeadline(c.deadline); err != nil {
			c.close()
			return nil, nil, err
		}
	}
	if _, err := c.nc.Write(req); err != nil {
		c.close()
		return nil, nil, err
	}
	resp, err = http.ReadResponse(c.br, nil)
	if err == nil {
		body, err = io.ReadAll(io.LimitReader(resp.Body, maxBody+1))
		resp.Body.Close()
		switch {
		case err != nil:
		case len(body) > maxBody:
			err = fmt.Errorf("body over %d bytes", maxBody)
		case resp.StatusCode < 200: // the final response would follow
			err = fmt.Errorf("interim response %q", resp.Status)
		}
	}
	if err != nil {
		c.close()
		return nil, nil, err
	}
	if resp.Close {
		c.close()
		return resp, body, errServerClosed
	}
	return resp, body, nil
}

// validCookieValueByte is net/http's test for a cookie value's bytes.
func validCookieValueByte(b byte) bool {
	return 0x20 <= b && b < 0x7f && b != '"' && b != ';' && b != '\\'
}

// appendCookieValue appends v as http.Request.AddCookie writes a cookie's
// value: bytes a cookie value may not hold dropped, and in double quotes if
// it holds a space or a comma.
func appendCookieValue(b []byte, v string) []byte {
	quote := strings.ContainsAny(v, " ,")
	if quote {
		b = append(b, '"')
	}
	for i := range len(v) {
		if validCookieValueByte(v[i]) {
			b = append(b, v[i])
		}
	}
	if quote {
		b = append(b, '"')
	}
	return b
}

// appendHead appends the request line and the first headers net/http's
// Transport writes (Host, User-Agent); the caller appends the rest of the
// headers, the empty line and the body. net/http sent, for these requests,
// exactly: request line, Host, User-Agent, Content-Length (when there is a
// body or the method is POST), the headers set on the request in sorted
// order, then an empty line (no Accept-Encoding: compression was off).
func appendHead(b []byte, method, path, host string) []byte {
	b = append(b, method...)
	b = append(b, ' ')
	b = append(b, path...)
	b = append(b, " HTTP/1.1\r\nHost: "...)
	b = append(b, host...)
	return append(b, "\r\nUser-Agent: Go-http-client/1.1\r\n"...)
}

// appendRefreshRequest appends sesame's POST /auth/refresh with the body
// json.NewEncoder(w).Encode(map[string]string{"refresh_token": tok}) wrote:
// {"refresh_token":"tok"} and a newline. A token (base64url, always) that
// would need JSON escaping goes through json.Marshal, which escapes as the
// encoder did.
func appendRefreshRequest(b []byte, host, tok string) []byte {
	const pre, post = `{"refresh_token":"`, "\"}\n"
	var body []byte // nil: pre + tok + post
	n := len(pre) + len(tok) + len(post)
	if !jsonSafe(tok) {
		body, _ = json.Marshal(map[string]string{"refresh_token": tok})
		body = append(body, '\n')
		n = len(body)
	}
	b = appendHead(b, "POST", "/auth/refresh", host)
	b = append(b, "Content-Length: "...)
	b = strconv.AppendInt(b, int64(n), 10)
	b = append(b, "\r\nContent-Type: application/json\r\n"+auth.TransportHeader+": header\r\n\r\n"...)
	if body != nil {
		return append(b, body...)
	}
	b = append(b, pre...)
	b = append(b, tok...)
	return append(b, post...)
}

// jsonSafe reports whether s goes into a JSON string unchanged by
// encoding/json (printable ASCII, none of " \\ < > &).
func jsonSafe(s string) bool {
	for i := range len(s) {
		switch b := s[i]; {
		case b < 0x20 || b > 0x7e, b == '"', b == '\\', b == '<', b == '>', b == '&':
			return false
		}
	}
	return true
}

// headerSafe reports whether s is a non-empty run of visible ASCII, safe to
// write as a header value or inside one.
func headerSafe(s string) bool {
	for i := range len(s) {
		if s[i] <= 0x20 || s[i] >= 0x7f {
			return false
		}
	}
	return s != ""
}

// serveOnlyFor prints each target's URL to out, writes the refresh tokens
// of n new sesame sessions to tokensFile (when set), and waits for ctx.
func serveOnlyFor(ctx context.Context, out io.Writer, targets []target, tokensFile string, n int) error {
	for _, t := range targets {
		fmt.Fprintln(out, t.name(), t.base())
		s, ok := t.(*sesameTarget)
		if !ok || tokensFile == "" {
			continue
		}
		if n < 1 || n > 100_000 {
			return errors.New("-sessions must be in [1, 100000]")
		}
		var b strings.Builder
		for range n {
			c, err := s.login(http.DefaultClient)
			if err != nil {
				return err
			}
			b.WriteString(c.(*sesameClient).refresh + "\n")
		}
		if err := os.WriteFile(tokensFile, []byte(b.String()), 0o600); err != nil {
			return err
		}
	}
	<-ctx.Done()
	return nil
}
