package stream

import "golang.org/x/sys/unix"

// setBuffer sets a socket buffer size (up to kern.ipc.maxsockbuf).
func setBuffer(fd, opt, size int) { _ = unix.SetsockoptInt(fd, unix.SOL_SOCKET, opt, size) }

// peerPID returns the process ID of the connection's peer, or -1.
func peerPID(fd int) int {
	pid, err := unix.GetsockoptInt(fd, unix.SOL_LOCAL, unix.LOCAL_PEERPID)
	if err != nil {
		return -1
	}
	return pid
}
