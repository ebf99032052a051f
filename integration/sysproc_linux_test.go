package integration

import "syscall"

// daemonSysProcAttr makes a daemon get SIGTERM, and so clean up and exit,
// if the test binary dies without stopping it (a panic, a -timeout).
func daemonSysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGTERM}
}
