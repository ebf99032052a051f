// Package mmsg wraps Linux's recvmmsg and sendmmsg, which move a batch of
// datagrams or frames per system call. golang.org/x/sys/unix has neither
// the wrappers nor struct mmsghdr.
package mmsg

import (
	"unsafe"

	"golang.org/x/sys/unix"
)

// Hdr is struct mmsghdr: a msghdr and the byte count the kernel fills in.
type Hdr struct {
	Msg unix.Msghdr
	Len uint32
	_   [4]byte
}

// Recv calls recvmmsg(fd, hdrs, len(hdrs), flags, NULL) and returns how
// many messages it filled.
func Recv(fd int, hdrs []Hdr, flags int) (int, error) {
	if len(hdrs) == 0 {
		return 0, nil
	}
	r, _, errno := unix.Syscall6(unix.SYS_RECVMMSG, uintptr(fd), uintptr(unsafe.Pointer(&hdrs[0])), uintptr(len(hdrs)), uintptr(flags), 0, 0)
	if errno != 0 {
		return 0, errno
	}
	return int(r), nil
}

// Send calls sendmmsg(fd, hdrs, len(hdrs), flags) and returns how many
// messages were sent; the error is that of the first message not sent.
func Send(fd int, hdrs []Hdr, flags int) (int, error) {
	if len(hdrs) == 0 {
		return 0, nil
	}
	r, _, errno := unix.Syscall6(unix.SYS_SENDMMSG, uintptr(fd), uintptr(unsafe.Pointer(&hdrs[0])), uintptr(len(hdrs)), uintptr(flags), 0, 0)
	if errno != 0 {
		return 0, errno
	}
	return int(r), nil
}
