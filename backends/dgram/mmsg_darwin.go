package dgram

import (
	"unsafe"

	"golang.org/x/sys/unix"
)

// Datagrams move in batches with the private recvmsg_x and sendmsg_x
// system calls (480 and 481, in xnu since OS X 10.10; x/sys has the numbers
// but no wrappers), which is what vmnet-helper and libkrun use on the other
// end of these sockets. The logic lives in msghdrx.go, tested on Linux;
// this file has only the system calls.

// msghdr_x is struct msghdr followed by size_t msg_datalen. These
// compile-time checks hold the portable mirror to x/sys's struct msghdr:
// the same leading fields at the same offsets (recvmsg and sendmsg are
// given a *msghdrX), msg_datalen right after them as a size_t (the type of
// iov_len), and 8 bytes more in all.
var (
	_ [0]struct{} = [unsafe.Sizeof(msghdrX{}) - unsafe.Sizeof(unix.Msghdr{}) - 8]struct{}{}
	_ [0]struct{} = [unsafe.Offsetof(msghdrX{}.Datalen) - unsafe.Sizeof(unix.Msghdr{})]struct{}{}
	_ [0]struct{} = [unsafe.Sizeof(msghdrX{}.Datalen) - unsafe.Sizeof(unix.Iovec{}.Len)]struct{}{}
	_ [0]struct{} = [unsafe.Offsetof(msghdrX{}.Namelen) - unsafe.Offsetof(unix.Msghdr{}.Namelen)]struct{}{}
	_ [0]struct{} = [unsafe.Offsetof(msghdrX{}.Iov) - unsafe.Offsetof(unix.Msghdr{}.Iov)]struct{}{}
	_ [0]struct{} = [unsafe.Offsetof(msghdrX{}.Iovlen) - unsafe.Offsetof(unix.Msghdr{}.Iovlen)]struct{}{}
	_ [0]struct{} = [unsafe.Offsetof(msghdrX{}.Control) - unsafe.Offsetof(unix.Msghdr{}.Control)]struct{}{}
	_ [0]struct{} = [unsafe.Offsetof(msghdrX{}.Controllen) - unsafe.Offsetof(unix.Msghdr{}.Controllen)]struct{}{}
	_ [0]struct{} = [unsafe.Offsetof(msghdrX{}.Flags) - unsafe.Offsetof(unix.Msghdr{}.Flags)]struct{}{}
)

// recvScratch holds a socket's recvmsg_x headers, allocated once.
type recvScratch struct{ x msgxScratch }

func (s *recvScratch) init(n int) { s.x.initRecv(n) }

// sendScratch holds a sender's sendmsg_x headers, allocated once.
type sendScratch struct{ x msgxScratch }

func newSendScratch(n int) *sendScratch {
	s := &sendScratch{}
	s.x.initSend(n)
	return s
}

// recvBatch reads up to len(bufs) datagrams, with one recvmsg_x call
// where the kernel allows it.
func recvBatch(fd int, s *recvScratch, bufs [][]byte, sizes []int, from []addr) (int, error) {
	return s.x.recv(darwinCalls{}, fd, bufs, sizes, from)
}

// sendBatch writes bufs, with one sendmsg_x call where the kernel allows
// it, to to or, when to is nil, to the connected peer. It returns how many
// were sent; the error is that of the first datagram not sent.
func sendBatch(fd int, s *sendScratch, bufs [][]byte, to *addr) (int, error) {
	return s.x.send(darwinCalls{}, fd, bufs, to)
}

// darwinCalls makes the engine's system calls.
type darwinCalls struct{}

func (darwinCalls) recvmsgX(fd int, hdrs []msghdrX, flags int) (int, error) {
	r, _, errno := unix.Syscall6(unix.SYS_RECVMSG_X, uintptr(fd), uintptr(unsafe.Pointer(unsafe.SliceData(hdrs))), uintptr(len(hdrs)), uintptr(flags), 0, 0)
	if errno != 0 {
		return 0, errno
	}
	return int(r), nil
}

func (darwinCalls) sendmsgX(fd int, hdrs []msghdrX, flags int) (int, error) {
	r, _, errno := unix.Syscall6(unix.SYS_SENDMSG_X, uintptr(fd), uintptr(unsafe.Pointer(unsafe.SliceData(hdrs))), uintptr(len(hdrs)), uintptr(flags), 0, 0)
	if errno != 0 {
		return 0, errno
	}
	return int(r), nil
}

func (darwinCalls) recvmsg(fd int, h *msghdrX, flags int) (int, error) {
	r, _, errno := unix.Syscall(unix.SYS_RECVMSG, uintptr(fd), uintptr(unsafe.Pointer(h)), uintptr(flags))
	if errno != 0 {
		return 0, errno
	}
	return int(r), nil
}

func (darwinCalls) sendmsg(fd int, h *msghdrX, flags int) (int, error) {
	r, _, errno := unix.Syscall(unix.SYS_SENDMSG, uintptr(fd), uintptr(unsafe.Pointer(h)), uintptr(flags))
	if errno != 0 {
		return 0, errno
	}
	return int(r), nil
}

// setAddrLen fills in the BSD sun_len field.
func setAddrLen(a *addr) { a.raw.Len = uint8(a.len) }
