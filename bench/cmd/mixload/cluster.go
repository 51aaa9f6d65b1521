package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/sesame-go/sesame/internal/freeport"
	"github.com/sesame-go/sesame/users"
)

// password is every load user's password.
const password = "mixload-password-1"

// writeUsers writes a users file of n users, user0 … user(n-1), with
// argon2id at p (the zero Params: the defaults, what `sessionctl users add`
// uses).
// They share one hash (same password, same salt): verifying it costs what
// verifying n different hashes would, and the file takes one hash to make.
func writeUsers(path string, n int, p users.Params) error {
	u, err := users.NewUser("user0", password, p, time.Now())
	if err != nil {
		return err
	}
	return users.Edit(path, func(f *users.File) error {
		for i := range n {
			v := u
			v.Name = fmt.Sprintf("user%d", i)
			if err := f.Put(v, true); err != nil {
				return err
			}
		}
		return nil
	})
}

// node is one server process of the cluster under load.
type node struct {
	name string
	url  string
	cmd  *exec.Cmd
	log  *os.File // its stderr
	done chan error
	once sync.Once
}

// startNode runs bin with args (and --addr on a free port), env added to a
// clean environment, stderr to dir/name.log, and waits until ready answers
// 200 (sessiond's /readyz; the peers' /auth/session answers 401 when up).
func startNode(name, dir, bin string, env []string, ready string, readyStatus int, args ...string) (*node, error) {
	var n *node
	_, err := freeport.Start(func(port int) (err error) {
		n, err = tryNode(name, dir, bin, env, port, ready, readyStatus, args...)
		return err
	})
	return n, err
}

func tryNode(name, dir, bin string, env []string, port int, ready string, readyStatus int, args ...string) (*node, error) {
	logf, err := os.Create(filepath.Join(dir, name+".log"))
	if err != nil {
		return nil, err
	}
	n := &node{name: name, url: fmt.Sprintf("http://127.0.0.1:%d", port), log: logf, done: make(chan error, 1)}
	n.cmd = exec.Command(bin, append(args, "--addr", fmt.Sprintf("127.0.0.1:%d", port))...)
	n.cmd.Dir = dir
	n.cmd.Env = append([]string{"PATH=" + os.Getenv("PATH"), "HOME=" + dir}, env...)
	n.cmd.Stderr = logf
	n.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := n.cmd.Start(); err != nil {
		logf.Close()
		return nil, err
	}
	go func() { n.done <- n.cmd.Wait() }()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case err := <-n.done:
			logf.Close()
			b, _ := os.ReadFile(logf.Name())
			return nil, fmt.Errorf("%s exited: %v\n%s", name, err, tail(b))
		case <-time.After(50 * time.Millisecond):
		}
		resp, err := http.Get(n.url + ready)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == readyStatus {
				return n, nil
			}
		}
	}
	n.stop()
	return nil, fmt.Errorf("%s not ready within 30s", name)
}

// stop sends SIGTERM and waits for the process (SIGKILL after 20s).
func (n *node) stop() error {
	var err error
	n.once.Do(func() {
		n.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case err = <-n.done:
		case <-time.After(20 * time.Second):
			n.cmd.Process.Kill()
			err = <-n.done
		}
		n.log.Close()
	})
	return err
}

func tail(b []byte) string {
	if len(b) > 4000 {
		b = b[len(b)-4000:]
	}
	return string(b)
}

// cluster is the servers under load: two (or -nodes) sessiond nodes, or
// two scs servers (bench/cmd/peers), on one redis-server.
type cluster struct {
	nodes []*node
	dir   string
}

func (c *cluster) stop() error {
	var errs []error
	for _, n := range c.nodes {
		if err := n.stop(); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", n.name, err))
		}
	}
	return errors.Join(errs...)
}

// startSesame starts n sessiond nodes as a fleet: one Redis for revocation
// state and the keyset, a master key from the environment, the users file,
// and 127.0.0.1 as a trusted proxy so that each client's X-Forwarded-For
// is its address (per-IP login throttling then sees many users, as in
// production, not one).
func startSesame(ctx context.Context, bin, dir, redisAddr, usersFile string, nodes int, extra []string) (*cluster, error) {
	mk := make([]byte, 32)
	rand.Read(mk)
	env := []string{"SESAME_MASTER_KEY=" + base64.StdEncoding.EncodeToString(mk)}
	url := "redis://" + redisAddr + "/0"
	args := append([]string{"--redis", url, "--keyset", url, "--users", usersFile, "--trusted-proxies", "127.0.0.1"}, extra...)
	c := &cluster{dir: dir}
	for i := range nodes {
		// One after the other: the first creates the keyset.
		n, err := startNode(fmt.Sprintf("sessiond-%d", i+1), dir, bin, env, "/readyz", http.StatusOK, args...)
		if err != nil {
			c.stop()
			return nil, err
		}
		c.nodes = append(c.nodes, n)
	}
	return c, nil
}

// startSCS starts n scs servers (bench/cmd/peers -server scs) on one Redis.
func startSCS(bin, dir, redisAddr, usersFile string, nodes int) (*cluster, error) {
	c := &cluster{dir: dir}
	for i := range nodes {
		n, err := startNode(fmt.Sprintf("scs-%d", i+1), dir, bin, nil, "/auth/session", http.StatusUnauthorized,
			"-server", "scs", "-redis", redisAddr, "-users", usersFile)
		if err != nil {
			c.stop()
			return nil, err
		}
		c.nodes = append(c.nodes, n)
	}
	return c, nil
}

// logLines counts the lines of every node's log and the access log lines
// among them.
func (c *cluster) logLines() (lines, access int) {
	for _, n := range c.nodes {
		b, _ := os.ReadFile(n.log.Name())
		lines += bytes.Count(b, []byte("\n"))
		access += strings.Count(string(b), `"msg":"request"`)
	}
	return lines, access
}
