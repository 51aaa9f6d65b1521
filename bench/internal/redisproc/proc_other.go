//go:build !linux

package redisproc

import "os/exec"

func setParentDeath(*exec.Cmd) {}
