package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/rogpeppe/go-internal/testscript"

	"github.com/sesame-go/sesame/internal/sesametest"
)

// TestMain makes this test binary sessiond when it runs under that name, as
// testscript.Main installs it on PATH: the tests run the code under test as
// go test built it (with the race detector under -race), and nothing else is
// built.
func TestMain(m *testing.M) {
	testscript.Main(m, map[string]func(){"sessiond": main})
}

// proc is one running sessiond.
type proc struct {
	t    *testing.T
	name string
	cmd  *exec.Cmd
	url  string

	mu       sync.Mutex
	logs     []map[string]any // stderr, one JSON object per line
	rawLogs  bytes.Buffer
	stdout   bytes.Buffer
	exited   chan struct{}
	exitErr  error
	readLogs sync.WaitGroup
}

// startSessiond starts sessiond in dir with a clean environment plus env,
// on a free port, and waits until it listens.
func startSessiond(t *testing.T, name, dir string, env []string, args ...string) *proc {
	t.Helper()
	p, err := launch(t, name, dir, env, args...)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// launch is startSessiond returning its error, so that several nodes can
// start from goroutines of one test.
func launch(t *testing.T, name, dir string, env []string, args ...string) (*proc, error) {
	p := &proc{t: t, name: name, exited: make(chan struct{})}
	p.cmd = exec.Command("sessiond", append([]string{"--addr", "127.0.0.1:0"}, args...)...)
	p.cmd.Dir = dir
	p.cmd.Env = append([]string{"PATH=" + os.Getenv("PATH"), "HOME=" + dir}, env...)
	stderr, err := p.cmd.StderrPipe()
	if err != nil {
		return nil, err
	}
	stdout, err := p.cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := p.cmd.Start(); err != nil {
		return nil, err
	}
	p.readLogs.Add(2)
	go func() {
		defer p.readLogs.Done()
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			var m map[string]any
			json.Unmarshal(sc.Bytes(), &m) // non-JSON lines stay in rawLogs only
			p.mu.Lock()
			p.rawLogs.Write(append(sc.Bytes(), '\n'))
			if m != nil {
				p.logs = append(p.logs, m)
			}
			p.mu.Unlock()
		}
	}()
	go func() {
		defer p.readLogs.Done()
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			p.mu.Lock()
			p.stdout.Write(append(sc.Bytes(), '\n'))
			p.mu.Unlock()
		}
	}()
	go func() {
		p.readLogs.Wait() // Wait closes the pipes: read them to the end first
		err := p.cmd.Wait()
		p.mu.Lock()
		p.exitErr = err
		p.mu.Unlock()
		close(p.exited)
	}()
	t.Cleanup(func() {
		select {
		case <-p.exited:
		default:
			p.cmd.Process.Kill()
			<-p.exited
		}
		if t.Failed() {
			t.Logf("%s stderr:\n%s", p.name, p.stderr())
		}
	})

	deadline := time.Now().Add(30 * time.Second)
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		if l := p.logLine("listening"); l != nil {
			addr, _ := l["addr"].(string)
			p.url = "http://" + addr
			return p, nil
		}
		select {
		case <-p.exited:
			return nil, fmt.Errorf("%s exited before listening: %v\n%s", name, p.exitErr, p.stderr())
		case <-tick.C:
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("%s did not listen within 30s\n%s", name, p.stderr())
		}
	}
}

func (p *proc) stderr() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.rawLogs.String()
}

// logLine returns the first log line with message msg, or nil.
func (p *proc) logLine(msg string) map[string]any {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, l := range p.logs {
		if l["msg"] == msg {
			return l
		}
	}
	return nil
}

// events returns the "event" attributes of the security events logged.
func (p *proc) events() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	var out []string
	for _, l := range p.logs {
		if e, ok := l["event"].(string); ok && l["msg"] == "security event" {
			out = append(out, e)
		}
	}
	return out
}

// demoPassword returns the demo user's password printed on stdout.
func (p *proc) demoPassword() string {
	p.t.Helper()
	var pw string
	waitFor(p.t, 5*time.Second, "the demo password on stdout", func() bool {
		p.mu.Lock()
		out := p.stdout.String()
		p.mu.Unlock()
		if _, rest, ok := strings.Cut(out, "password "); ok {
			pw, _, _ = strings.Cut(rest, " ")
			return true
		}
		return false
	})
	return pw
}

// stop sends sig and waits for the process to exit, returning its exit
// code.
func (p *proc) stop(sig syscall.Signal) int {
	p.t.Helper()
	if err := p.cmd.Process.Signal(sig); err != nil {
		p.t.Fatal(err)
	}
	select {
	case <-p.exited:
	case <-time.After(30 * time.Second):
		p.t.Fatalf("%s did not exit within 30s of %v", p.name, sig)
	}
	return p.cmd.ProcessState.ExitCode()
}

type response struct {
	status int
	header http.Header
	body   []byte
}

func (r response) json(t *testing.T) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(r.body, &m); err != nil {
		t.Fatalf("status %d, body %q: %v", r.status, r.body, err)
	}
	return m
}

// do sends a request to p. hdr holds header name/value pairs.
func (p *proc) do(method, path, body string, hdr ...string) response {
	p.t.Helper()
	req, err := http.NewRequest(method, p.url+path, strings.NewReader(body))
	if err != nil {
		p.t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		p.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		p.t.Fatal(err)
	}
	return response{resp.StatusCode, resp.Header, b}
}

// waitFor polls cond every 20ms until it holds or d passes.
func waitFor(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	sesametest.WaitFor(t, 20*time.Millisecond, d, what, cond)
}
