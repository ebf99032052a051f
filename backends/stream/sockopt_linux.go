package stream

import "golang.org/x/sys/unix"

// peerPID returns the process ID of the connection's peer, or -1.
func peerPID(fd int) int {
	cred, err := unix.GetsockoptUcred(fd, unix.SOL_SOCKET, unix.SO_PEERCRED)
	if err != nil {
		return -1
	}
	return int(cred.Pid)
}
