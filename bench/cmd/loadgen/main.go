// Command loadgen is the HTTP load test of issue 7: a fixed number of
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
// Load generator and servers share this machine's cores, so figures are for
// comparison within a run, not capacity planning. Every loop is bounded by
// -duration and by -max-requests per client.
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"sync"
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
	flag.StringVar(&cfg.redisAddr, "redis", os.Getenv("BENCH_REDIS_ADDR"), "redis-server address (loopback); empty starts one on a free port")
	flag.DurationVar(&cfg.duration, "duration", 5*time.Second, "measured time per (server, route, clients)")
	flag.DurationVar(&cfg.warmup, "warmup", time.Second, "unmeasured time before each measurement")
	flag.StringVar(&clients, "clients", "16,64", "comma-separated concurrent client counts")
	flag.StringVar(&servers, "servers", "sesame,scs", "comma-separated servers to measure")
	flag.StringVar(&routes, "routes", "protected,refresh", "comma-separated routes to measure")
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
			t, err = newSesame(cfg.redisAddr, data)
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
	// do sends one request of route and reports whether it succeeded.
	do(c *http.Client, route string) error
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
					err := cls[i].do(hc, route)
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

func newSesame(redisAddr string, data ref.Session) (*sesameTarget, error) {
	s := &sesameTarget{}
	rdb := redis.NewClient(&redis.Options{Addr: redisAddr, PoolSize: 128})
	s.closers = append(s.closers, func() { rdb.Close() })
	prefix := fmt.Sprintf("bench-%d:", time.Now().UnixNano())
	store, err := revocation.NewRedis(rdb, &revocation.RedisOptions{KeyPrefix: prefix})
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
		Keys: auth.StaticKeys(ks), Store: store, Denylist: rep,
		LoginLimit: auth.LoginLimit{PerIP: -1, PerUser: -1},
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
}

type tokenPair struct {
	AccessToken  string `json:"access_token"`
	RefreshToken string `json:"refresh_token"`
}

func (s *sesameTarget) login(hc *http.Client) (client, error) {
	c := &sesameClient{url: s.url}
	return c, c.post(hc, "/auth/login", `{"username":"bench","password":"bench-pw"}`)
}

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
	c.access, c.refresh = tp.AccessToken, tp.RefreshToken
	return nil
}

func (c *sesameClient) do(hc *http.Client, route string) error {
	if route == "refresh" {
		var b bytes.Buffer
		json.NewEncoder(&b).Encode(map[string]string{"refresh_token": c.refresh})
		return c.post(hc, "/auth/refresh", b.String())
	}
	req, _ := http.NewRequest("GET", c.url+"/app", nil)
	req.Header.Set("Authorization", "Bearer "+c.access)
	resp, err := hc.Do(req)
	if err != nil {
		return err
	}
	drain(resp)
	if resp.StatusCode != http.StatusNoContent {
		return fmt.Errorf("/app: status %d", resp.StatusCode)
	}
	return nil
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
	t     *scsTarget
	token string
}

func (s *scsTarget) login(hc *http.Client) (client, error) {
	c := &scsClient{t: s}
	return c, c.send(hc, "POST", "/login", false)
}

// send makes one request and takes the new session cookie, if any.
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
	if resp.StatusCode != http.StatusNoContent {
		return fmt.Errorf("%s: status %d", path, resp.StatusCode)
	}
	for _, ck := range resp.Cookies() {
		if ck.Name == c.t.cookie && ck.Value != "" {
			c.token = ck.Value
		}
	}
	if c.token == "" {
		return fmt.Errorf("%s: no session cookie", path)
	}
	return nil
}

func (c *scsClient) do(hc *http.Client, route string) error {
	if route == "refresh" {
		old := c.token
		if err := c.send(hc, "POST", "/refresh", true); err != nil {
			return err
		}
		if c.token == old {
			return errors.New("/refresh: token not renewed")
		}
		return nil
	}
	return c.send(hc, "GET", "/app", true)
}
