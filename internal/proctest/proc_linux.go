package proctest

import "syscall"

// sysProcAttr makes the kernel kill the process if the test binary dies
// without running its cleanups, so no process is left behind.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
