// Command mixload is the mixed-load benchmark and the soak: clients send
// traffic shaped like a real application's to a cluster of server
// processes on one redis-server, and it reports throughput and p50/p99
// latency per kind of request.
//
// The mix, per client (a user with one session, requests back to back):
// 90 % authenticated reads (GET /auth/session), 8 % refreshes, 1 % logins
// (argon2id at the default parameters) and 1 % logouts (each logout is
// followed by that client's login). Each client alternates between the
// nodes, so that a session refreshed on one node is read on the other.
//
//   - sesame: -nodes sessiond processes (the binary, default flags but
//     --redis, --keyset on the same Redis, --users, --trusted-proxies
//     127.0.0.1 so that each login's X-Forwarded-For is its address);
//     header transport.
//   - scs: -nodes bench/cmd/peers -server scs processes (scs v2 +
//     redisstore): login verifies the same users file with the same
//     Authenticator, refresh is RenewToken, logout Destroy.
//
// With -sample it is a soak: every interval it reads each node's heap,
// goroutines, open file descriptors and denylist replica entries (from
// /metrics) and Redis's used_memory (INFO memory), and after the run
// checks that each is flat after -warmup (see tolerance) and that no
// request failed. It exits 1 if not.
//
//	go run ./cmd/mixload -duration 60s                       # both, 64 clients
//	go run ./cmd/mixload -target sesame -duration 10m -warmup 2m -sample 10s -access-ttl 1m   # the soak
//
// It starts its own redis-server on a free loopback port (never the shared
// 127.0.0.1:6379) unless -redis names one, builds sessiond and peers unless
// given, and stops everything it started. Every loop is bounded by
// -duration and -max-requests.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/sesame-go/sesame/bench/internal/redisproc"
	"github.com/sesame-go/sesame/users"
)

func main() {
	cfg, err := parseFlags(os.Args[1:])
	if err != nil {
		fmt.Fprintln(os.Stderr, "mixload:", err)
		os.Exit(2)
	}
	ok, err := runAll(context.Background(), cfg, os.Stdout)
	if err != nil {
		fmt.Fprintln(os.Stderr, "mixload:", err)
		os.Exit(1)
	}
	if !ok {
		os.Exit(1)
	}
}

type config struct {
	targets     []string
	sessiond    string
	peers       string
	redisAddr   string
	nodes       int
	clients     int
	duration    time.Duration
	warmup      time.Duration
	ramp        time.Duration // the clients start evenly over this, from the start
	accessTTL   time.Duration
	sample      time.Duration
	maxRequests int
	dir         string
	extraArgs   []string // more sessiond flags
	hashMemory  uint32   // argon2id memory in KiB; 0: the default parameters
}

func parseFlags(args []string) (*config, error) {
	fs := flag.NewFlagSet("mixload", flag.ContinueOnError)
	c := &config{}
	var targets, extra string
	fs.StringVar(&targets, "target", "sesame,scs", "comma-separated: sesame, scs")
	fs.StringVar(&c.sessiond, "sessiond", "", "sessiond binary (default: build it)")
	fs.StringVar(&c.peers, "peers", "", "bench/cmd/peers binary (default: build it)")
	fs.StringVar(&c.redisAddr, "redis", os.Getenv("BENCH_REDIS_ADDR"), "redis-server address (loopback); empty starts one on a free port")
	fs.IntVar(&c.nodes, "nodes", 2, "server processes")
	fs.IntVar(&c.clients, "clients", 64, "concurrent clients, one user each")
	fs.DurationVar(&c.duration, "duration", 60*time.Second, "load time per target, warm-up included")
	fs.DurationVar(&c.warmup, "warmup", 10*time.Second, "time at the start not measured (and, with -sample, not checked for flatness)")
	fs.DurationVar(&c.ramp, "ramp", 5*time.Second, "the clients start evenly over this time (within -warmup), as users arrive, rather than all logging in at once")
	fs.DurationVar(&c.accessTTL, "access-ttl", 10*time.Minute, "sessiond --access-ttl; denylist entries live this + 30s")
	fs.DurationVar(&c.sample, "sample", 0, "soak: sample the nodes and Redis this often and check flatness after -warmup (0: off)")
	fs.IntVar(&c.maxRequests, "max-requests", 10_000_000, "cap on requests per client")
	fs.StringVar(&c.dir, "dir", "", "where the users file and the nodes' logs go (default: a new temporary directory)")
	fs.StringVar(&extra, "sessiond-args", "", "more sessiond flags, space-separated")
	var hashMemory uint
	fs.UintVar(&hashMemory, "argon2-memory", 0, "argon2id memory of the users' hashes in KiB, one pass, one lane (0: the defaults, 64 MiB and two lanes), to see the rest of the mix without the logins' cost")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	for t := range strings.SplitSeq(targets, ",") {
		if t != "sesame" && t != "scs" {
			return nil, fmt.Errorf("-target %q: want sesame or scs", t)
		}
		c.targets = append(c.targets, t)
	}
	c.extraArgs = strings.Fields(extra)
	if hashMemory > 1<<20 {
		return nil, errors.New("-argon2-memory is at most 1 GiB")
	}
	c.hashMemory = uint32(hashMemory)
	switch {
	case c.nodes < 1 || c.nodes > 8, c.clients < 1 || c.clients > 1024:
		return nil, errors.New("-nodes must be in [1, 8] and -clients in [1, 1024]")
	case c.duration <= 0 || c.duration > time.Hour, c.warmup < 0 || c.warmup >= c.duration:
		return nil, errors.New("-duration must be in (0, 1h] and -warmup in [0, -duration)")
	case c.ramp < 0 || c.ramp > c.warmup:
		return nil, errors.New("-ramp must be in [0, -warmup]")
	case c.accessTTL < time.Second:
		return nil, errors.New("-access-ttl must be at least 1s")
	}
	return c, nil
}

// result is one target's run.
type result struct {
	target   string
	measured time.Duration
	stats    stats
	samples  []sample
	verdicts []verdict
	logLines int
	access   int
}

// runAll runs every target and prints the tables; ok is false when a
// request failed or, in a soak, a series was not flat.
func runAll(ctx context.Context, c *config, out io.Writer) (ok bool, err error) {
	if c.dir == "" {
		if c.dir, err = os.MkdirTemp("", "mixload"); err != nil {
			return false, err
		}
	}
	if c.redisAddr == "" {
		srv, err := redisproc.Start(10 * time.Second)
		if err != nil {
			return false, err
		}
		defer srv.Stop()
		c.redisAddr = srv.Addr
	}
	if host, _, err := net.SplitHostPort(c.redisAddr); err != nil || !net.ParseIP(host).IsLoopback() {
		return false, fmt.Errorf("-redis %q is not a loopback address", c.redisAddr)
	}
	if err := build(c); err != nil {
		return false, err
	}
	usersFile := filepath.Join(c.dir, "users.json")
	var params users.Params
	if c.hashMemory > 0 {
		params = users.Params{Time: 1, MemoryKiB: c.hashMemory, Threads: 1}
	}
	if err := writeUsers(usersFile, c.clients, params); err != nil {
		return false, err
	}
	hash := "argon2id defaults (64 MiB, 1 pass, 2 lanes)"
	if c.hashMemory > 0 {
		hash = fmt.Sprintf("argon2id %d KiB, 1 pass, 1 lane", c.hashMemory)
	}
	fmt.Fprintf(out, "redis %s; %d nodes, %d clients; %v per target, the first %v not measured; sessiond --access-ttl %v; %s; logs in %s\n\n",
		c.redisAddr, c.nodes, c.clients, c.duration, c.warmup, c.accessTTL, hash, c.dir)
	ok = true
	var results []*result
	for _, t := range c.targets {
		r, err := runTarget(ctx, c, t, usersFile)
		if err != nil {
			return false, fmt.Errorf("%s: %w", t, err)
		}
		results = append(results, r)
		if !report(out, r) {
			ok = false
		}
	}
	if len(results) > 1 {
		compare(out, results)
	}
	return ok, nil
}

// build builds sessiond and peers into the run's directory unless given.
func build(c *config) error {
	for _, b := range []struct {
		path *string
		pkg  string
	}{{&c.sessiond, "github.com/sesame-go/sesame/cmd/sessiond"}, {&c.peers, "github.com/sesame-go/sesame/bench/cmd/peers"}} {
		if *b.path != "" {
			continue
		}
		*b.path = filepath.Join(c.dir, filepath.Base(b.pkg))
		cmd := exec.Command("go", "build", "-o", *b.path, b.pkg)
		cmd.Stderr = os.Stderr
		if err := cmd.Run(); err != nil {
			return fmt.Errorf("building %s: %w", b.pkg, err)
		}
	}
	return nil
}

func runTarget(ctx context.Context, c *config, target, usersFile string) (*result, error) {
	var (
		cl  *cluster
		err error
	)
	if target == "sesame" {
		args := append([]string{"--access-ttl", c.accessTTL.String()}, c.extraArgs...)
		cl, err = startSesame(ctx, c.sessiond, c.dir, c.redisAddr, usersFile, c.nodes, args)
	} else {
		cl, err = startSCS(c.peers, c.dir, c.redisAddr, usersFile, c.nodes)
	}
	if err != nil {
		return nil, err
	}
	stopped := false
	defer func() {
		if !stopped {
			cl.stop()
		}
	}()
	var urls []string
	for _, n := range cl.nodes {
		urls = append(urls, n.url)
	}

	rdb := redis.NewClient(&redis.Options{Addr: c.redisAddr})
	defer rdb.Close()
	runCtx, cancel := context.WithTimeout(ctx, c.duration)
	defer cancel()
	start := time.Now()
	samples := make(chan sample, 1024)
	if c.sample > 0 {
		go sampler(runCtx, cl, rdb, start, c.sample, samples)
	} else {
		close(samples)
	}
	var (
		wg      sync.WaitGroup
		ipCount atomic.Uint64
		all     = make([]stats, c.clients)
	)
	// The clients arrive over the ramp (within the warm-up), as users do,
	// rather than all logging in at the same instant: 64 argon2id
	// verifications at once queue for tens of seconds on a 2-core machine
	// (4 at a time per node, users.Options.MaxConcurrent), which measures
	// a thundering herd, not the mix.
	for i := range c.clients {
		cli := newClient(i, target, urls, c.accessTTL, &ipCount)
		delay := c.ramp * time.Duration(i) / time.Duration(c.clients)
		wg.Go(func() {
			defer cli.http.CloseIdleConnections()
			select {
			case <-time.After(delay):
			case <-runCtx.Done():
				return
			}
			cli.run(runCtx, c.maxRequests, start.Add(c.warmup), &all[i])
		})
	}
	wg.Wait()
	measured := time.Since(start.Add(c.warmup))
	r := &result{target: target, measured: measured}
	for s := range samples {
		r.samples = append(r.samples, s)
	}
	for i := range all {
		for k := range nKinds {
			r.stats.lat[k] = append(r.stats.lat[k], all[i].lat[k]...)
			r.stats.failures[k] += all[i].failures[k]
		}
		for s, n := range all[i].status {
			if r.stats.status == nil {
				r.stats.status = map[string]int{}
			}
			r.stats.status[s] += n
		}
		if r.stats.firstErr == nil {
			r.stats.firstErr = all[i].firstErr
		}
	}
	if c.sample > 0 {
		logouts := len(r.stats.lat[logout]) + r.stats.failures[logout]
		r.verdicts = flatness(r.samples, c.warmup, load{clients: c.clients, logoutRate: float64(logouts) / measured.Seconds()})
	}
	stopped = true
	if err := cl.stop(); err != nil {
		return nil, fmt.Errorf("stopping: %w", err)
	}
	r.logLines, r.access = cl.logLines()
	return r, nil
}

// report prints a target's table and, in a soak, its samples and verdicts.
// It returns false when a request failed or a series was not flat.
func report(out io.Writer, r *result) bool {
	ok := true
	fmt.Fprintf(out, "## %s: %v measured\n\n", r.target, r.measured.Round(time.Second))
	fmt.Fprintln(out, "| kind | requests | share | req/s | p50 | p99 | failed |")
	fmt.Fprintln(out, "|---|--:|--:|--:|--:|--:|--:|")
	total, failed := 0, 0
	for k := range nKinds {
		total += len(r.stats.lat[k])
		failed += r.stats.failures[k]
	}
	for k := range nKinds {
		lat := r.stats.lat[k]
		slices.Sort(lat)
		fmt.Fprintf(out, "| %s | %d | %.1f %% | %.0f | %s | %s | %d |\n", k, len(lat), 100*float64(len(lat))/float64(max(total, 1)),
			float64(len(lat))/r.measured.Seconds(), ms(pct(lat, 50)), ms(pct(lat, 99)), r.stats.failures[k])
	}
	fmt.Fprintf(out, "| all | %d | | %.0f | | | %d |\n\n", total, float64(total)/r.measured.Seconds(), failed)
	if r.logLines > 0 {
		fmt.Fprintf(out, "log lines: %d (access log lines: %d)\n\n", r.logLines, r.access)
	}
	if failed > 0 {
		ok = false
		fmt.Fprintf(out, "FAILED requests by kind and status: %v; first: %v\n\n", r.stats.status, r.stats.firstErr)
	}
	if len(r.samples) > 0 {
		fmt.Fprintln(out, "samples (t, then every series):")
		seen := map[string]bool{}
		var names []string
		for _, s := range r.samples {
			for k := range s.values {
				if !seen[k] {
					seen[k] = true
					names = append(names, k)
				}
			}
		}
		slices.Sort(names)
		fmt.Fprintf(out, "t\t%s\n", strings.Join(names, "\t"))
		for _, s := range r.samples {
			fmt.Fprintf(out, "%v", s.at)
			for _, n := range names {
				if v, ok := s.values[n]; ok {
					fmt.Fprintf(out, "\t%s", human(n, v))
				} else {
					fmt.Fprint(out, "\t-")
				}
			}
			fmt.Fprintln(out)
		}
		fmt.Fprintln(out)
		fmt.Fprintln(out, "| series | samples | compared | first half | second half | min | max | allowed change | flat |")
		fmt.Fprintln(out, "|---|--:|---|--:|--:|--:|--:|--:|---|")
		for _, v := range r.verdicts {
			what, allowed := "median", "±"+human(v.name, v.allowed)
			if v.byMin {
				what, allowed = "lowest", "+"+human(v.name, v.allowed)
			}
			fmt.Fprintf(out, "| %s | %d | %s | %s | %s | %s | %s | %s | %s |\n", v.name, v.samples, what, human(v.name, v.first), human(v.name, v.second),
				human(v.name, v.min), human(v.name, v.max), allowed, yes(v.flat))
			if !v.flat {
				ok = false
			}
		}
		if len(r.verdicts) == 0 {
			ok = false
			fmt.Fprintln(out, "no samples after the warm-up")
		}
		fmt.Fprintln(out)
	}
	return ok
}

// compare prints sesame's figures as multiples of scs's.
func compare(out io.Writer, rs []*result) {
	fmt.Fprintln(out, "| kind | "+strings.Join(names(rs), " req/s | ")+" req/s |")
	fmt.Fprintln(out, "|---|"+strings.Repeat("--:|", len(rs)))
	for k := range nKinds {
		fmt.Fprintf(out, "| %s |", k)
		for _, r := range rs {
			fmt.Fprintf(out, " %.0f |", float64(len(r.stats.lat[k]))/r.measured.Seconds())
		}
		fmt.Fprintln(out)
	}
	fmt.Fprintln(out)
}

func names(rs []*result) []string {
	var out []string
	for _, r := range rs {
		out = append(out, r.target)
	}
	return out
}

func pct(sorted []time.Duration, p int) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := (len(sorted)*p + 99) / 100
	return sorted[min(max(i-1, 0), len(sorted)-1)]
}

func ms(d time.Duration) string { return fmt.Sprintf("%.2f ms", float64(d)/float64(time.Millisecond)) }

func yes(b bool) string {
	if b {
		return "yes"
	}
	return "**NO**"
}
