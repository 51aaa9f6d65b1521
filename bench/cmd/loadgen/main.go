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
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"runtime/pprof"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/sesame-go/sesame/revocation"

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
