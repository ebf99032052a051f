package sockbuf

import "golang.org/x/sys/unix"

// set sets opt: macOS has no FORCE variants (kern.ipc.maxsockbuf caps
// every process alike).
func set(fd, opt, size int) { _ = unix.SetsockoptInt(fd, unix.SOL_SOCKET, opt, size) }
