package stream

import "golang.org/x/sys/unix"

// peerPID returns the process ID of the connection's peer, or -1.
func peerPID(fd int) int {
	pid, err := unix.GetsockoptInt(fd, unix.SOL_LOCAL, unix.LOCAL_PEERPID)
	if err != nil {
		return -1
	}
	return pid
}
