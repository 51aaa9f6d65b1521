package sesametest

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// StartProcess runs the program name with args in dir, with env added to
// the test's environment and its output in dir/logName.log, until t ends:
// the cleanup stops it (SIGTERM) and waits for it, and when t failed logs
// the last 30 lines of its log. It dies with the test binary.
func StartProcess(t testing.TB, dir, logName, name string, env []string, args ...string) {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env...)
	log, err := os.Create(filepath.Join(dir, logName+".log"))
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout, cmd.Stderr = log, log
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		_ = cmd.Wait()
		log.Close()
		if t.Failed() {
			b, _ := os.ReadFile(log.Name())
			lines := strings.Split(strings.TrimSpace(string(b)), "\n")
			t.Logf("%s log, last lines:\n%s", logName, strings.Join(lines[max(0, len(lines)-30):], "\n"))
		}
	})
}
