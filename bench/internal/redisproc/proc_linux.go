package redisproc

import (
	"os/exec"
	"syscall"
)

// setParentDeath makes the kernel kill redis-server if this process dies
// without calling Stop (a panicking test, a killed benchmark).
func setParentDeath(c *exec.Cmd) {
	c.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
