package vxlan

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"sync/atomic"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/l2fabric/l2fabric/internal/mmsg"
	"github.com/l2fabric/l2fabric/internal/sockbuf"
)

// On Linux datagrams move in batches with recvmmsg and sendmmsg, and, where
// the kernel has them (4.18 and later), many datagrams per system call
// with UDP generic segmentation offload (UDP_SEGMENT: one buffer of
// equal-sized datagrams sent as one) and receive offload (UDP_GRO: the
// kernel coalesces a flow's datagrams into one buffer, with their size in
// a control message), as wireguard-go's conn package does.

// sockaddr is a socket address in the kernel's own layout, built once per
// remote so that sending converts nothing.
type sockaddr struct {
	raw unix.RawSockaddrInet6 // or a RawSockaddrInet4 in its first bytes
	len uint32
}

func newSockaddr(ap netip.AddrPort) sockaddr {
	var s sockaddr
	if ap.Addr().Is4() {
		sa := (*unix.RawSockaddrInet4)(unsafe.Pointer(&s.raw))
		sa.Family = unix.AF_INET
		binary.BigEndian.PutUint16((*[2]byte)(unsafe.Pointer(&sa.Port))[:], ap.Port())
		sa.Addr = ap.Addr().As4()
		s.len = unix.SizeofSockaddrInet4
		return s
	}
	s.raw.Family = unix.AF_INET6
	binary.BigEndian.PutUint16((*[2]byte)(unsafe.Pointer(&s.raw.Port))[:], ap.Port())
	s.raw.Addr = ap.Addr().As16()
	s.len = unix.SizeofSockaddrInet6
	return s
}

// addrOf reads the address out of a raw socket address the kernel filled.
func addrOf(raw *unix.RawSockaddrInet6) netip.Addr {
	switch raw.Family {
	case unix.AF_INET:
		sa := (*unix.RawSockaddrInet4)(unsafe.Pointer(raw))
		return netip.AddrFrom4(sa.Addr)
	case unix.AF_INET6:
		return netip.AddrFrom16(raw.Addr).Unmap()
	}
	return netip.Addr{}
}

// udpSocket is one non-blocking UDP socket registered with Go's poller, so
// that waiting parks a goroutine, not a thread, and Close wakes it.
type udpSocket struct {
	f    *os.File
	rc   syscall.RawConn
	port uint16 // bound port
	gso  atomic.Bool
	gro  bool
}

// sockOptions are the per-socket settings of the underlay.
type sockOptions struct {
	ttl int  // 0: system default
	df  bool // IPv4: set DF and never fragment locally
	rx  bool // the receiving socket: GRO, a large receive buffer
}

// socketBuffer is the send and receive buffer size asked for: a batch of
// GSO super-datagrams in flight.
const socketBuffer = 4 << 20

// openUDP binds a UDP socket to local.
func openUDP(local netip.AddrPort, so sockOptions) (*udpSocket, error) {
	fam := unix.AF_INET
	if local.Addr().Is6() {
		fam = unix.AF_INET6
	}
	fd, err := unix.Socket(fam, unix.SOCK_DGRAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, unix.IPPROTO_UDP)
	if err != nil {
		return nil, fmt.Errorf("udp socket: %w", err)
	}
	fail := func(what string, err error) (*udpSocket, error) {
		unix.Close(fd)
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	sa := newSockaddr(local)
	if fam == unix.AF_INET6 {
		if err := unix.SetsockoptInt(fd, unix.IPPROTO_IPV6, unix.IPV6_V6ONLY, 1); err != nil {
			return fail("IPV6_V6ONLY", err)
		}
		// Accept zero UDP checksums from peers that send them over
		// IPv6 (Linux's udp6zerocsumtx); IPv4 accepts them anyway.
		_ = unix.SetsockoptInt(fd, unix.SOL_UDP, unix.UDP_NO_CHECK6_RX, 1)
		if so.ttl > 0 {
			if err := unix.SetsockoptInt(fd, unix.IPPROTO_IPV6, unix.IPV6_UNICAST_HOPS, so.ttl); err != nil {
				return fail("IPV6_UNICAST_HOPS", err)
			}
		}
		pmtu := unix.IPV6_PMTUDISC_DONT
		if so.df {
			pmtu = unix.IPV6_PMTUDISC_PROBE
		}
		if err := unix.SetsockoptInt(fd, unix.IPPROTO_IPV6, unix.IPV6_MTU_DISCOVER, pmtu); err != nil {
			return fail("IPV6_MTU_DISCOVER", err)
		}
	} else {
		if so.ttl > 0 {
			if err := unix.SetsockoptInt(fd, unix.IPPROTO_IP, unix.IP_TTL, so.ttl); err != nil {
				return fail("IP_TTL", err)
			}
		}
		// DF off (the kernel's vxlan default): the outer packet may be
		// fragmented. DF on: set and never fragment (PROBE: the path
		// MTU cache does not shrink what is sent).
		pmtu := unix.IP_PMTUDISC_DONT
		if so.df {
			pmtu = unix.IP_PMTUDISC_PROBE
		}
		if err := unix.SetsockoptInt(fd, unix.IPPROTO_IP, unix.IP_MTU_DISCOVER, pmtu); err != nil {
			return fail("IP_MTU_DISCOVER", err)
		}
	}
	if _, _, errno := unix.Syscall(unix.SYS_BIND, uintptr(fd), uintptr(unsafe.Pointer(&sa.raw)), uintptr(sa.len)); errno != 0 {
		return fail("binding "+local.String(), errno)
	}
	if so.rx {
		sockbuf.Set(fd, socketBuffer, socketBuffer)
	} else {
		sockbuf.Set(fd, socketBuffer, 4096) // nothing is meant to arrive on a sending socket
	}
	bound, err := unix.Getsockname(fd)
	if err != nil {
		return fail("getsockname", err)
	}
	s := &udpSocket{}
	switch b := bound.(type) {
	case *unix.SockaddrInet4:
		s.port = uint16(b.Port)
	case *unix.SockaddrInet6:
		s.port = uint16(b.Port)
	}
	if _, err := unix.GetsockoptInt(fd, unix.SOL_UDP, unix.UDP_SEGMENT); err == nil {
		s.gso.Store(true)
	}
	if so.rx && unix.SetsockoptInt(fd, unix.SOL_UDP, unix.UDP_GRO, 1) == nil {
		s.gro = true
	}
	s.f = os.NewFile(uintptr(fd), "udp "+local.String())
	if s.rc, err = s.f.SyscallConn(); err != nil {
		s.f.Close()
		return nil, err
	}
	return s, nil
}

func (s *udpSocket) close() error { return s.f.Close() }

// gsoCmsgSpace is the control buffer for one UDP_SEGMENT or UDP_GRO
// message.
var gsoCmsgSpace = unix.CmsgSpace(4)

// receiver is a socket reader's scratch: recvmmsg vectors and buffers,
// allocated once.
type receiver struct {
	rxBatch
	hdrs  []mmsg.Hdr
	iovs  []unix.Iovec
	names []unix.RawSockaddrInet6
	oob   [][]byte

	// The poller callback, made once, and its results.
	n   int
	err error
	try func(fd uintptr) bool
}

func newReceiver(n, bufLen int) *receiver {
	r := &receiver{rxBatch: newRxBatch(n, bufLen), hdrs: make([]mmsg.Hdr, n), iovs: make([]unix.Iovec, n),
		names: make([]unix.RawSockaddrInet6, n), oob: make([][]byte, n)}
	for i := range r.oob {
		r.oob[i] = make([]byte, gsoCmsgSpace)
	}
	r.try = func(fd uintptr) bool {
		r.n, r.err = mmsg.Recv(int(fd), r.hdrs, unix.MSG_DONTWAIT)
		return !errors.Is(r.err, unix.EAGAIN)
	}
	return r
}

// recv reads a batch of datagrams (each possibly a GRO super-datagram)
// into r, blocking until at least one arrives, and returns how many.
func (s *udpSocket) recv(r *receiver) (int, error) {
	for i := range r.hdrs {
		r.iovs[i].Base = unsafe.SliceData(r.bufs[i])
		r.iovs[i].SetLen(len(r.bufs[i]))
		h := &r.hdrs[i].Msg
		*h = unix.Msghdr{Iov: &r.iovs[i], Iovlen: 1,
			Name: (*byte)(unsafe.Pointer(&r.names[i])), Namelen: unix.SizeofSockaddrInet6}
		if s.gro {
			h.Control = unsafe.SliceData(r.oob[i])
			h.SetControllen(len(r.oob[i]))
		}
	}
	if err := s.rc.Read(r.try); err != nil {
		return 0, err
	}
	if r.err != nil {
		return 0, r.err
	}
	n := r.n
	for i := 0; i < n; i++ {
		h := &r.hdrs[i]
		r.sizes[i] = int(h.Len)
		if h.Msg.Flags&unix.MSG_TRUNC != 0 {
			r.sizes[i] = len(r.bufs[i]) + 1
		}
		r.from[i] = addrOf(&r.names[i])
		r.seg[i] = 0
		if s.gro {
			r.seg[i] = groSize(r.oob[i][:h.Msg.Controllen])
		}
	}
	return n, nil
}

// groSize returns the segment size of a UDP_GRO control message in oob,
// or 0.
func groSize(oob []byte) int {
	for len(oob) >= unix.SizeofCmsghdr {
		h := (*unix.Cmsghdr)(unsafe.Pointer(&oob[0]))
		l := int(h.Len)
		if l < unix.SizeofCmsghdr || l > len(oob) {
			return 0
		}
		data := oob[unix.CmsgLen(0):l]
		if h.Level == unix.SOL_UDP && h.Type == unix.UDP_GRO {
			switch {
			case len(data) >= 4:
				return int(binary.NativeEndian.Uint32(data))
			case len(data) >= 2:
				return int(binary.NativeEndian.Uint16(data))
			}
			return 0
		}
		oob = oob[min(unix.CmsgSpace(l-unix.CmsgLen(0)), len(oob)):]
	}
	return 0
}

// sender is a port writer's scratch: sendmmsg vectors, allocated once,
// and the function the poller calls, made once so that sending allocates
// nothing.
type sender struct {
	hdrs []mmsg.Hdr
	iovs []unix.Iovec
	oob  [][]byte

	// The poller callback's arguments and results.
	pending []mmsg.Hdr
	n       int
	err     error
	try     func(fd uintptr) bool
}

func newSender() *sender {
	x := &sender{hdrs: make([]mmsg.Hdr, maxPlanMsgs), iovs: make([]unix.Iovec, 2*maxPlanEntries), oob: make([][]byte, maxPlanMsgs)}
	for i := range x.oob {
		x.oob[i] = make([]byte, gsoCmsgSpace)
	}
	x.try = func(fd uintptr) bool {
		x.n, x.err = mmsg.Send(int(fd), x.pending, unix.MSG_DONTWAIT)
		return !errors.Is(x.err, unix.EAGAIN)
	}
	return x
}

// send sends msgs, all for this socket, with one sendmmsg call (more if
// the kernel takes fewer), and returns how many were sent; err is that of
// msgs[n].
func (s *udpSocket) send(x *sender, plan *txPlan, msgs []txMsg) (int, error) {
	iov := 0
	for i := range msgs {
		m := &msgs[i]
		first := iov
		for _, e := range plan.ents[m.first : m.first+m.count] {
			x.iovs[iov].Base = &e.hdr[0]
			x.iovs[iov].SetLen(HeaderLen)
			x.iovs[iov+1].Base = unsafe.SliceData(e.frame)
			x.iovs[iov+1].SetLen(len(e.frame))
			iov += 2
		}
		h := &x.hdrs[i].Msg
		*h = unix.Msghdr{Iov: &x.iovs[first], Name: (*byte)(unsafe.Pointer(&m.to.sa.raw)), Namelen: m.to.sa.len}
		h.SetIovlen(iov - first)
		if m.count > 1 {
			putSegment(x.oob[i], uint16(m.seg))
			h.Control = unsafe.SliceData(x.oob[i])
			h.SetControllen(len(x.oob[i]))
		}
	}
	sent := 0
	for sent < len(msgs) {
		x.pending = x.hdrs[sent:len(msgs)]
		werr := s.rc.Write(x.try)
		x.pending = nil
		if werr != nil {
			return sent, werr
		}
		if x.err != nil {
			return sent, x.err
		}
		sent += x.n
	}
	return sent, nil
}

// putSegment writes a UDP_SEGMENT control message for datagrams of size
// seg into oob.
func putSegment(oob []byte, seg uint16) {
	h := (*unix.Cmsghdr)(unsafe.Pointer(&oob[0]))
	h.Level = unix.SOL_UDP
	h.Type = unix.UDP_SEGMENT
	h.SetLen(unix.CmsgLen(2))
	binary.NativeEndian.PutUint16(oob[unix.CmsgLen(0):], seg)
}

// gsoBroken reports whether a send error means UDP_SEGMENT cannot work
// on the route at all (EIO: the device has no checksum offload), so it is
// turned off for the socket, as wireguard-go does.
func gsoBroken(err error) bool { return errors.Is(err, unix.EIO) }

// gsoRejected reports whether a send error means the route cannot take
// UDP_SEGMENT (EIO: no checksum offload on the device; EINVAL: a segment
// larger than the path MTU allows), so the datagrams go one by one.
func gsoRejected(err error) bool {
	return errors.Is(err, unix.EIO) || errors.Is(err, unix.EINVAL) || errors.Is(err, unix.EMSGSIZE)
}

// haveGSO and haveGRO say what this platform can do at all.
const (
	haveGSO = true
	haveGRO = true
)
