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
	// pollInterval is how often the link monitor looks at the interface.
	pollInterval = 250 * time.Millisecond
	// sendTimeout bounds how long a Write retries frames the interface
	// has no room for before it gives up with fabric.ErrTxFull.
	sendTimeout = 50 * time.Millisecond
	// sendBackoff is the pause between two such retries.
	sendBackoff = 50 * time.Microsecond
)

// timing is a port's timing: defaultTiming in production, shorter or
// longer in tests.
type timing struct {
	poll        time.Duration // pollInterval
	sendTimeout time.Duration
	sendBackoff time.Duration
}

// defaultTiming returns the timing of the ports Open returns.
func defaultTiming() timing {
	return timing{poll: pollInterval, sendTimeout: sendTimeout, sendBackoff: sendBackoff}
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
	// errClosed: the device was closed (by Close, or by the monitor
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

// ifaceState is what the link monitor learns about the interface.
type ifaceState struct {
	present bool // the interface exists
	up      bool // administratively up, and running (carrier)
	index   int  // its index: a new one means it was deleted and re-created
}

// system is what a port needs from the operating system: the darwin glue
// in production, fakes in tests.
type system interface {
	// open opens a device on ifname with filter prog.
	open(ifname string, cfg Config, prog []bpf.RawInstruction) (device, error)
	// lookup returns the interface's state; an error means it could not
	// be learned this time (not that the interface is gone).
	lookup(ifname string) (ifaceState, error)
}

// handle is the device the port currently uses.
type handle struct {
	dev   device
	index int
	// dead is set when the device reported errGone: the monitor replaces
	// it at its next look.
	dead atomic.Bool
	// dropSeen is the last bs_drop observed (guarded by Port.smu).
	dropSeen uint32
}

// Port is a host interface on the fabric through BPF and NDRV. It
// implements fabric.Port, fabric.Linker, fabric.AddressFilter and
// fabric.RxDropper. When the interface is deleted the port reports its
// link down and, when an interface of that name is back, reopens BPF and
// NDRV on it and reports the link up.
type Port struct {
	ifname string
	cfg    Config
	sys    system
	log    hclog.Logger
	timing timing

	cur     atomic.Pointer[handle] // nil while the interface is gone
	changed chan struct{}          // a token when cur was replaced
	done    chan struct{}
	closing atomic.Bool
	wg      sync.WaitGroup

	// fmu guards the filter and serializes replacing cur with applying
	// a new filter, so that no device keeps an old one.
	fmu     sync.Mutex
	prog    []bpf.RawInstruction
	progGen uint64
	exact   bool

	link *fabric.LinkState

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

// newPort opens a device on ifname through sys and starts the link
// monitor. The port starts admitting broadcast and multicast only, until
// SetRemoteMACs says which unicast MACs live behind the fabric's other
// ports.
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
	st, err := sys.lookup(ifname)
	if err != nil {
		return nil, fmt.Errorf("looking up %s: %w", ifname, err)
	}
	if !st.present {
		return nil, fmt.Errorf("no interface %q", ifname)
	}
	prog, exact := FilterProgram(nil)
	dev, err := sys.open(ifname, cfg, prog)
	if err != nil {
		return nil, err
	}
	p := &Port{
		ifname:  ifname,
		cfg:     cfg,
		sys:     sys,
		log:     log,
		timing:  t,
		changed: make(chan struct{}, 1),
		done:    make(chan struct{}),
		link:    fabric.NewLinkState(),
		prog:    prog,
		exact:   exact,
	}
	p.cur.Store(&handle{dev: dev, index: st.index})
	p.wg.Add(1)
	go p.monitor()
	return p, nil
}

// monitor looks at the interface every poll interval until the port
// closes.
func (p *Port) monitor() {
	defer p.wg.Done()
	t := time.NewTicker(p.timing.poll)
	defer t.Stop()
	var lastErr string
	for {
		select {
		case <-p.done:
			return
		case <-t.C:
		}
		p.check(&lastErr)
	}
}

// check is one look at the interface: it drops the device when the
// interface is gone, opens a new one when the interface is back (or was
// re-created, or the device died), and reports link changes. lastErr is
// the last reopening error logged, so that a persistent one is logged
// once.
func (p *Port) check(lastErr *string) {
	st, err := p.sys.lookup(p.ifname)
	if err != nil {
		if msg := err.Error(); msg != *lastErr {
			p.log.Warn("cannot look the interface up", "interface", p.ifname, "error", err)
			*lastErr = msg
		}
		return
	}
	cur := p.cur.Load()
	reason := "interface down or no carrier"
	reopened := false
	switch {
	case !st.present:
		if cur != nil {
			p.replace(cur, nil, 0)
		}
		reason = "interface gone"
	case cur == nil || cur.dead.Load() || cur.index != st.index:
		h, gen, err := p.openHandle(st.index)
		if err != nil {
			if msg := err.Error(); msg != *lastErr {
				p.log.Warn("cannot reopen the interface", "interface", p.ifname, "error", err)
				*lastErr = msg
			}
			if cur != nil {
				// Attached to an interface that is no more.
				p.replace(cur, nil, 0)
			}
			reason = "cannot reopen the interface: " + err.Error()
			st.up = false
			break
		}
		*lastErr = ""
		p.replace(cur, h, gen)
		reopened = cur == nil
	}
	up := st.present && st.up && p.cur.Load() != nil
	if up == p.link.Up() {
		return
	}
	if up {
		reason = "interface up"
		if reopened {
			reason = "interface back"
		}
	}
	p.link.Set(up, reason, false)
}

// openHandle opens a device with the current filter, and returns it with
// the filter's generation.
func (p *Port) openHandle(index int) (*handle, uint64, error) {
	p.fmu.Lock()
	prog, gen := p.prog, p.progGen
	p.fmu.Unlock()
	dev, err := p.sys.open(p.ifname, p.cfg, prog)
	if err != nil {
		return nil, 0, err
	}
	return &handle{dev: dev, index: index}, gen, nil
}

// replace makes h (nil: none) the current device in place of old, gives
// h the current filter if it changed since h was opened with generation
// gen, and retires old.
func (p *Port) replace(old, h *handle, gen uint64) {
	p.fmu.Lock()
	if p.closing.Load() || !p.cur.CompareAndSwap(old, h) {
		p.fmu.Unlock()
		if h != nil {
			h.dev.close()
		}
		return
	}
	if h != nil && gen != p.progGen {
		if err := h.dev.setFilter(p.prog); err != nil {
			p.log.Warn("cannot set the BPF filter", "interface", p.ifname, "error", err)
		}
	}
	p.fmu.Unlock()
	if old != nil {
		p.retire(old)
	}
	select {
	case p.changed <- struct{}{}:
	default:
	}
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
func (p *Port) LinkEvents() <-chan fabric.LinkEvent { return p.link.LinkEvents() }

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
	if h := p.cur.Load(); h != nil {
		if err := h.dev.setFilter(prog); err != nil {
			p.log.Warn("cannot set the BPF filter", "interface", p.ifname, "error", err)
		}
	}
}

// RxDropped implements fabric.RxDropper: frames the kernel dropped
// because the BPF buffers were full (bs_drop), and frames this port
// dropped: captures the kernel cut short, malformed buffers.
func (p *Port) RxDropped() uint64 {
	p.smu.Lock()
	defer p.smu.Unlock()
	if h := p.cur.Load(); h != nil {
		p.observeDrops(h)
	}
	return p.kernelDrops + p.dropped.Load()
}

// BatchSize implements fabric.Port.
func (p *Port) BatchSize() int { return batchSize }

// Close implements fabric.Port: it closes the BPF descriptor and the NDRV
// socket, which makes a pending Read return, stops the link monitor and
// closes the link event channel.
func (p *Port) Close() error {
	if p.closing.Swap(true) {
		return nil
	}
	close(p.done)
	p.fmu.Lock()
	old := p.cur.Swap(nil)
	p.fmu.Unlock()
	if old != nil {
		p.retire(old)
	}
	p.wg.Wait()
	p.link.Close()
	return nil
}

// Read implements fabric.Port: one BPF read returns many frames, which are
// copied into bufs; those that do not fit are kept for the next Read.
func (p *Port) Read(bufs [][]byte, sizes []int) (int, error) {
	if len(bufs) == 0 {
		return 0, nil
	}
	var wait *time.Timer
	defer func() {
		if wait != nil {
			wait.Stop()
		}
	}()
	// pause waits for the device to be replaced, or for a while.
	pause := func() error {
		if wait == nil {
			wait = time.NewTimer(p.timing.poll)
		} else {
			wait.Reset(p.timing.poll)
		}
		select {
		case <-p.changed:
		case <-wait.C:
		case <-p.done:
			return net.ErrClosed
		}
		return nil
	}
	for {
		if n := p.rx.drain(bufs, sizes, &p.dropped); n > 0 {
			return n, nil
		}
		if p.closing.Load() {
			return 0, net.ErrClosed
		}
		h := p.cur.Load()
		if h == nil || h.dead.Load() {
			if err := pause(); err != nil {
				return 0, err
			}
			continue
		}
		if l := h.dev.bufLen(); len(p.rxbuf) != l {
			p.rxbuf = make([]byte, l)
		}
		n, err := h.dev.read(p.rxbuf)
		if err != nil {
			if p.closing.Load() {
				return 0, net.ErrClosed
			}
			switch {
			case errors.Is(err, errClosed) && p.cur.Load() != h:
				// The monitor replaced the device.
				continue
			case errors.Is(err, errGone), errors.Is(err, errClosed):
				h.dead.Store(true)
				continue
			case errors.Is(err, errDown):
				if err := pause(); err != nil {
					return 0, err
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
	h := p.cur.Load()
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
			if nh := p.cur.Load(); nh != nil && nh != h {
				h = nh // the monitor replaced the device: carry on with the new one
				continue
			}
			return i, fmt.Errorf("%w: %s is gone", fabric.ErrLinkDown, p.ifname)
		case errors.Is(err, errGone):
			h.dead.Store(true)
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

// lookupInterface is the system's lookup: the interface named name, from
// the list of interfaces (so that an error listing them is not mistaken
// for the interface being gone).
func lookupInterface(name string) (ifaceState, error) {
	ifs, err := net.Interfaces()
	if err != nil {
		return ifaceState{}, err
	}
	for _, ifi := range ifs {
		if ifi.Name == name {
			return ifaceState{
				present: true,
				up:      ifi.Flags&net.FlagUp != 0 && ifi.Flags&net.FlagRunning != 0,
				index:   ifi.Index,
			}, nil
		}
	}
	return ifaceState{}, nil
}
