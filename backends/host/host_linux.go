//go:build linux

package host

import (
	"errors"
	"fmt"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
	"unsafe"

	"github.com/hashicorp/go-hclog"
	"golang.org/x/sys/unix"

	"github.com/l2fabric/l2fabric/backends/internal/mmsg"
	"github.com/l2fabric/l2fabric/fabric"
	"github.com/l2fabric/l2fabric/frames"
	"github.com/l2fabric/l2fabric/frames/offload"
)

const (
	// batchSize is the number of frames moved per recvmmsg/sendmmsg.
	batchSize = 64
	// maxFrame is the largest frame the kernel hands an AF_PACKET socket
	// with PACKET_VNET_HDR: a 64 KiB GSO super-frame and its headers.
	maxFrame = 65536 + 256
	// pollInterval is how often the interface's existence and state are
	// checked.
	pollInterval = 250 * time.Millisecond
	// sendTimeout bounds a Write's wait for a full socket buffer.
	sendTimeout = 50 * time.Millisecond
)

// Kind returns the host port kind.
func Kind() fabric.Kind {
	return kind("a host network interface over AF_PACKET: the physical LAN, a veth (needs root)",
		func(o options, ifi *net.Interface, mtu int, log hclog.Logger) (fabric.Port, error) {
			p, err := newPort(o, ifi.Index, mtu, log)
			if err != nil {
				return nil, err
			}
			return p, nil
		})
}

// sock is one AF_PACKET socket bound to one interface index. When the
// interface is deleted and re-created the port opens a new one.
type sock struct {
	f       *os.File
	rc      syscall.RawConn
	ifindex int
}

// openSocket opens an AF_PACKET socket on ifindex with virtio-net headers
// (so GSO super-frames and partial checksums are described, not silently
// passed on), VLAN auxdata (the kernel strips received tags), our own
// sent frames ignored, and promiscuous membership if asked.
func openSocket(ifname string, ifindex int, promisc bool) (*sock, error) {
	// Protocol 0 receives nothing until bind sets ETH_P_ALL on one
	// interface, so no frame from another interface slips in.
	fd, err := unix.Socket(unix.AF_PACKET, unix.SOCK_RAW|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		if errors.Is(err, unix.EPERM) || errors.Is(err, unix.EACCES) {
			return nil, fmt.Errorf("host:%s: opening an AF_PACKET socket needs root (CAP_NET_RAW): %w", ifname, err)
		}
		return nil, fmt.Errorf("host:%s: AF_PACKET socket: %w", ifname, err)
	}
	fail := func(what string, err error) (*sock, error) {
		unix.Close(fd)
		return nil, fmt.Errorf("host:%s: %s: %w", ifname, what, err)
	}
	for _, o := range []struct {
		name string
		opt  int
	}{{"PACKET_VNET_HDR", unix.PACKET_VNET_HDR}, {"PACKET_AUXDATA", unix.PACKET_AUXDATA}, {"PACKET_IGNORE_OUTGOING (Linux 4.20 or later)", unix.PACKET_IGNORE_OUTGOING}} {
		if err := unix.SetsockoptInt(fd, unix.SOL_PACKET, o.opt, 1); err != nil {
			return fail(o.name, err)
		}
	}
	// Bypassing the qdisc is an optimisation; old kernels lack it.
	_ = unix.SetsockoptInt(fd, unix.SOL_PACKET, unix.PACKET_QDISC_BYPASS, 1)
	setBuffer(fd, unix.SO_RCVBUFFORCE, unix.SO_RCVBUF, 8<<20)
	setBuffer(fd, unix.SO_SNDBUFFORCE, unix.SO_SNDBUF, 4<<20)
	if err := unix.Bind(fd, &unix.SockaddrLinklayer{Protocol: htons(unix.ETH_P_ALL), Ifindex: ifindex}); err != nil {
		return fail("bind", err)
	}
	if promisc {
		mreq := unix.PacketMreq{Ifindex: int32(ifindex), Type: unix.PACKET_MR_PROMISC}
		if err := unix.SetsockoptPacketMreq(fd, unix.SOL_PACKET, unix.PACKET_ADD_MEMBERSHIP, &mreq); err != nil {
			return fail("promiscuous mode", err)
		}
	}
	f := os.NewFile(uintptr(fd), "packet:"+ifname)
	rc, err := f.SyscallConn()
	if err != nil {
		f.Close()
		return nil, err
	}
	return &sock{f: f, rc: rc, ifindex: ifindex}, nil
}

func setBuffer(fd, force, opt, size int) {
	if unix.SetsockoptInt(fd, unix.SOL_SOCKET, force, size) != nil {
		_ = unix.SetsockoptInt(fd, unix.SOL_SOCKET, opt, size)
	}
}

func htons(v uint16) uint16 { return v<<8 | v>>8 }

// port is a host interface on the fabric.
type port struct {
	ifname  string
	promisc bool
	log     hclog.Logger

	sock    atomic.Pointer[sock]
	changed chan struct{} // a new socket is in place
	*fabric.LinkState
	done    chan struct{}
	closing atomic.Bool
	wg      sync.WaitGroup

	rx      rxState
	tx      txState
	dropped atomic.Uint64
}

var (
	_ fabric.GSOPort   = (*port)(nil)
	_ fabric.Port      = (*port)(nil)
	_ fabric.Linker    = (*port)(nil)
	_ fabric.RxDropper = (*port)(nil)
)

func newPort(o options, ifindex, mtu int, log hclog.Logger) (*port, error) {
	s, err := openSocket(o.ifname, ifindex, o.promisc)
	if err != nil {
		return nil, err
	}
	p := &port{
		ifname: o.ifname, promisc: o.promisc, log: log,
		changed:   make(chan struct{}, 1),
		LinkState: fabric.NewLinkState(),
		done:      make(chan struct{}),
	}
	p.sock.Store(s)
	p.rx.init(batchSize)
	p.tx.init(batchSize)
	p.wg.Add(1)
	go p.monitor(ifindex)
	return p, nil
}

// monitor polls the interface: it reports the link going down and up, and
// when the interface is deleted and re-created (a new index), opens a new
// socket on it.
func (p *port) monitor(ifindex int) {
	defer p.wg.Done()
	t := time.NewTicker(pollInterval)
	defer t.Stop()
	var lastErr string
	for {
		select {
		case <-p.done:
			return
		case <-t.C:
		}
		ifi, err := net.InterfaceByName(p.ifname)
		present := err == nil
		up := present && ifi.Flags&net.FlagUp != 0 && ifi.Flags&net.FlagRunning != 0
		cur := p.sock.Load()
		switch {
		case !present && cur != nil:
			p.sock.Store(nil)
			cur.f.Close()
		case present && (cur == nil || cur.ifindex != ifi.Index):
			s, err := openSocket(p.ifname, ifi.Index, p.promisc)
			if err != nil {
				if err.Error() != lastErr {
					p.log.Warn("cannot reopen interface", "error", err)
					lastErr = err.Error()
				}
				up = false
				break
			}
			lastErr = ""
			if old := p.sock.Swap(s); old != nil {
				old.f.Close()
			}
			select {
			case p.changed <- struct{}{}:
			default:
			}
		}
		if up != p.Up() {
			reason := "interface up"
			switch {
			case !present:
				reason = "interface gone"
			case !up:
				reason = "interface down or no carrier"
			case cur == nil || cur.ifindex != ifi.Index:
				reason = "interface back"
			}
			p.Set(up, reason, false)
		}
	}
}

// RxDropped counts received frames the port could not pass on: GSO frames
// it could not segment, frames longer than 64 KiB.
func (p *port) RxDropped() uint64 { return p.dropped.Load() }

func (p *port) BatchSize() int { return batchSize }

func (p *port) Close() error {
	if p.closing.Swap(true) {
		return nil
	}
	close(p.done)
	if s := p.sock.Swap(nil); s != nil {
		s.f.Close()
	}
	p.wg.Wait()
	p.LinkState.Close()
	return nil
}

// Read implements fabric.Port: super-frames are cut into ordinary frames
// and partial checksums completed. The fabric uses ReadGSO instead.
func (p *port) Read(bufs [][]byte, sizes []int) (int, error) {
	return p.read(bufs, sizes, nil)
}

// ReadGSO implements fabric.GSOPort: super-frames and partial checksums
// are passed on as the kernel described them.
func (p *port) ReadGSO(bufs [][]byte, sizes []int, hdrs []offload.Header) (int, error) {
	return p.read(bufs, sizes, hdrs)
}

func (p *port) read(bufs [][]byte, sizes []int, hdrs []offload.Header) (int, error) {
	for {
		if n := p.rx.drain(bufs, sizes, 0); n > 0 {
			return n, nil
		}
		s := p.sock.Load()
		if s == nil {
			select {
			case <-p.changed:
				continue
			case <-p.done:
				return 0, net.ErrClosed
			}
		}
		var n int
		var rerr error
		err := s.rc.Read(func(fd uintptr) bool {
			n, rerr = p.rx.recv(int(fd), bufs)
			return !errors.Is(rerr, unix.EAGAIN)
		})
		if err == nil {
			err = rerr
		}
		if err != nil {
			if p.closing.Load() {
				return 0, net.ErrClosed
			}
			switch {
			case p.sock.Load() != s:
				// The monitor closed this socket: the interface is gone,
				// or back with a new index and a new socket.
				continue
			case errors.Is(err, unix.ENETDOWN), errors.Is(err, unix.ENXIO):
				// Down, or being deleted: the monitor reports it and
				// replaces the socket if need be. Until then the socket
				// blocks, or its next read fails again after a pause.
				select {
				case <-p.changed:
				case <-p.done:
					return 0, net.ErrClosed
				case <-time.After(pollInterval):
				}
				continue
			}
			return 0, fmt.Errorf("receiving on %s: %w", p.ifname, err)
		}
		var k int
		if hdrs != nil {
			k = p.rx.processGSO(bufs, sizes, hdrs, n, &p.dropped)
		} else {
			k = p.rx.process(bufs, sizes, n, &p.dropped)
			k += p.rx.drain(bufs, sizes, k)
		}
		if k > 0 {
			return k, nil
		}
	}
}

// Write implements fabric.Port.
func (p *port) Write(bufs [][]byte) (int, error) { return p.write(bufs, nil) }

// WriteGSO implements fabric.GSOPort: the kernel segments super-frames and
// completes checksums as the interface needs.
func (p *port) WriteGSO(bufs [][]byte, hdrs []offload.Header) (int, error) {
	return p.write(bufs, hdrs)
}

func (p *port) write(bufs [][]byte, hdrs []offload.Header) (int, error) {
	s := p.sock.Load()
	if s == nil {
		return 0, fmt.Errorf("%w: %s is gone", fabric.ErrLinkDown, p.ifname)
	}
	s.f.SetWriteDeadline(time.Now().Add(sendTimeout))
	sent := 0
	for sent < len(bufs) {
		var n int
		var serr error
		err := s.rc.Write(func(fd uintptr) bool {
			var h []offload.Header
			if hdrs != nil {
				h = hdrs[sent:]
			}
			n, serr = p.tx.send(int(fd), bufs[sent:], h)
			return !errors.Is(serr, unix.EAGAIN)
		})
		sent += n
		if err == nil {
			err = serr
		}
		switch {
		case err == nil:
		case errors.Is(err, os.ErrDeadlineExceeded), errors.Is(err, unix.ENOBUFS):
			return sent, fmt.Errorf("%w: %s", fabric.ErrTxFull, p.ifname)
		case errors.Is(err, os.ErrClosed), errors.Is(err, unix.ENETDOWN), errors.Is(err, unix.ENXIO):
			return sent, fmt.Errorf("%w: %s: %v", fabric.ErrLinkDown, p.ifname, err)
		default:
			return sent, err
		}
	}
	return sent, nil
}

// txState is the writer's sendmmsg scratch: each frame goes out behind its
// virtio-net header (all zero for an ordinary frame).
type txState struct {
	hdrs []mmsg.Hdr
	iovs []unix.Iovec
	vnet [][offload.HeaderLen]byte
}

func (t *txState) init(n int) {
	t.hdrs = make([]mmsg.Hdr, n)
	t.iovs = make([]unix.Iovec, 2*n)
	t.vnet = make([][offload.HeaderLen]byte, n)
}

func (t *txState) send(fd int, bufs [][]byte, vh []offload.Header) (int, error) {
	n := min(len(bufs), len(t.hdrs))
	for i := 0; i < n; i++ {
		var h offload.Header
		if vh != nil {
			h = vh[i]
		}
		h.Put(t.vnet[i][:])
		iov := t.iovs[2*i : 2*i+2]
		iov[0].Base = &t.vnet[i][0]
		iov[0].SetLen(offload.HeaderLen)
		iov[1].Base = unsafe.SliceData(bufs[i])
		iov[1].SetLen(len(bufs[i]))
		t.hdrs[i].Msg = unix.Msghdr{Iov: &iov[0], Iovlen: 2}
	}
	return mmsg.Send(fd, t.hdrs[:n], unix.MSG_DONTWAIT)
}

// rxState is the reader's recvmmsg scratch and the queue of segments cut
// from GSO super-frames that did not fit the caller's batch.
type rxState struct {
	hdrs     []mmsg.Hdr
	iovs     []unix.Iovec
	vnet     [][offload.HeaderLen]byte
	overflow [][]byte // where a frame longer than the caller's buffer spills
	control  [][]byte // PACKET_AUXDATA
	super    []byte   // a super-frame made contiguous for segmenting

	// pending segments, as buffers of the caller's length: handed over by
	// exchanging buffers.
	pend     [][]byte
	pendSize []int
	spare    [][]byte // free buffers for segments
	segOut   [][]byte
	segSize  []int
}

var auxLen = unix.CmsgSpace(int(unsafe.Sizeof(unix.TpacketAuxdata{})))

func (r *rxState) init(n int) {
	r.hdrs = make([]mmsg.Hdr, n)
	r.iovs = make([]unix.Iovec, 3*n)
	r.vnet = make([][offload.HeaderLen]byte, n)
	r.overflow = make([][]byte, n)
	r.control = make([][]byte, n)
	for i := range r.overflow {
		r.overflow[i] = make([]byte, maxFrame)
		r.control[i] = make([]byte, auxLen)
	}
	r.super = make([]byte, maxFrame)
}

// recv reads up to len(bufs) frames. Each lands in bufs[i] (keeping
// TagLen bytes free to put back a VLAN tag the kernel took off), spilling
// into an overflow buffer only when longer.
func (r *rxState) recv(fd int, bufs [][]byte) (int, error) {
	n := min(len(bufs), len(r.hdrs))
	for i := 0; i < n; i++ {
		iov := r.iovs[3*i : 3*i+3]
		iov[0].Base = &r.vnet[i][0]
		iov[0].SetLen(offload.HeaderLen)
		room := len(bufs[i]) - frames.TagLen
		iov[1].Base = unsafe.SliceData(bufs[i])
		iov[1].SetLen(room)
		iov[2].Base = &r.overflow[i][0]
		iov[2].SetLen(len(r.overflow[i]))
		r.hdrs[i].Msg = unix.Msghdr{Iov: &iov[0], Iovlen: 3, Control: &r.control[i][0]}
		r.hdrs[i].Msg.SetControllen(len(r.control[i]))
	}
	return mmsg.Recv(fd, r.hdrs[:n], unix.MSG_DONTWAIT)
}

// message returns message i's frame length, the room its buffer buf has
// before the overflow, and its virtio-net header; ok is false (and the
// drop counted) for a message that carries no usable frame.
func (r *rxState) message(i int, buf []byte, dropped *atomic.Uint64) (total, room int, vh offload.Header, ok bool) {
	h := &r.hdrs[i]
	total = int(h.Len) - offload.HeaderLen
	room = len(buf) - frames.TagLen
	if total < 0 {
		return 0, 0, vh, false
	}
	vh, err := offload.ParseHeader(r.vnet[i][:])
	if err != nil || h.Msg.Flags&unix.MSG_TRUNC != 0 {
		dropped.Add(1)
		return 0, 0, vh, false
	}
	return total, room, vh, true
}

// process turns the n messages received into frames in bufs: ordinary
// frames stay where they landed (moved down by exchanging buffers when an
// earlier message was consumed), super-frames are segmented into the
// pending queue, VLAN tags are put back, partial checksums completed. It
// returns how many frames bufs holds.
func (r *rxState) process(bufs [][]byte, sizes []int, n int, dropped *atomic.Uint64) int {
	k := 0
	for i := 0; i < n; i++ {
		total, room, vh, ok := r.message(i, bufs[i], dropped)
		if !ok {
			continue
		}
		tci, tpid, tagged := auxVLAN(r.control[i][:r.hdrs[i].Msg.Controllen])
		if vh.GSOType != offload.GSONone {
			// A super-frame: make it contiguous, cut it into segments.
			m := copy(r.super, bufs[i][:min(total, room)])
			if total > room {
				m += copy(r.super[m:], r.overflow[i][:total-room])
			}
			r.segment(vh, r.super[:m], len(bufs[i]), tci, tpid, tagged, dropped)
			continue
		}
		if total > room {
			sizes[k] = len(bufs[i]) + 1 // longer than the MTU allows: oversize
			bufs[k], bufs[i] = bufs[i], bufs[k]
			k++
			continue
		}
		fr := bufs[i][:total]
		if err := offload.CompleteChecksum(vh, fr); err != nil {
			dropped.Add(1)
			continue
		}
		if tagged {
			total = frames.InsertTag(bufs[i], total, tpid, tci)
		}
		sizes[k] = total
		bufs[k], bufs[i] = bufs[i], bufs[k]
		k++
	}
	return k
}

// processGSO is process for ReadGSO: frames, super-frames included, stay
// as received, with their headers in hdrs and VLAN tags put back.
func (r *rxState) processGSO(bufs [][]byte, sizes []int, hdrs []offload.Header, n int, dropped *atomic.Uint64) int {
	k := 0
	for i := 0; i < n; i++ {
		total, room, vh, ok := r.message(i, bufs[i], dropped)
		if !ok {
			continue
		}
		if total > room {
			sizes[k] = len(bufs[i]) + 1 // oversize
		} else {
			sizes[k] = total
			if tci, tpid, tagged := auxVLAN(r.control[i][:r.hdrs[i].Msg.Controllen]); tagged {
				sizes[k] = frames.InsertTag(bufs[i], total, tpid, tci)
				vh = vh.Shift(frames.TagLen)
			}
		}
		hdrs[k] = vh
		bufs[k], bufs[i] = bufs[i], bufs[k]
		k++
	}
	return k
}

// segment cuts a super-frame into the pending queue.
func (r *rxState) segment(vh offload.Header, super []byte, bufLen int, tci, tpid uint16, tagged bool, dropped *atomic.Uint64) {
	need := offload.MaxSegments(vh, len(super))
	if need <= 0 {
		dropped.Add(1)
		return
	}
	r.segOut = r.segOut[:0]
	for len(r.segOut) < need {
		var b []byte
		if l := len(r.spare); l > 0 {
			b, r.spare = r.spare[l-1], r.spare[:l-1]
		}
		if len(b) != bufLen {
			b = make([]byte, bufLen)
		}
		r.segOut = append(r.segOut, b[:bufLen-frames.TagLen])
	}
	if cap(r.segSize) < need {
		r.segSize = make([]int, need)
	}
	r.segSize = r.segSize[:need]
	got, err := offload.Segment(vh, super, r.segOut, r.segSize)
	if err != nil {
		dropped.Add(1)
		got = 0
	}
	for j, b := range r.segOut {
		b = b[:bufLen]
		if j >= got {
			r.spare = append(r.spare, b)
			continue
		}
		size := r.segSize[j]
		if tagged {
			size = frames.InsertTag(b, size, tpid, tci)
		}
		r.pend = append(r.pend, b)
		r.pendSize = append(r.pendSize, size)
	}
}

// drain hands pending segments over into bufs[k:], exchanging buffers,
// and returns how many it handed over.
func (r *rxState) drain(bufs [][]byte, sizes []int, k int) int {
	m := min(len(r.pend), len(bufs)-k)
	for j := 0; j < m; j++ {
		if len(bufs[k+j]) != len(r.pend[j]) {
			// Buffers of another length: copy, keeping ours.
			sizes[k+j] = copy(bufs[k+j], r.pend[j][:r.pendSize[j]])
			r.spare = append(r.spare, r.pend[j])
			continue
		}
		bufs[k+j], r.pend[j] = r.pend[j], bufs[k+j]
		sizes[k+j] = r.pendSize[j]
		r.spare = append(r.spare, r.pend[j])
	}
	r.pend = r.pend[:copy(r.pend, r.pend[m:])]
	r.pendSize = r.pendSize[:copy(r.pendSize, r.pendSize[m:])]
	return m
}

// auxVLAN extracts the VLAN tag the kernel took off a received frame from
// its PACKET_AUXDATA control message.
func auxVLAN(control []byte) (tci, tpid uint16, ok bool) {
	for len(control) >= unix.SizeofCmsghdr {
		h := (*unix.Cmsghdr)(unsafe.Pointer(&control[0]))
		l := int(h.Len)
		if l < unix.SizeofCmsghdr || l > len(control) {
			return 0, 0, false
		}
		if h.Level == unix.SOL_PACKET && h.Type == unix.PACKET_AUXDATA && l >= unix.CmsgLen(int(unsafe.Sizeof(unix.TpacketAuxdata{}))) {
			aux := (*unix.TpacketAuxdata)(unsafe.Pointer(&control[unix.CmsgLen(0)]))
			if aux.Status&unix.TP_STATUS_VLAN_VALID == 0 {
				return 0, 0, false
			}
			tpid := uint16(frames.EtherTypeVLAN)
			if aux.Status&unix.TP_STATUS_VLAN_TPID_VALID != 0 && aux.Vlan_tpid != 0 {
				tpid = aux.Vlan_tpid
			}
			return aux.Vlan_tci, tpid, true
		}
		control = control[min(unix.CmsgSpace(l-unix.SizeofCmsghdr), len(control)):]
	}
	return 0, 0, false
}
