//go:build linux || darwin

package dgram

import (
	"errors"
	"unsafe"

	"golang.org/x/sys/unix"
)

// This file is the darwin batching engine (recvmsg_x/sendmsg_x). It builds
// on Linux too so that everything but the four system calls is unit-tested
// there against a fake kernel; mmsg_darwin.go supplies the real calls.

// msghdrX mirrors xnu's struct msghdr_x on 64-bit darwin (bsd/sys/socket.h,
// private): a struct msghdr (48 bytes) followed by size_t msg_datalen, 56
// bytes in all. Integer fields and padding are fixed-size; the pointers
// stay Go pointers so that the garbage collector, escape analysis and
// checkptr see them, which makes the layout 64-bit only (as darwin is).
// mmsg_darwin.go checks at compile time that the leading fields sit where
// unix.Msghdr's do, so a *msghdrX can also be given to recvmsg/sendmsg.
type msghdrX struct {
	Name       *byte       // msg_name: optional address
	Namelen    uint32      // msg_namelen: size of address
	_          [4]byte     // padding
	Iov        *unix.Iovec // msg_iov: scatter/gather array
	Iovlen     int32       // msg_iovlen: elements in msg_iov
	_          [4]byte     // padding
	Control    *byte       // msg_control: ancillary data (unused here)
	Controllen uint32      // msg_controllen
	Flags      int32       // msg_flags: flags on a received message
	Datalen    uint64      // msg_datalen: recvmsg_x's length of each datagram
}

// maxMsgX is the most messages passed per recvmsg_x/sendmsg_x call: the
// default of kern.ipc.maxrecvmsgx and kern.ipc.maxsendmsgx. The kernel
// clips larger counts itself (and refuses more than UIO_MAXIOV, 1024), so
// this only keeps a call from promising more than it can deliver.
const maxMsgX = 256

// msgxCalls are the system calls the engine makes: raw syscalls in
// mmsg_darwin.go, a fake kernel in the tests. Each returns the kernel's
// result or its errno.
type msgxCalls interface {
	// recvmsgX is recvmsg_x(fd, hdrs, len(hdrs), flags): the number of
	// messages received, each length in its Datalen.
	recvmsgX(fd int, hdrs []msghdrX, flags int) (int, error)
	// sendmsgX is sendmsg_x(fd, hdrs, len(hdrs), flags): the number of
	// messages sent.
	sendmsgX(fd int, hdrs []msghdrX, flags int) (int, error)
	// recvmsg is recvmsg(2) on h's leading struct msghdr: the datagram's
	// length.
	recvmsg(fd int, h *msghdrX, flags int) (int, error)
	// sendmsg is sendmsg(2) on h's leading struct msghdr.
	sendmsg(fd int, h *msghdrX, flags int) (int, error)
}

// msgxScratch holds one socket direction's message headers and iovecs,
// allocated once, and whether the batched calls have been found missing.
//
// A received datagram is scattered over two iovecs: the caller's buffer,
// then a one-byte spill. recvmsg_x does not report MSG_TRUNC in a
// message's msg_flags (xnu 10002 and later record it only call-wide), so a
// datagram that overflows the buffer would otherwise look exactly like one
// that fills it; with the spill, a msg_datalen beyond the buffer means
// "too long" whichever kernel is running.
type msgxScratch struct {
	hdrs  []msghdrX
	iovs  []unix.Iovec
	spill []byte
	// single is set once recvmsg_x or sendmsg_x has failed as
	// unsupported (ENOSYS, EINVAL, ENOTSUP, EOPNOTSUPP) while the plain
	// call worked: from then on this scratch moves one datagram per call.
	single bool
}

// initRecv sizes s for receiving up to n datagrams per call.
func (s *msgxScratch) initRecv(n int) {
	s.hdrs = make([]msghdrX, n)
	s.iovs = make([]unix.Iovec, 2*n)
	s.spill = make([]byte, 1)
}

// initSend sizes s for sending up to n datagrams per call.
func (s *msgxScratch) initSend(n int) {
	s.hdrs = make([]msghdrX, n)
	s.iovs = make([]unix.Iovec, n)
}

// batchUnsupported reports whether err from recvmsg_x/sendmsg_x means the
// batched call itself is not usable, as opposed to a socket error the
// one-datagram calls would report too.
func batchUnsupported(err error) bool {
	return errors.Is(err, unix.ENOSYS) || errors.Is(err, unix.EINVAL) ||
		errors.Is(err, unix.ENOTSUP) || errors.Is(err, unix.EOPNOTSUPP)
}

// prepRecv points header i at bufs[i] (and the spill) and, when from is
// not nil, at from[i] for the sender's address. Every field is rewritten:
// the kernel updates msg_namelen, msg_flags and msg_datalen, and the older
// recvmsg_x refuses a non-zero msg_flags on input.
func (s *msgxScratch) prepRecv(i int, buf []byte, from []addr) {
	iov := s.iovs[2*i : 2*i+2]
	iov[0].Base = unsafe.SliceData(buf)
	iov[0].SetLen(len(buf))
	iov[1].Base = unsafe.SliceData(s.spill)
	iov[1].SetLen(len(s.spill))
	h := &s.hdrs[i]
	*h = msghdrX{Iov: &iov[0], Iovlen: 2}
	if from != nil {
		h.Name = (*byte)(unsafe.Pointer(&from[i].raw))
		h.Namelen = uint32(unsafe.Sizeof(from[i].raw))
	}
}

// finishRecv stores header i's results: the datagram's size, or
// len(buf)+1 if it did not fit, and the sender's address length.
func (s *msgxScratch) finishRecv(i int, buf []byte, sizes []int, from []addr) {
	h := &s.hdrs[i]
	size := int(h.Datalen)
	if size > len(buf) || h.Flags&unix.MSG_TRUNC != 0 {
		size = len(buf) + 1
	}
	sizes[i] = size
	if from != nil {
		from[i].len = h.Namelen
	}
}

// recv reads up to len(bufs) datagrams without blocking, with one
// recvmsg_x call unless the scratch has fallen back to one recvmsg per
// datagram. It returns EAGAIN when there is nothing to read.
func (s *msgxScratch) recv(sys msgxCalls, fd int, bufs [][]byte, sizes []int, from []addr) (int, error) {
	n := min(len(bufs), len(s.hdrs), maxMsgX)
	if n == 0 {
		return 0, nil
	}
	if s.single {
		return s.recvSingle(sys, fd, n, bufs, sizes, from, nil)
	}
	for i := 0; i < n; i++ {
		s.prepRecv(i, bufs[i], from)
	}
	got, err := sys.recvmsgX(fd, s.hdrs[:n], unix.MSG_DONTWAIT)
	if err != nil {
		if batchUnsupported(err) {
			return s.recvSingle(sys, fd, n, bufs, sizes, from, err)
		}
		return 0, err
	}
	if got <= 0 {
		// recvmsg_x returns 0 without an error only when the socket can
		// receive no more. Report "nothing to read" so that the caller
		// waits in the poller rather than spinning on empty batches.
		return 0, unix.EAGAIN
	}
	got = min(got, n)
	for i := 0; i < got; i++ {
		s.finishRecv(i, bufs[i], sizes, from)
	}
	return got, nil
}

// recvSingle reads up to n datagrams one recvmsg call each. batchErr is
// the error recvmsg_x failed with, if it did: the fallback is remembered
// unless recvmsg fails with that same error (then the arguments, not the
// batched call, are at fault).
func (s *msgxScratch) recvSingle(sys msgxCalls, fd, n int, bufs [][]byte, sizes []int, from []addr, batchErr error) (int, error) {
	for i := 0; i < n; i++ {
		s.prepRecv(i, bufs[i], from)
		r, err := sys.recvmsg(fd, &s.hdrs[i], unix.MSG_DONTWAIT)
		if err != nil {
			if i == 0 {
				s.noteFallback(batchErr, err)
				return 0, err
			}
			// Hand over what was read; a lasting error recurs on the
			// next call.
			return i, nil
		}
		s.hdrs[i].Datalen = uint64(r)
		s.finishRecv(i, bufs[i], sizes, from)
		if i == 0 {
			s.noteFallback(batchErr, nil)
		}
	}
	return n, nil
}

// noteFallback latches the one-datagram mode after a batched call failed
// with batchErr, unless the plain call then failed the same way.
func (s *msgxScratch) noteFallback(batchErr, singleErr error) {
	if batchErr == nil {
		return
	}
	if singleErr != nil && errors.Is(singleErr, batchErr) {
		return
	}
	s.single = true
}

// prepSend points header i at buf and, when to is not nil, at the
// destination address. msg_flags and msg_datalen stay zero, as the older
// sendmsg_x requires; no ancillary data is passed.
func (s *msgxScratch) prepSend(i int, buf []byte, to *addr) {
	iov := &s.iovs[i]
	iov.Base = unsafe.SliceData(buf)
	iov.SetLen(len(buf))
	h := &s.hdrs[i]
	*h = msghdrX{Iov: iov, Iovlen: 1}
	if to != nil {
		h.Name = (*byte)(unsafe.Pointer(&to.raw))
		h.Namelen = to.len
	}
}

// send writes up to len(bufs) datagrams, to to or, when to is nil, to the
// connected peer, with one sendmsg_x call unless the scratch has fallen
// back to one sendmsg per datagram. It returns how many were sent; the
// error is that of the first datagram not sent.
//
// sendmsg_x reports a full socket (ENOBUFS, EWOULDBLOCK) after at least
// one datagram as a short count, so the caller's retry sees the error. An
// error other than those after some datagrams were sent is reported with
// a count of zero: the kernel does not say how many went out.
func (s *msgxScratch) send(sys msgxCalls, fd int, bufs [][]byte, to *addr) (int, error) {
	n := min(len(bufs), len(s.hdrs), maxMsgX)
	if n == 0 {
		return 0, nil
	}
	for i := 0; i < n; i++ {
		s.prepSend(i, bufs[i], to)
	}
	if s.single {
		return s.sendSingle(sys, fd, n, nil)
	}
	sent, err := sys.sendmsgX(fd, s.hdrs[:n], unix.MSG_DONTWAIT)
	if err != nil {
		if batchUnsupported(err) {
			return s.sendSingle(sys, fd, n, err)
		}
		return 0, err
	}
	if sent <= 0 {
		// Not expected from the kernel; report a full socket so that
		// the caller backs off until its deadline instead of looping.
		return 0, unix.ENOBUFS
	}
	return min(sent, n), nil
}

// sendSingle sends the n prepared datagrams one sendmsg call each;
// batchErr is as for recvSingle.
func (s *msgxScratch) sendSingle(sys msgxCalls, fd, n int, batchErr error) (int, error) {
	for i := 0; i < n; i++ {
		if _, err := sys.sendmsg(fd, &s.hdrs[i], unix.MSG_DONTWAIT); err != nil {
			if i == 0 {
				s.noteFallback(batchErr, err)
			}
			return i, err
		}
		if i == 0 {
			s.noteFallback(batchErr, nil)
		}
	}
	return n, nil
}
