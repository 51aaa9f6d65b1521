// Package dynalitetest starts real dynalite processes (a DynamoDB
// implementation on LevelDB, run by Node.js) for tests.
//
// dynalite is pinned in node/package.json and node/package-lock.json beside
// this file; `npm ci` in that folder installs it (.ci/run does). Every server
// listens on a free loopback port, keeps its data in memory and is killed by
// t.Cleanup, so a test never touches a database it did not start and leaves
// no process behind.
//
// When node is not on PATH or dynalite is not installed, [Start] skips the
// test with an install hint, except under CI=true, where either is a failure.
//
// dynalite answers the DynamoDB API that sesame uses (conditional writes,
// queries, batch reads, scans), but not TransactWriteItems, Streams or
// UpdateTimeToLive, and it never deletes items by TTL.
package dynalitetest

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/sesame-go/sesame/internal/freeport"
	"github.com/sesame-go/sesame/internal/proctest"
)

// Region is the region every client of the harness signs for; dynalite
// accepts any.
const Region = "us-east-1"

// Server is one dynalite process owned by a test. Its methods may be called
// from any goroutine of the test.
type Server struct {
	t    testing.TB
	node string
	cli  string
	port int
	// tableMs is dynalite's --createTableMs/--deleteTableMs/--updateTableMs.
	tableMs int

	mu   sync.Mutex
	proc *proctest.Proc // nil when not running
	out  *lockedBuffer
}

// Paths returns the node binary and dynalite's cli.js, or fails/skips t as
// described in the package documentation.
func Paths(t testing.TB) (node, cli string) {
	t.Helper()
	fail := func(msg string) {
		if os.Getenv("CI") == "true" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	node, err := exec.LookPath("node")
	if err != nil {
		fail("dynalitetest: node not found on PATH; install Node.js 20 or later (Debian/Ubuntu: apt-get install nodejs npm)")
		return "", ""
	}
	cli = filepath.Join(NodeDir(), "node_modules", "dynalite", "cli.js")
	if _, err := os.Stat(cli); err != nil {
		fail("dynalitetest: dynalite is not installed; run `npm ci` in " + NodeDir())
		return "", ""
	}
	return node, cli
}

// NodeDir returns the folder holding package.json and the installed
// node_modules.
func NodeDir() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "node")
}

// Start starts dynalite and registers its cleanup. Its tables change state
// at once: CreateTable, DeleteTable and UpdateTable leave no CREATING,
// DELETING or UPDATING phase a test could observe (dynalite's default keeps
// one for 500ms).
func Start(t testing.TB) *Server {
	t.Helper()
	return StartSlowTables(t, 0)
}

// StartSlowTables is Start with tables that stay CREATING, DELETING or
// UPDATING for d after each change, as on AWS, for tests of code that must
// wait those phases out.
func StartSlowTables(t testing.TB, d time.Duration) *Server {
	t.Helper()
	node, cli := Paths(t)
	s := &Server{t: t, node: node, cli: cli, tableMs: int(d.Milliseconds())}
	t.Cleanup(s.Kill)
	if _, err := freeport.Start(func(port int) error { s.port = port; return s.start() }); err != nil {
		t.Fatalf("dynalitetest: start dynalite: %v\n%s", err, s.output())
	}
	return s
}

func (s *Server) start() error {
	ms := strconv.Itoa(s.tableMs)
	cmd := exec.Command(s.node, s.cli, "--host", "127.0.0.1", "--port", strconv.Itoa(s.port),
		"--createTableMs", ms, "--deleteTableMs", ms, "--updateTableMs", ms)
	out := &lockedBuffer{}
	cmd.Stdout, cmd.Stderr = out, out
	p, err := proctest.Start(cmd)
	if err != nil {
		return err
	}
	s.mu.Lock()
	s.proc, s.out = p, out
	s.mu.Unlock()
	c := s.Client(func(o *dynamodb.Options) { o.RetryMaxAttempts = 1 })
	err = p.WaitReady(15*time.Second, 20*time.Millisecond, func(ctx context.Context) error {
		_, err := c.ListTables(ctx, &dynamodb.ListTablesInput{})
		return err
	})
	if err != nil {
		return fmt.Errorf("dynalite: %w", err)
	}
	return nil
}

// Endpoint returns the server's URL, http://127.0.0.1:PORT.
func (s *Server) Endpoint() string {
	return "http://" + net.JoinHostPort("127.0.0.1", strconv.Itoa(s.port))
}

// Client returns a DynamoDB client for the server with static test
// credentials. Each opts function edits the client's options.
func (s *Server) Client(opts ...func(*dynamodb.Options)) *dynamodb.Client {
	return dynamodb.New(dynamodb.Options{
		Region:       Region,
		BaseEndpoint: aws.String(s.Endpoint()),
		Credentials:  credentials.NewStaticCredentialsProvider("test", "test", ""),
		HTTPClient:   &http.Client{Timeout: 10 * time.Second},
	}, opts...)
}

// Kill stops the server with SIGKILL and waits for it to exit; its data is
// gone. Kill on a stopped server does nothing.
func (s *Server) Kill() {
	s.mu.Lock()
	p := s.proc
	s.proc = nil
	s.mu.Unlock()
	if p != nil {
		p.Kill()
	}
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
		s.t.Fatalf("dynalitetest: signal %v: server is not running", sig)
	}
	if err := p.Signal(sig); err != nil {
		s.t.Fatalf("dynalitetest: signal %v: %v", sig, err)
	}
}

func (s *Server) output() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.out == nil {
		return ""
	}
	return strings.TrimSpace(s.out.String())
}

type lockedBuffer struct {
	mu sync.Mutex
	b  []byte
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if len(b.b) < 1<<16 {
		b.b = append(b.b, p...)
	}
	return len(p), nil
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return string(b.b)
}
