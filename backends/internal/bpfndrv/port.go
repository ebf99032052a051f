package bpfndrv

import (
	"errors"
	"fmt"
	"io"
	"net"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/go-hclog"
	"golang.org/x/net/bpf"

	"github.com/l2fabric/l2fabric/backends/internal/linkwatch"
	"github.com/l2fabric/l2fabric/fabric"
	"github.com/l2fabric/l2fabric/frames"
)

// Config says how Open sets a port up.
type Config struct {
	// Promisc puts the interface in promiscuous mode, so that unicast
	// frames for the MACs behind the fabric's other ports reach the
	// filter at all.
	Promisc bool
	// BufferSize is the BPF buffer size to ask the kernel for; 0 means
	// DefaultBufferSize (4 MiB). The kernel caps it (32 MiB from macOS
	// 13; debug.bpf_maxbufsize, 512 KiB by default, before); the size it
	// grants is what every read passes.
	BufferSize int
	// Logger receives the port's warnings (an interface that cannot be
	// reopened, a filter the kernel refused). nil discards them.
	Logger hclog.Logger
}

// Timing and batching of a Port.
const (
	// batchSize is the number of frames the port prefers per Read and
	// Write. One BPF read usually returns many frames; what does not fit
	// a batch is kept for the next Read.
	batchSize = 64
	// sendTimeout bounds how long a Write retries frames the interface
	// has no room for before it gives up with fabric.ErrTxFull.
	sendTimeout = 50 * time.Millisecond
	// sendBackoff is the pause between two such retries.
	sendBackoff = 50 * time.Microsecond
)

// timing is a port's timing: defaultTiming in production, shorter or
// longer in tests.
type timing struct {
	sendTimeout time.Duration
	sendBackoff time.Duration
}

// defaultTiming returns the timing of the ports Open returns.
func defaultTiming() timing {
	return timing{sendTimeout: sendTimeout, sendBackoff: sendBackoff}
}

// Errors a device returns (wrapped) so that the port, which is portable,
// can tell what happened without knowing darwin's errno values.
var (
	// errAgain: no room to send now (ENOBUFS, EAGAIN): retry shortly.
	errAgain = errors.New("no room to send")
	// errDown: the interface is down (ENETDOWN): the frame is lost, the
	// device stays.
	errDown = errors.New("interface down")
	// errGone: the interface the device was attached to is gone (ENXIO on
	// the BPF descriptor, EPIPE on the NDRV socket): the device is dead
	// and must be reopened.
	errGone = errors.New("interface gone")
	// errClosed: the device was closed (by Close, or by the supervisor
	// replacing it).
	errClosed = errors.New("device closed")
)

// device is one BPF descriptor and one NDRV socket attached to an
// interface. Its methods may be called concurrently with each other,
// close included; after close they return errClosed.
type device interface {
	// bufLen is the BPF buffer size the kernel granted; read's buffer
	// has exactly that length.
	bufLen() int
	// read blocks until the BPF buffer holds frames, then reads them into
	// buf as bpf_hdr records and returns how many bytes it read.
	read(buf []byte) (int, error)
	// write sends one frame on the NDRV socket.
	write(frame []byte) error
	// setFilter replaces the BPF filter without flushing the buffer.
	setFilter(prog []bpf.RawInstruction) error
	// kernelDrops returns bs_drop: the frames the kernel dropped since
	// the descriptor was attached because its buffers were full.
	kernelDrops() (uint32, error)
	// close releases the descriptor and the socket, and makes a pending
	// read return errClosed.
	close() error
}

// system is what a port needs from the operating system: the darwin glue
// in production, fakes in tests.
type system interface {
	// open opens a device on ifname with filter prog.
	open(ifname string, cfg Config, prog []bpf.RawInstruction) (device, error)
	// links is where the interface's link events come from.
	links() (linkwatch.Source, error)
}

// handle is the device the port currently uses.
type handle struct {
	dev device
	// gen is the generation of the filter the device has (guarded by
	// Port.fmu).
	gen uint64
	// dropSeen is the last bs_drop observed (guarded by Port.smu).
	dropSeen uint32
}

// Port is a host interface on the fabric through BPF and NDRV. It
// implements fabric.Port, fabric.Linker, fabric.AddressFilter and
// fabric.RxDropper. Its device is kept by a linkwatch.Supervisor: when
// the interface is deleted the port reports its link down and closes the
// device; when an interface of that name is back (even with its index
// recycled, as xnu does) it opens BPF and NDRV on it again and reports
// the link up.
type Port struct {
	ifname string
	cfg    Config
	sys    system
	log    hclog.Logger
	timing timing
	sup    *linkwatch.Supervisor[handle]

	// fmu guards the filter and the generation each handle has, so that
	// no device keeps an old one.
	fmu     sync.Mutex
	prog    []bpf.RawInstruction
	progGen uint64
	exact   bool
	opened  *handle // the handle opened last

	smu         sync.Mutex // guards kernelDrops and handle.dropSeen
	kernelDrops uint64

	dropped atomic.Uint64 // frames this code dropped

	rxbuf []byte  // reader only: the last BPF read
	rx    rxQueue // reader only
}

var (
	_ fabric.Port          = (*Port)(nil)
	_ fabric.Linker        = (*Port)(nil)
	_ fabric.AddressFilter = (*Port)(nil)
	_ fabric.RxDropper     = (*Port)(nil)
)

// newPort opens a device on ifname through sys and has it kept by a
// supervisor. The port starts admitting broadcast and multicast only,
// until SetRemoteMACs says which unicast MACs live behind the fabric's
// other ports.
func newPort(ifname string, cfg Config, sys system, t timing) (*Port, error) {
	if err := checkIfName(ifname); err != nil {
		return nil, err
	}
	if _, err := bufferSize(cfg.BufferSize); err != nil {
		return nil, err
	}
	log := cfg.Logger
	if log == nil {
		log = hclog.NewNullLogger()
	}
	src, err := sys.links()
	if err != nil {
		return nil, err
	}
	p := &Port{ifname: ifname, cfg: cfg, sys: sys, log: log, timing: t}
	p.prog, p.exact = FilterProgram(nil)
	p.sup, err = linkwatch.NewSupervisor(linkwatch.Config[handle]{
		Name:        ifname,
		Open:        p.openHandle,
		Close:       p.retire,
		NeedCarrier: true,
		Check:       p.refilter,
		Log:         log,
		Source:      src,
	})
	if err != nil {
		return nil, err
	}
	return p, nil
}

// openHandle opens a device on the interface l with the current filter.
func (p *Port) openHandle(l linkwatch.Link) (*handle, linkwatch.Link, error) {
	if l.Index == 0 {
		return nil, l, fmt.Errorf("no interface %q: %w", p.ifname, linkwatch.ErrNotFound)
	}
	p.fmu.Lock()
	prog, gen := p.prog, p.progGen
	p.fmu.Unlock()
	dev, err := p.sys.open(p.ifname, p.cfg, prog)
	if err != nil {
		return nil, l, err
	}
	h := &handle{dev: dev, gen: gen}
	p.fmu.Lock()
	p.opened = h
	p.fmu.Unlock()
	return h, l, nil
}

// refilter gives the handle opened last the current filter, if
// SetRemoteMACs changed it while the handle was being put in place. It
// runs on the supervisor's goroutine after every event.
func (p *Port) refilter(linkwatch.Link, func(string) (linkwatch.Link, bool)) (string, error) {
	p.fmu.Lock()
	defer p.fmu.Unlock()
	h := p.opened
	if h != nil && h.gen != p.progGen {
		if err := h.dev.setFilter(p.prog); err != nil {
			p.log.Warn("cannot set the BPF filter", "interface", p.ifname, "error", err)
		}
		h.gen = p.progGen
	}
	return "", nil
}

// retire counts what the kernel dropped on h one last time and closes
// it.
func (p *Port) retire(h *handle) {
	p.smu.Lock()
	p.observeDrops(h)
	p.smu.Unlock()
	h.dev.close()
}

// observeDrops adds what the kernel dropped on h since last time. p.smu
// must be held.
func (p *Port) observeDrops(h *handle) {
	n, err := h.dev.kernelDrops()
	if err != nil {
		return
	}
	p.kernelDrops += uint64(n - h.dropSeen) // bs_drop is 32 bits: wraps
	h.dropSeen = n
}

// LinkEvents implements fabric.Linker: the link goes down when the
// interface is deleted, set down or loses carrier, and comes back up with
// it.
func (p *Port) LinkEvents() <-chan fabric.LinkEvent { return p.sup.LinkEvents() }

// SetRemoteMACs implements fabric.AddressFilter: the BPF filter is
// regenerated to admit macs (besides broadcast and multicast) and
// applied, without flushing the frames already captured, when it
// differs from the current one.
func (p *Port) SetRemoteMACs(macs []frames.MAC) {
	prog, exact := FilterProgram(macs)
	p.fmu.Lock()
	defer p.fmu.Unlock()
	if exact != p.exact {
		if exact {
			p.log.Info("the BPF filter admits exactly the fabric's MACs again", "interface", p.ifname, "macs", len(macs))
		} else {
			p.log.Warn("too many MACs for a BPF filter: admitting every frame", "interface", p.ifname, "macs", len(macs), "limit", MaxFilterInstructions)
		}
		p.exact = exact
	}
	if slices.Equal(prog, p.prog) {
		return
	}
	p.prog = prog
	p.progGen++
	if h := p.sup.Current(); h != nil {
		if err := h.dev.setFilter(prog); err != nil {
			p.log.Warn("cannot set the BPF filter", "interface", p.ifname, "error", err)
		}
		h.gen = p.progGen
	}
}

// RxDropped implements fabric.RxDropper: frames the kernel dropped
// because the BPF buffers were full (bs_drop), and frames this port
// dropped: captures the kernel cut short, malformed buffers.
func (p *Port) RxDropped() uint64 {
	p.smu.Lock()
	defer p.smu.Unlock()
	if h := p.sup.Current(); h != nil {
		p.observeDrops(h)
	}
	return p.kernelDrops + p.dropped.Load()
}

// BatchSize implements fabric.Port.
func (p *Port) BatchSize() int { return batchSize }

// Close implements fabric.Port: it closes the BPF descriptor and the NDRV
// socket, which makes a pending Read return, stops watching the interface
// and closes the link event channel.
func (p *Port) Close() error {
	p.sup.Close()
	return nil
}

// Read implements fabric.Port: one BPF read returns many frames, which are
// copied into bufs; those that do not fit are kept for the next Read.
// While the interface is gone or down it waits for the supervisor's next
// change.
func (p *Port) Read(bufs [][]byte, sizes []int) (int, error) {
	if len(bufs) == 0 {
		return 0, nil
	}
	for {
		if n := p.rx.drain(bufs, sizes, &p.dropped); n > 0 {
			return n, nil
		}
		if p.sup.Closed() {
			return 0, net.ErrClosed
		}
		h, changed := p.sup.Handle()
		wait := func() error {
			select {
			case <-changed:
				return nil
			case <-p.sup.Done():
				return net.ErrClosed
			}
		}
		if h == nil {
			if err := wait(); err != nil {
				return 0, err
			}
			continue
		}
		if l := h.dev.bufLen(); len(p.rxbuf) != l {
			p.rxbuf = make([]byte, l)
		}
		n, err := h.dev.read(p.rxbuf)
		if err != nil {
			if p.sup.Closed() {
				return 0, net.ErrClosed
			}
			switch {
			case errors.Is(err, errClosed) && p.sup.Current() != h:
				// The supervisor replaced the device.
				continue
			case errors.Is(err, errGone), errors.Is(err, errClosed):
				p.sup.Dead(h)
				if err := wait(); err != nil {
					return 0, err
				}
				continue
			case errors.Is(err, errDown):
				// Wait for the link to come up, unless the events
				// already said it is.
				if !p.sup.Up() {
					if err := wait(); err != nil {
						return 0, err
					}
				}
				continue
			}
			return 0, fmt.Errorf("receiving on %s: %w", p.ifname, err)
		}
		p.rx.reset(p.rxbuf[:n])
	}
}

// Write implements fabric.Port: each frame is sent on the NDRV socket, one
// system call per frame. When the interface has no room (ENOBUFS), Write
// retries every 50 µs for at most 50 ms in all, then gives up with
// fabric.ErrTxFull. A gone or down interface is fabric.ErrLinkDown.
func (p *Port) Write(bufs [][]byte) (int, error) {
	h := p.sup.Current()
	if h == nil {
		return 0, fmt.Errorf("%w: %s is gone", fabric.ErrLinkDown, p.ifname)
	}
	var deadline time.Time
	for i := 0; i < len(bufs); {
		err := h.dev.write(bufs[i])
		switch {
		case err == nil:
			i++
		case errors.Is(err, errAgain):
			now := time.Now()
			if deadline.IsZero() {
				deadline = now.Add(p.timing.sendTimeout)
			} else if now.After(deadline) {
				return i, fmt.Errorf("%w: %s", fabric.ErrTxFull, p.ifname)
			}
			time.Sleep(p.timing.sendBackoff)
		case errors.Is(err, errClosed):
			if nh := p.sup.Current(); nh != nil && nh != h {
				h = nh // the supervisor replaced the device: carry on with the new one
				continue
			}
			return i, fmt.Errorf("%w: %s is gone", fabric.ErrLinkDown, p.ifname)
		case errors.Is(err, errGone):
			p.sup.Dead(h)
			return i, fmt.Errorf("%w: %s: %v", fabric.ErrLinkDown, p.ifname, err)
		case errors.Is(err, errDown):
			return i, fmt.Errorf("%w: %s: %v", fabric.ErrLinkDown, p.ifname, err)
		default:
			return i, fmt.Errorf("sending on %s: %w", p.ifname, err)
		}
	}
	return len(bufs), nil
}

// rxQueue hands the records of the last BPF read over to Read, a batch at
// a time.
type rxQueue struct {
	rr RecordReader
}

// reset queues the records of buf.
func (q *rxQueue) reset(buf []byte) { q.rr.Reset(buf) }

// drain copies queued frames into bufs and returns how many it copied. A
// frame longer than its buffer is reported with a size one byte more than
// the buffer (the fabric counts it as oversize); a capture the kernel cut
// short, an empty one, and a malformed rest of the buffer are counted in
// dropped.
func (q *rxQueue) drain(bufs [][]byte, sizes []int, dropped *atomic.Uint64) int {
	n := 0
	for n < len(bufs) && n < len(sizes) {
		rec, err := q.rr.Next()
		if err == io.EOF {
			break
		}
		if err != nil || rec.Truncated() || len(rec.Data) == 0 {
			dropped.Add(1)
			continue
		}
		if len(rec.Data) > len(bufs[n]) {
			sizes[n] = len(bufs[n]) + 1
		} else {
			sizes[n] = copy(bufs[n], rec.Data)
		}
		n++
	}
	return n
}
