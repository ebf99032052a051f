//go:build !linux

package vxlan

import (
	"errors"
	"fmt"
	"net/netip"
	"os"
	"sync/atomic"
	"syscall"

	"golang.org/x/sys/unix"

	"github.com/l2fabric/l2fabric/internal/sockbuf"
)

// Outside Linux (macOS) there is neither recvmmsg/sendmmsg nor UDP
// segmentation offload: datagrams move one per system call, as many per
// batch as are ready.

// sockaddr is a remote's socket address, built once per remote.
type sockaddr = unix.Sockaddr

func newSockaddr(ap netip.AddrPort) sockaddr {
	if ap.Addr().Is4() {
		return &unix.SockaddrInet4{Port: int(ap.Port()), Addr: ap.Addr().As4()}
	}
	return &unix.SockaddrInet6{Port: int(ap.Port()), Addr: ap.Addr().As16()}
}

// udpSocket is one non-blocking UDP socket registered with Go's poller.
type udpSocket struct {
	f    *os.File
	rc   syscall.RawConn
	port uint16
	gso  atomic.Bool // never set here
	gro  bool        // never set here
}

// sockOptions are the per-socket settings of the underlay.
type sockOptions struct {
	ttl int
	df  bool
	rx  bool
}

const socketBuffer = 4 << 20

func openUDP(local netip.AddrPort, so sockOptions) (*udpSocket, error) {
	fam := unix.AF_INET
	if local.Addr().Is6() {
		fam = unix.AF_INET6
	}
	fd, err := unix.Socket(fam, unix.SOCK_DGRAM, unix.IPPROTO_UDP)
	if err != nil {
		return nil, fmt.Errorf("udp socket: %w", err)
	}
	fail := func(what string, err error) (*udpSocket, error) {
		unix.Close(fd)
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	unix.CloseOnExec(fd)
	if err := unix.SetNonblock(fd, true); err != nil {
		return fail("non-blocking", err)
	}
	dontFrag := 0
	if so.df {
		dontFrag = 1
	}
	if fam == unix.AF_INET6 {
		if err := unix.SetsockoptInt(fd, unix.IPPROTO_IPV6, unix.IPV6_V6ONLY, 1); err != nil {
			return fail("IPV6_V6ONLY", err)
		}
		if so.ttl > 0 {
			if err := unix.SetsockoptInt(fd, unix.IPPROTO_IPV6, unix.IPV6_UNICAST_HOPS, so.ttl); err != nil {
				return fail("IPV6_UNICAST_HOPS", err)
			}
		}
		if err := unix.SetsockoptInt(fd, unix.IPPROTO_IPV6, unix.IPV6_DONTFRAG, dontFrag); err != nil {
			return fail("IPV6_DONTFRAG", err)
		}
	} else {
		if so.ttl > 0 {
			if err := unix.SetsockoptInt(fd, unix.IPPROTO_IP, unix.IP_TTL, so.ttl); err != nil {
				return fail("IP_TTL", err)
			}
		}
		if err := unix.SetsockoptInt(fd, unix.IPPROTO_IP, unix.IP_DONTFRAG, dontFrag); err != nil {
			return fail("IP_DONTFRAG", err)
		}
	}
	if err := unix.Bind(fd, newSockaddr(local)); err != nil {
		return fail("binding "+local.String(), err)
	}
	if so.rx {
		sockbuf.Set(fd, socketBuffer, socketBuffer)
	} else {
		sockbuf.Set(fd, socketBuffer, 0)
	}
	s := &udpSocket{}
	if bound, err := unix.Getsockname(fd); err == nil {
		switch b := bound.(type) {
		case *unix.SockaddrInet4:
			s.port = uint16(b.Port)
		case *unix.SockaddrInet6:
			s.port = uint16(b.Port)
		}
	}
	s.f = os.NewFile(uintptr(fd), "udp "+local.String())
	if s.rc, err = s.f.SyscallConn(); err != nil {
		s.f.Close()
		return nil, err
	}
	return s, nil
}

func (s *udpSocket) close() error { return s.f.Close() }

// receiver is a socket reader's scratch.
type receiver struct{ rxBatch }

func newReceiver(n, bufLen int) *receiver { return &receiver{newRxBatch(n, bufLen)} }

// recv reads the datagrams that are ready, up to a batch, blocking until
// at least one arrives.
func (s *udpSocket) recv(r *receiver) (int, error) {
	n := 0
	var err error
	rerr := s.rc.Read(func(fd uintptr) bool {
		for n < len(r.bufs) {
			size, oobn, flags, from, e := unix.Recvmsg(int(fd), r.bufs[n], nil, unix.MSG_DONTWAIT)
			_ = oobn
			if e != nil {
				if !errors.Is(e, unix.EAGAIN) {
					err = e
				}
				break
			}
			r.sizes[n] = size
			if flags&unix.MSG_TRUNC != 0 {
				r.sizes[n] = len(r.bufs[n]) + 1
			}
			r.from[n] = netip.Addr{}
			switch a := from.(type) {
			case *unix.SockaddrInet4:
				r.from[n] = netip.AddrFrom4(a.Addr)
			case *unix.SockaddrInet6:
				r.from[n] = netip.AddrFrom16(a.Addr).Unmap()
			}
			r.seg[n] = 0
			n++
		}
		return n > 0 || err != nil
	})
	if n > 0 {
		return n, nil
	}
	if rerr != nil {
		return 0, rerr
	}
	return 0, err
}

// sender is a port writer's scratch, and the function the poller calls,
// made once so that sending allocates nothing but what the system call
// wrapper does.
type sender struct {
	iov [2][]byte
	to  sockaddr
	err error
	try func(fd uintptr) bool
}

func newSender() *sender {
	x := &sender{}
	x.try = func(fd uintptr) bool {
		_, x.err = unix.SendmsgBuffers(int(fd), x.iov[:], nil, x.to, 0)
		return !errors.Is(x.err, unix.EAGAIN)
	}
	return x
}

// send sends msgs (single datagrams: there is no GSO here) one by one,
// and returns how many were sent; err is that of msgs[n].
func (s *udpSocket) send(x *sender, plan *txPlan, msgs []txMsg) (int, error) {
	for i, m := range msgs {
		for _, e := range plan.ents[m.first : m.first+m.count] {
			x.iov[0], x.iov[1], x.to = e.hdr[:], e.frame, m.to.sa
			werr := s.rc.Write(x.try)
			x.iov[0], x.iov[1], x.to = nil, nil, nil
			if werr != nil {
				return i, werr
			}
			if x.err != nil {
				return i, x.err
			}
		}
	}
	return len(msgs), nil
}

// gsoBroken: there is no GSO here to break.
func gsoBroken(error) bool { return false }

// gsoRejected: there is no GSO here to reject.
func gsoRejected(error) bool { return false }

// haveGSO and haveGRO say what this platform can do at all.
const (
	haveGSO = false
	haveGRO = false
)
