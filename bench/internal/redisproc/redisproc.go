// Package redisproc starts a throwaway redis-server on a free loopback port
// for the benchmarks and their tests, and stops it. It never touches a Redis
// it did not start (in particular not the shared one on 127.0.0.1:6379).
package redisproc

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/sesame-go/sesame/internal/freeport"
)

// Server is a running redis-server. Stop ends it.
type Server struct {
	Addr string // 127.0.0.1:port
	cmd  *exec.Cmd
	out  *bytes.Buffer
	done chan error
	stop sync.Once
}

// Start runs redis-server (found on PATH) without persistence on a free
// loopback port and returns once it answers PING, or an error within
// timeout. A port taken between choosing it and binding it is retried.
func Start(timeout time.Duration) (*Server, error) {
	path, err := exec.LookPath("redis-server")
	if err != nil {
		return nil, fmt.Errorf("redisproc: redis-server not found (apt-get install redis-server): %w", err)
	}
	var s *Server
	_, err = freeport.Start(func(port int) (err error) {
		s, err = start(path, port, timeout)
		return err
	})
	return s, err
}

func start(path string, port int, timeout time.Duration) (*Server, error) {
	s := &Server{Addr: net.JoinHostPort("127.0.0.1", strconv.Itoa(port)), out: new(bytes.Buffer), done: make(chan error, 1)}
	s.cmd = exec.Command(path, "--port", strconv.Itoa(port), "--bind", "127.0.0.1",
		"--save", "", "--appendonly", "no", "--protected-mode", "yes")
	s.cmd.Stdout, s.cmd.Stderr = s.out, s.out
	setParentDeath(s.cmd)
	if err := s.cmd.Start(); err != nil {
		return nil, fmt.Errorf("redisproc: %w", err)
	}
	go func() { s.done <- s.cmd.Wait() }()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for {
		if ping(s.Addr) == nil {
			return s, nil
		}
		select {
		case err := <-s.done:
			return nil, fmt.Errorf("redisproc: redis-server exited (%v): %s", err, strings.TrimSpace(s.out.String()))
		case <-ctx.Done():
			s.Stop()
			return nil, errors.New("redisproc: redis-server did not answer PING in time")
		case <-tick.C:
		}
	}
}

// ping sends PING over a raw connection and expects +PONG.
func ping(addr string) error {
	c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond)
	if err != nil {
		return err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(500 * time.Millisecond))
	if _, err := c.Write([]byte("PING\r\n")); err != nil {
		return err
	}
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		return err
	}
	if strings.TrimSpace(line) != "+PONG" {
		return fmt.Errorf("redisproc: PING answered %q", line)
	}
	return nil
}

// Stop kills the server and waits for it to exit. It is safe to call twice.
func (s *Server) Stop() {
	if s == nil || s.cmd.Process == nil {
		return
	}
	s.stop.Do(func() {
		s.cmd.Process.Kill()
		select {
		case <-s.done:
		case <-time.After(5 * time.Second):
		}
	})
}
