//go:build !linux

package dynalitetest

import "syscall"

func sysProcAttr() *syscall.SysProcAttr { return nil }
