//go:build !linux

package integration

import "syscall"

// daemonSysProcAttr returns nil: only Linux can signal a child when its
// parent dies.
func daemonSysProcAttr() *syscall.SysProcAttr { return nil }
