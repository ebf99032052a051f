package sockbuf

import "golang.org/x/sys/unix"

// set tries the FORCE variant of opt (allowed with CAP_NET_ADMIN), then
// opt itself.
func set(fd, opt, size int) {
	force := unix.SO_SNDBUFFORCE
	if opt == unix.SO_RCVBUF {
		force = unix.SO_RCVBUFFORCE
	}
	if unix.SetsockoptInt(fd, unix.SOL_SOCKET, force, size) == nil {
		return
	}
	_ = unix.SetsockoptInt(fd, unix.SOL_SOCKET, opt, size)
}
