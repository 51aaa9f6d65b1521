package proctest

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// state returns the process state letter of pid from /proc (Linux only):
// "S" sleeping, "T" stopped.
func state(t *testing.T, pid int) string {
	t.Helper()
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		t.Fatal(err)
	}
	// pid (comm) state ...: comm may hold spaces, so cut after its ')'.
	_, rest, _ := strings.Cut(string(b), ") ")
	return rest[:1]
}

func TestPauseResumeKill(t *testing.T) {
	p, err := Start(exec.Command("sleep", "60"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Kill)
	pid := p.Pid()
	if pid == 0 {
		t.Fatal("Pid = 0 for a running process")
	}
	if err := p.WaitReady(time.Second, time.Millisecond, func(context.Context) error { return nil }); err != nil {
		t.Fatalf("WaitReady with a ready process: %v", err)
	}
	if runtime.GOOS == "linux" {
		if err := p.Signal(syscall.SIGSTOP); err != nil {
			t.Fatal(err)
		}
		waitState(t, pid, "T")
		if err := p.Signal(syscall.SIGCONT); err != nil {
			t.Fatal(err)
		}
		waitState(t, pid, "S")
		if err := p.Signal(syscall.SIGSTOP); err != nil { // Kill must work on a paused process too
			t.Fatal(err)
		}
		waitState(t, pid, "T")
	}
	p.Kill()
	select {
	case <-p.done:
	default:
		t.Fatal("Kill returned before the process was waited for")
	}
	if p.Pid() != 0 {
		t.Errorf("Pid = %d after Kill, want 0", p.Pid())
	}
	if err := p.Signal(syscall.SIGCONT); err == nil {
		t.Error("Signal after Kill: no error")
	}
	p.Kill() // a second Kill does nothing
}

// waitState polls until pid is in state st: the kernel applies a signal
// asynchronously.
func waitState(t *testing.T, pid int, st string) {
	t.Helper()
	for range 500 {
		if state(t, pid) == st {
			return
		}
		time.Sleep(2 * time.Millisecond) // polling the kernel, not test timing
	}
	t.Fatalf("process %d never reached state %s (now %s)", pid, st, state(t, pid))
}

func TestWaitReadyExited(t *testing.T) {
	p, err := Start(exec.Command("true"))
	if err != nil {
		t.Fatal(err)
	}
	err = p.WaitReady(10*time.Second, time.Millisecond, func(context.Context) error { return errors.New("not yet") })
	if err == nil || !strings.Contains(err.Error(), "exited during start") {
		t.Fatalf("WaitReady on an exited process: %v, want an exit error", err)
	}
	if p.Pid() != 0 {
		t.Errorf("Pid = %d after the process exited during start, want 0", p.Pid())
	}
}

func TestWaitReadyTimeout(t *testing.T) {
	p, err := Start(exec.Command("sleep", "60"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Kill)
	notYet := errors.New("not yet")
	err = p.WaitReady(20*time.Millisecond, time.Millisecond, func(context.Context) error { return notYet })
	if !errors.Is(err, notYet) {
		t.Fatalf("WaitReady past its timeout: %v, want it to wrap ready's error", err)
	}
	if p.Pid() != 0 {
		t.Error("WaitReady left the process running after its timeout")
	}
}
