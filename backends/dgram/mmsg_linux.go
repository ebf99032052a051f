package dgram

import (
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/l2fabric/l2fabric/internal/mmsg"
)

// recvScratch holds the recvmmsg vectors, allocated once per socket.
type recvScratch struct {
	hdrs []mmsg.Hdr
	iovs []unix.Iovec
}

func (s *recvScratch) init(n int) {
	s.hdrs = make([]mmsg.Hdr, n)
	s.iovs = make([]unix.Iovec, n)
}

// sendScratch holds the sendmmsg vectors, allocated once per sender.
type sendScratch struct {
	hdrs []mmsg.Hdr
	iovs []unix.Iovec
}

func newSendScratch(n int) *sendScratch {
	return &sendScratch{hdrs: make([]mmsg.Hdr, n), iovs: make([]unix.Iovec, n)}
}

// recvBatch reads up to len(bufs) datagrams with one recvmmsg call.
func recvBatch(fd int, s *recvScratch, bufs [][]byte, sizes []int, from []addr) (int, error) {
	n := min(len(bufs), len(s.hdrs))
	for i := 0; i < n; i++ {
		s.iovs[i].Base = unsafe.SliceData(bufs[i])
		s.iovs[i].SetLen(len(bufs[i]))
		h := &s.hdrs[i].Msg
		*h = unix.Msghdr{Iov: &s.iovs[i], Iovlen: 1}
		if from != nil {
			h.Name = (*byte)(unsafe.Pointer(&from[i].raw))
			h.Namelen = uint32(unsafe.Sizeof(from[i].raw))
		}
	}
	got, err := mmsg.Recv(fd, s.hdrs[:n], unix.MSG_DONTWAIT)
	if err != nil {
		return 0, err
	}
	for i := 0; i < got; i++ {
		sizes[i] = int(s.hdrs[i].Len)
		if s.hdrs[i].Msg.Flags&unix.MSG_TRUNC != 0 {
			sizes[i] = len(bufs[i]) + 1
		}
		if from != nil {
			from[i].len = s.hdrs[i].Msg.Namelen
		}
	}
	return got, nil
}

// sendBatch writes bufs with one sendmmsg call, to to or, when to is nil,
// to the connected peer. It returns how many were sent; the error is that
// of the first datagram not sent.
func sendBatch(fd int, s *sendScratch, bufs [][]byte, to *addr) (int, error) {
	n := min(len(bufs), len(s.hdrs))
	for i := 0; i < n; i++ {
		s.iovs[i].Base = unsafe.SliceData(bufs[i])
		s.iovs[i].SetLen(len(bufs[i]))
		h := &s.hdrs[i].Msg
		*h = unix.Msghdr{Iov: &s.iovs[i], Iovlen: 1}
		if to != nil {
			h.Name = (*byte)(unsafe.Pointer(&to.raw))
			h.Namelen = to.len
		}
	}
	return mmsg.Send(fd, s.hdrs[:n], unix.MSG_DONTWAIT)
}

// setAddrLen completes an address built by makeAddr (Linux has no length
// field in the address itself).
func setAddrLen(*addr) {}
