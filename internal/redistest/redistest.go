// Package redistest starts real redis-server processes for tests.
//
// Every server listens on a free loopback port, keeps its files in a
// temporary directory, takes its whole configuration on the command line and
// is killed by t.Cleanup, so a test never touches a Redis it did not start and
// leaves no process behind. Persistence is off unless asked for.
//
// When redis-server is not on PATH, [Start] skips the test with an install
// hint, except under CI=true, where a missing server is a failure.
//
// Topologies are built from the same [Server] processes, one per node:
// [StartCluster] (3 masters with one replica each, or more) and
// [StartSentinel] (a primary, a replica or more, and 3 Sentinels), each with
// helpers to kill a master and wait for the failover. Two replicas per
// master is the shape for WAIT 1: after a failover one replica is left to
// confirm writes.
package redistest

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/sesame-go/sesame/internal/freeport"
	"github.com/sesame-go/sesame/internal/proctest"
)

// Options configures one redis-server. A nil or zero Options means defaults.
type Options struct {
	// Persistence turns on the append-only file with appendfsync always, so
	// that a write acknowledged before [Server.Kill] survives [Server.Restart].
	// The default is no persistence at all (--save "" --appendonly no).
	Persistence bool
	// Args are extra command-line configuration arguments, appended after
	// the harness's own (for example "--maxmemory", "64mb").
	Args []string
	// StartTimeout bounds how long Start and Restart wait for PING to
	// answer. Zero means 10s.
	StartTimeout time.Duration
	// Config, when not empty, is written once to redis.conf in the data
	// directory and passed as the configuration file, before the command-line
	// arguments. Sentinel needs this: it rewrites its file as it learns the
	// topology. Restart keeps the (possibly rewritten) file.
	Config string
}

// Server is one redis-server process owned by a test. Its methods may be
// called from any goroutine of the test.
type Server struct {
	t    testing.TB
	bin  string
	opts Options
	dir  string
	port int

	mu      sync.Mutex
	proc    *proctest.Proc // nil when not running
	clients []*redis.Client
	logPath string
}

// Binary returns the redis-server path, or fails/skips t as described in the
// package documentation.
func Binary(t testing.TB) string {
	t.Helper()
	bin, err := exec.LookPath("redis-server")
	if err == nil {
		return bin
	}
	msg := "redistest: redis-server not found on PATH; install it (Debian/Ubuntu: apt-get install redis-server; macOS: brew install redis)"
	if os.Getenv("CI") == "true" {
		t.Fatal(msg)
	}
	t.Skip(msg)
	return ""
}

// Start starts a standalone redis-server and registers its cleanup.
func Start(t testing.TB, opts *Options) *Server {
	t.Helper()
	s := newServer(t, opts)
	if _, err := freeport.Start(func(port int) error { s.port = port; return s.start() }); err != nil {
		t.Fatalf("redistest: start redis-server: %v\n%s", err, s.logTail())
	}
	return s
}

// newServer prepares a server in a directory of its own, with its cleanup
// registered; it has no port yet and does not run.
func newServer(t testing.TB, opts *Options) *Server {
	t.Helper()
	s := &Server{t: t, bin: Binary(t), dir: t.TempDir()}
	if opts != nil {
		s.opts = *opts
	}
	if s.opts.StartTimeout <= 0 {
		s.opts.StartTimeout = 10 * time.Second
	}
	s.logPath = filepath.Join(s.dir, "redis.log")
	t.Cleanup(s.cleanup)
	if s.opts.Config != "" {
		if err := os.WriteFile(s.confPath(), []byte(s.opts.Config), 0o600); err != nil {
			t.Fatalf("redistest: %v", err)
		}
	}
	return s
}

func (s *Server) confPath() string { return filepath.Join(s.dir, "redis.conf") }

func (s *Server) args() []string {
	var a []string
	if s.opts.Config != "" {
		a = append(a, s.confPath())
	}
	a = append(a,
		"--port", strconv.Itoa(s.port),
		"--bind", "127.0.0.1",
		"--dir", s.dir,
		"--daemonize", "no",
		"--logfile", s.logPath,
		"--save", "",
		"--protected-mode", "yes",
	)
	if s.opts.Persistence {
		a = append(a, "--appendonly", "yes", "--appendfsync", "always")
	} else {
		a = append(a, "--appendonly", "no")
	}
	return append(a, s.opts.Args...)
}

// start runs the process and waits for PING; the caller owns no lock.
func (s *Server) start() error {
	cmd := exec.Command(s.bin, s.args()...)
	cmd.Dir = s.dir
	p, err := proctest.Start(cmd)
	if err != nil {
		return err
	}
	s.mu.Lock()
	s.proc = p
	s.mu.Unlock()
	c := redis.NewClient(&redis.Options{Addr: s.Addr(), MaxRetries: -1, DialTimeout: time.Second})
	defer c.Close()
	ready := func(ctx context.Context) error { return answeredBy(ctx, c, p.Pid()) }
	if err := p.WaitReady(s.opts.StartTimeout, 10*time.Millisecond, ready); err != nil {
		return fmt.Errorf("redis-server: %w", err)
	}
	return nil
}

// answeredBy returns nil when the server c reaches is the process pid. A
// plain PING is not enough: between a server's death and its restart on the
// same port, another test's server can take the port, and then the new
// process fails to bind while the PING succeeds against a stranger — every
// later command of the test goes to someone else's data set.
func answeredBy(ctx context.Context, c *redis.Client, pid int) error {
	info, err := c.Info(ctx, "server").Result()
	if err != nil {
		return err
	}
	for line := range strings.Lines(info) {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), "process_id:"); ok {
			if v == strconv.Itoa(pid) {
				return nil
			}
			return fmt.Errorf("%s is answered by process %s, not by the redis-server just started (%d)", c.Options().Addr, v, pid)
		}
	}
	return fmt.Errorf("%s: INFO server has no process_id", c.Options().Addr)
}

// Addr returns host:port of the server. It stays the same across Restart.
func (s *Server) Addr() string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(s.port)) }

// Pid returns the process id of the running server, or 0 when it is not
// running (killed and not restarted).
func (s *Server) Pid() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.proc == nil {
		return 0
	}
	return s.proc.Pid()
}

// Port returns the server's TCP port.
func (s *Server) Port() int { return s.port }

// Dir returns the server's data directory.
func (s *Server) Dir() string { return s.dir }

// Client returns a new go-redis client for the server, closed at cleanup.
// opts may be nil; its Addr is always replaced by the server's.
func (s *Server) Client(opts ...*redis.Options) *redis.Client {
	o := &redis.Options{}
	if len(opts) > 0 && opts[0] != nil {
		c := *opts[0]
		o = &c
	}
	o.Addr = s.Addr()
	c := redis.NewClient(o)
	s.mu.Lock()
	s.clients = append(s.clients, c)
	s.mu.Unlock()
	return c
}

// Kill stops the server with SIGKILL and waits for it to exit. A paused
// server is killed too. Kill on a stopped server does nothing.
func (s *Server) Kill() {
	s.mu.Lock()
	p := s.proc
	s.proc = nil
	s.mu.Unlock()
	if p != nil {
		p.Kill()
	}
}

// Restart kills the server if it runs and starts it again on the same port
// with the same data directory, so with [Options.Persistence] the data is back.
func (s *Server) Restart() {
	s.t.Helper()
	s.Kill()
	var err error
	for range 50 { // the old socket may linger briefly in the kernel
		if err = s.start(); err == nil {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	s.t.Fatalf("redistest: restart redis-server: %v\n%s", err, s.logTail())
}

// Pause freezes the server with SIGSTOP: connections stay open but nothing
// answers, which is how a hung or partitioned server looks to a client.
func (s *Server) Pause() { s.signal(syscall.SIGSTOP) }

// Resume continues a paused server with SIGCONT.
func (s *Server) Resume() { s.signal(syscall.SIGCONT) }

func (s *Server) signal(sig syscall.Signal) {
	s.mu.Lock()
	p := s.proc
	s.mu.Unlock()
	if p == nil {
		s.t.Fatalf("redistest: signal %v: server is not running", sig)
	}
	if err := p.Signal(sig); err != nil {
		s.t.Fatalf("redistest: signal %v: %v", sig, err)
	}
}

func (s *Server) cleanup() {
	s.mu.Lock()
	clients := s.clients
	s.clients = nil
	s.mu.Unlock()
	for _, c := range clients {
		_ = c.Close()
	}
	s.Kill()
}

func (s *Server) logTail() string {
	b, err := os.ReadFile(s.logPath)
	if err != nil {
		return ""
	}
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	if len(lines) > 20 {
		lines = lines[len(lines)-20:]
	}
	return strings.Join(lines, "\n")
}

// poll calls cond until it returns nil or ctx ends; then it returns the
// last error from a call that had time to finish.
func poll(ctx context.Context, cond func(context.Context) error) error {
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	var last error
	for {
		err := cond(ctx)
		if err == nil {
			return nil
		}
		if ctx.Err() == nil || last == nil {
			last = err
		}
		select {
		case <-ctx.Done():
			return last
		case <-tick.C:
		}
	}
}

// running returns the servers whose process runs.
func running(servers []*Server) []*Server {
	var out []*Server
	for _, n := range servers {
		if n.Pid() != 0 {
			out = append(out, n)
		}
	}
	return out
}
