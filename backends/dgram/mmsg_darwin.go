package dgram

import (
	"unsafe"

	"golang.org/x/sys/unix"
)

// recvScratch is unused on darwin until the sendmsg_x/recvmsg_x batching
// lands; datagrams move one per system call.
type recvScratch struct{}

func (s *recvScratch) init(int) {}

// sendScratch is the darwin sender's scratch space.
type sendScratch struct{}

func newSendScratch(int) *sendScratch { return &sendScratch{} }

// recvBatch reads datagrams one recvfrom at a time until the socket is
// empty or bufs is full.
func recvBatch(fd int, _ *recvScratch, bufs [][]byte, sizes []int, from []addr) (int, error) {
	for i := range bufs {
		var name *byte
		var namelen uint32
		if from != nil {
			name = (*byte)(unsafe.Pointer(&from[i].raw))
			namelen = uint32(unsafe.Sizeof(from[i].raw))
		}
		iov := unix.Iovec{Base: unsafe.SliceData(bufs[i])}
		iov.SetLen(len(bufs[i]))
		h := unix.Msghdr{Name: name, Namelen: namelen, Iov: &iov, Iovlen: 1}
		r, _, errno := unix.Syscall(unix.SYS_RECVMSG, uintptr(fd), uintptr(unsafe.Pointer(&h)), unix.MSG_DONTWAIT)
		if errno != 0 {
			if i > 0 && errno == unix.EAGAIN {
				return i, nil
			}
			return i, errno
		}
		sizes[i] = int(r)
		if h.Flags&unix.MSG_TRUNC != 0 {
			sizes[i] = len(bufs[i]) + 1
		}
		if from != nil {
			from[i].len = h.Namelen
		}
	}
	return len(bufs), nil
}

// sendBatch writes bufs one sendmsg at a time.
func sendBatch(fd int, _ *sendScratch, bufs [][]byte, to *addr) (int, error) {
	for i, b := range bufs {
		iov := unix.Iovec{Base: unsafe.SliceData(b)}
		iov.SetLen(len(b))
		h := unix.Msghdr{Iov: &iov, Iovlen: 1}
		if to != nil {
			h.Name = (*byte)(unsafe.Pointer(&to.raw))
			h.Namelen = to.len
		}
		if _, _, errno := unix.Syscall(unix.SYS_SENDMSG, uintptr(fd), uintptr(unsafe.Pointer(&h)), 0); errno != 0 {
			return i, errno
		}
	}
	return len(bufs), nil
}

func setBuffer(fd, opt, size int) { _ = unix.SetsockoptInt(fd, unix.SOL_SOCKET, opt, size) }

// setAddrLen fills in the BSD sun_len field.
func setAddrLen(a *addr) { a.raw.Len = uint8(a.len) }
