package redistest

import (
	"strings"
	"testing"
)

// TestStartRefusesAStrangerOnItsPort: a server restarted on a port another
// server took meanwhile must not count as started because the stranger
// answers.
func TestStartRefusesAStrangerOnItsPort(t *testing.T) {
	t.Parallel()
	a := Start(t, nil)
	a.Kill()
	stranger := newServer(t, nil)
	stranger.port = a.port
	if err := stranger.start(); err != nil {
		t.Fatalf("the stranger did not start on %s: %v", a.Addr(), err)
	}
	err := a.start()
	if err == nil {
		t.Fatalf("start succeeded on %s, which process %d holds", a.Addr(), stranger.Pid())
	}
	if !strings.Contains(err.Error(), "exited during start") {
		t.Fatalf("start failed with %v, want the new process's exit (its bind failed)", err)
	}
	if a.Pid() != 0 {
		t.Fatalf("after a failed start, Pid = %d, want 0", a.Pid())
	}
	if err := answeredBy(t.Context(), a.Client(), stranger.Pid()); err != nil {
		t.Fatalf("the stranger no longer answers on its port: %v", err)
	}
}
