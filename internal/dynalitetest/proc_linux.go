package dynalitetest

import "syscall"

// sysProcAttr makes the kernel kill dynalite if the test binary dies
// without running its cleanups, so no process is left behind.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
