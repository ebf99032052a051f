//go:build linux

package main

import (
	"errors"
	"fmt"
	"os"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/l2fabric/l2fabric/internal/mmsg"
	"github.com/l2fabric/l2fabric/internal/sockbuf"
)

// batch is the number of datagrams moved per sendmmsg/recvmmsg call, as
// l2fabric's dgram backend and libkrun do.
const batch = 64

// Socket buffers as vfkit sets them (and l2fabric's dgram backend).
const (
	sendBuffer = 1 << 20
	recvBuffer = 4 << 20
)

// pollTimeout bounds every blocking send and receive, so that loops can
// notice they were asked to stop.
const pollTimeout = 100 * time.Millisecond

// sockaddr is a unix socket address in the kernel's layout.
type sockaddr struct {
	raw unix.RawSockaddrUnix
	len uint32
}

func makeSockaddr(path string) (*sockaddr, error) {
	var a sockaddr
	if len(path) >= len(a.raw.Path) {
		return nil, fmt.Errorf("socket path %q is too long (%d bytes)", path, len(path))
	}
	a.raw.Family = unix.AF_UNIX
	for i := 0; i < len(path); i++ {
		a.raw.Path[i] = int8(path[i])
	}
	a.len = uint32(unsafe.Offsetof(a.raw.Path)) + uint32(len(path)) + 1
	return &a, nil
}

// endpoint is one traffic endpoint: a unixgram socket of its own, bound to
// a path, as a VM's (qemu, vfkit, a VDE plug) is, or one end of a
// socketpair (Virtualization.framework, vmnet-helper). It is blocking: sends
// wait for room in the receiver's queue (the kernel's back-pressure), and
// receives wait for a datagram; both give up after pollTimeout.
type endpoint struct {
	name string
	fd   int
	path string
	to   *sockaddr // nil: the socket is connected
	mac  [6]byte
	st   *streamConn // stream-style endpoints (stream.go): framing state

	shdrs []mmsg.Hdr
	siovs []unix.Iovec
	rhdrs []mmsg.Hdr
	riovs []unix.Iovec
}

func newEndpoint(name, path string, mac [6]byte) (*endpoint, error) {
	fd, err := unix.Socket(unix.AF_UNIX, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("socket: %w", err)
	}
	setBuffers(fd)
	tv := unix.NsecToTimeval(pollTimeout.Nanoseconds())
	unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &tv)
	unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_SNDTIMEO, &tv)
	os.Remove(path)
	if err := unix.Bind(fd, &unix.SockaddrUnix{Name: path}); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("binding %s: %w", path, err)
	}
	return &endpoint{
		name: name, fd: fd, path: path, mac: mac,
		shdrs: make([]mmsg.Hdr, batch), siovs: make([]unix.Iovec, batch),
		rhdrs: make([]mmsg.Hdr, batch), riovs: make([]unix.Iovec, batch),
	}, nil
}

// newPairEndpoint makes an endpoint on one end of a SOCK_DGRAM socketpair
// and returns the other end for the switch, as Virtualization.framework
// and vmnet-helper hand a VM's network to a switch: both ends connected to
// each other, so neither direction is held to the receiver's queue limit
// (net.unix.max_dgram_qlen), only to the socket buffers.
func newPairEndpoint(name string, mac [6]byte) (*endpoint, *os.File, error) {
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, nil, fmt.Errorf("socketpair: %w", err)
	}
	setBuffers(fds[0])
	setBuffers(fds[1])
	tv := unix.NsecToTimeval(pollTimeout.Nanoseconds())
	unix.SetsockoptTimeval(fds[0], unix.SOL_SOCKET, unix.SO_RCVTIMEO, &tv)
	unix.SetsockoptTimeval(fds[0], unix.SOL_SOCKET, unix.SO_SNDTIMEO, &tv)
	return &endpoint{
		name: name, fd: fds[0], mac: mac,
		shdrs: make([]mmsg.Hdr, batch), siovs: make([]unix.Iovec, batch),
		rhdrs: make([]mmsg.Hdr, batch), riovs: make([]unix.Iovec, batch),
	}, os.NewFile(uintptr(fds[1]), name+"-switch-end"), nil
}

// setBuffers sizes a socket's buffers as l2fabric's dgram backend does.
func setBuffers(fd int) { sockbuf.Set(fd, sendBuffer, recvBuffer) }

// sendTo makes the endpoint send every datagram to path with sendto
// semantics, as qemu's -netdev dgram does (its socket is not connected).
func (e *endpoint) sendTo(path string) error {
	a, err := makeSockaddr(path)
	if err != nil {
		return err
	}
	e.to = a
	return nil
}

// connect connects the endpoint to path, as vfkit and libvdeplug do.
func (e *endpoint) connect(path string) error {
	if err := unix.Connect(e.fd, &unix.SockaddrUnix{Name: path}); err != nil {
		return fmt.Errorf("%s: connecting to %s: %w", e.name, path, err)
	}
	e.to = nil
	return nil
}

// send writes bufs as datagrams with one sendmmsg call and returns how
// many went. It blocks while the receiver's queue is full, up to
// pollTimeout (then unix.EAGAIN).
func (e *endpoint) send(bufs [][]byte) (int, error) {
	if e.st != nil {
		return e.st.send(e.fd, bufs)
	}
	n := min(len(bufs), batch)
	for i := 0; i < n; i++ {
		e.siovs[i].Base = unsafe.SliceData(bufs[i])
		e.siovs[i].SetLen(len(bufs[i]))
		h := &e.shdrs[i].Msg
		*h = unix.Msghdr{Iov: &e.siovs[i]}
		h.SetIovlen(1)
		if e.to != nil {
			h.Name = (*byte)(unsafe.Pointer(&e.to.raw))
			h.Namelen = e.to.len
		}
	}
	return mmsg.Send(e.fd, e.shdrs[:n], 0)
}

// sendAll sends every datagram of bufs, retrying while the receiver is
// full, until deadline.
func (e *endpoint) sendAll(bufs [][]byte, deadline time.Time) error {
	for len(bufs) > 0 {
		n, err := e.send(bufs)
		if err != nil {
			if errors.Is(err, unix.EAGAIN) && time.Now().Before(deadline) {
				continue
			}
			return fmt.Errorf("%s: sending: %w", e.name, err)
		}
		bufs = bufs[n:]
	}
	return nil
}

// recv reads up to len(bufs) datagrams with one recvmmsg call, storing
// their lengths in sizes. It blocks until one arrives, up to pollTimeout
// (then unix.EAGAIN).
func (e *endpoint) recv(bufs [][]byte, sizes []int) (int, error) {
	if e.st != nil {
		return e.st.recv(e.fd, bufs, sizes)
	}
	n := min(len(bufs), batch)
	for i := 0; i < n; i++ {
		e.riovs[i].Base = unsafe.SliceData(bufs[i])
		e.riovs[i].SetLen(len(bufs[i]))
		h := &e.rhdrs[i].Msg
		*h = unix.Msghdr{Iov: &e.riovs[i]}
		h.SetIovlen(1)
	}
	r, err := mmsg.Recv(e.fd, e.rhdrs[:n], unix.MSG_WAITFORONE)
	for i := 0; i < r; i++ {
		sizes[i] = int(e.rhdrs[i].Len)
	}
	return r, err
}

// drain discards whatever is queued on the endpoint without waiting.
func (e *endpoint) drain() {
	if e.st != nil {
		e.st.drain(e.fd)
		return
	}
	buf := make([]byte, 65536)
	for {
		if _, _, err := unix.Recvfrom(e.fd, buf, unix.MSG_DONTWAIT); err != nil {
			return
		}
	}
}

func (e *endpoint) close() {
	unix.Close(e.fd)
	if e.path != "" {
		os.Remove(e.path)
	}
}

// frame builds an Ethernet frame of size bytes from src to dst with the
// local experimental EtherType 0x88b5.
func frame(dst, src [6]byte, size int) []byte {
	f := make([]byte, size)
	copy(f[0:6], dst[:])
	copy(f[6:12], src[:])
	f[12], f[13] = 0x88, 0xb5
	return f
}

// stationMAC returns the locally administered unicast MAC of station i.
func stationMAC(i int) [6]byte { return [6]byte{0x02, 0x00, 0x00, 0xbe, byte(i >> 8), byte(i)} }

var broadcast = [6]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}
