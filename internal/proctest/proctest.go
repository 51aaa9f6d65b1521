// Package proctest runs the server processes of sesame's test harnesses
// (redis-server in redistest, dynalite in dynalitetest): started, polled
// until they answer, paused with SIGSTOP and continued with SIGCONT, killed
// with SIGKILL, and never left behind.
package proctest

import (
	"context"
	"errors"
	"fmt"
	"os/exec"
	"sync"
	"syscall"
	"time"
)

// Proc is one running process. Its methods may be called from any
// goroutine.
type Proc struct {
	mu   sync.Mutex
	cmd  *exec.Cmd // nil once killed
	done chan struct{}
}

// Start starts cmd. On Linux the kernel kills the process if the test
// binary dies without running its cleanups.
func Start(cmd *exec.Cmd) (*Proc, error) {
	cmd.SysProcAttr = sysProcAttr()
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	p := &Proc{cmd: cmd, done: make(chan struct{})}
	go func() { _ = cmd.Wait(); close(p.done) }()
	return p, nil
}

// WaitReady calls ready (each call bounded to one second) every interval
// until it returns nil. If the process exits first, or ready has not
// succeeded within timeout, WaitReady returns an error holding ready's last
// one, and the process is gone as after [Proc.Kill] (Pid returns 0).
func (p *Proc) WaitReady(timeout, interval time.Duration, ready func(context.Context) error) error {
	deadline := time.Now().Add(timeout)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		err := ready(ctx)
		cancel()
		if err == nil {
			return nil
		}
		select {
		case <-p.done:
			p.Kill() // reaped already; marks it killed
			return errors.New("the process exited during start")
		default:
		}
		if time.Now().After(deadline) {
			p.Kill()
			return fmt.Errorf("no answer within %v: %w", timeout, err)
		}
		time.Sleep(interval) // polling a starting process, not test timing
	}
}

// Pid returns the process id, or 0 once the process has been killed.
func (p *Proc) Pid() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cmd == nil {
		return 0
	}
	return p.cmd.Process.Pid
}

// Signal sends sig to the running process: SIGSTOP freezes it (connections
// stay open but nothing answers, as a hung or partitioned server looks to
// a client), SIGCONT lets it go on.
func (p *Proc) Signal(sig syscall.Signal) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cmd == nil {
		return errors.New("the process was killed")
	}
	return p.cmd.Process.Signal(sig)
}

// Kill stops the process with SIGKILL, paused or not, and waits until it
// has exited. Kill on a killed process does nothing.
func (p *Proc) Kill() {
	p.mu.Lock()
	cmd := p.cmd
	p.cmd = nil
	p.mu.Unlock()
	if cmd == nil {
		return
	}
	_ = cmd.Process.Signal(syscall.SIGKILL)
	<-p.done
}
