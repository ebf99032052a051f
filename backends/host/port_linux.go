//go:build linux

package host

import (
	"errors"
	"fmt"
	"net"
	"os"
	"sync/atomic"
	"time"

	"github.com/hashicorp/go-hclog"
	"golang.org/x/sys/unix"

	"github.com/l2fabric/l2fabric/backends/internal/linkwatch"
	"github.com/l2fabric/l2fabric/fabric"
	"github.com/l2fabric/l2fabric/frames/offload"
)

const (
	// batchSize is the number of frames moved per recvmmsg/sendmmsg.
	batchSize = 64
	// maxFrame is the largest frame the kernel hands an AF_PACKET socket
	// with PACKET_VNET_HDR: a 64 KiB GSO super-frame and its headers.
	maxFrame = 65536 + 256
	// sendTimeout bounds a Write's wait for a full socket buffer.
	sendTimeout = 50 * time.Millisecond
)

// Kind returns the host port kind.
func Kind() fabric.Kind {
	return kind("a host network interface over AF_PACKET: the physical LAN, a veth (needs root)",
		func(o options, _ *net.Interface, _ int, log hclog.Logger) (fabric.Port, error) {
			p, err := newPort(o, log)
			if err != nil {
				return nil, err
			}
			return p, nil
		})
}

// port is a host interface on the fabric. Its socket is kept by a
// linkwatch.Supervisor: when the interface is deleted the link goes down
// and the socket is closed; when an interface of that name is back, a
// socket is opened on it and the link comes up.
type port struct {
	ifname string
	log    hclog.Logger
	sup    *linkwatch.Supervisor[sock]

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

func newPort(o options, log hclog.Logger) (*port, error) {
	p := &port{ifname: o.ifname, log: log}
	p.rx.init(batchSize)
	p.tx.init(batchSize)
	sup, err := linkwatch.NewSupervisor(linkwatch.Config[sock]{
		Name: o.ifname,
		Open: func(l linkwatch.Link) (*sock, linkwatch.Link, error) {
			if l.Index == 0 {
				return nil, l, fmt.Errorf("host:%s: %w", o.ifname, linkwatch.ErrNotFound)
			}
			s, err := openSocket(o.ifname, l.Index, o.promisc)
			return s, l, err
		},
		Close:       func(s *sock) { s.f.Close() },
		NeedCarrier: true,
		Log:         log,
	})
	if err != nil {
		return nil, err
	}
	p.sup = sup
	return p, nil
}

// LinkEvents implements fabric.Linker.
func (p *port) LinkEvents() <-chan fabric.LinkEvent { return p.sup.LinkEvents() }

// RxDropped counts received frames the port could not pass on: frames
// with a malformed virtio-net header, or cut short.
func (p *port) RxDropped() uint64 { return p.dropped.Load() }

func (p *port) BatchSize() int { return batchSize }

func (p *port) Close() error {
	p.sup.Close()
	return nil
}

// errNotGSO is Read's answer: see Read.
var errNotGSO = errors.New("host port: Read is not supported: the port is a fabric.GSOPort, read it with ReadGSO")

// Read implements fabric.Port by refusing: the socket hands over TCP and
// UDP super-frames and partial checksums, which only make sense with the
// virtio-net headers ReadGSO returns beside them, and the fabric reads a
// GSOPort with ReadGSO. A Read that dropped the headers would pass on
// corrupt frames; one that cut super-frames itself duplicated the
// fabric's segmentation.
func (p *port) Read([][]byte, []int) (int, error) { return 0, errNotGSO }

// ReadGSO implements fabric.GSOPort: super-frames and partial checksums
// are passed on as the kernel described them.
func (p *port) ReadGSO(bufs [][]byte, sizes []int, hdrs []offload.Header) (int, error) {
	for {
		s, changed := p.sup.Handle()
		if s == nil {
			select {
			case <-changed:
				continue
			case <-p.sup.Done():
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
			select {
			case <-p.sup.Done():
				return 0, net.ErrClosed
			default:
			}
			switch {
			case p.sup.Current() != s:
				// The supervisor closed this socket: the interface is
				// gone, or back with a new index and a new socket.
				continue
			case errors.Is(err, unix.ENETDOWN):
				// Set down: reported once, then the socket blocks until
				// frames come again. The supervisor reports the link.
				continue
			case errors.Is(err, unix.ENXIO):
				// Being deleted: the supervisor replaces the socket.
				p.sup.Dead(s)
				continue
			}
			return 0, fmt.Errorf("receiving on %s: %w", p.ifname, err)
		}
		if k := p.rx.processGSO(bufs, sizes, hdrs, n, &p.dropped); k > 0 {
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
	s := p.sup.Current()
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
