//go:build linux || darwin

// Package sockbuf sizes a socket's send and receive buffers, the one
// policy every backend and the benchmark share: ask for the size, and on
// Linux ask with the FORCE variants first so that root is not capped by
// net.core.[rw]mem_max. The kernel may grant less than asked; that only
// costs throughput, so failures are not reported.
package sockbuf

import "golang.org/x/sys/unix"

// Set sizes fd's send buffer to send bytes and its receive buffer to recv
// bytes. A size of 0 leaves that buffer alone.
func Set(fd, send, recv int) {
	if send > 0 {
		set(fd, unix.SO_SNDBUF, send)
	}
	if recv > 0 {
		set(fd, unix.SO_RCVBUF, recv)
	}
}
