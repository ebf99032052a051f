package stream

import "golang.org/x/sys/unix"

// setBuffer sets a socket buffer size, with the FORCE variant first so
// that root is not capped by net.core.[rw]mem_max.
func setBuffer(fd, opt, size int) {
	force := unix.SO_SNDBUFFORCE
	if opt == unix.SO_RCVBUF {
		force = unix.SO_RCVBUFFORCE
	}
	if unix.SetsockoptInt(fd, unix.SOL_SOCKET, force, size) == nil {
		return
	}
	_ = unix.SetsockoptInt(fd, unix.SOL_SOCKET, opt, size)
}

// peerPID returns the process ID of the connection's peer, or -1.
func peerPID(fd int) int {
	cred, err := unix.GetsockoptUcred(fd, unix.SOL_SOCKET, unix.SO_PEERCRED)
	if err != nil {
		return -1
	}
	return int(cred.Pid)
}
