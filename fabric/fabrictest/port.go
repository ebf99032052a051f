// Package fabrictest provides an in-memory fabric.Port for testing the
// fabric and the code around it without sockets.
package fabrictest

import (
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/l2fabric/l2fabric/fabric"
	"github.com/l2fabric/l2fabric/frames"
	"github.com/l2fabric/l2fabric/frames/offload"
)

// Port is an in-memory fabric.Port. Frames given to Inject come out of
// Read; frames the fabric writes are collected and can be awaited with
// Next or Expect.
type Port struct {
	in    chan []byte
	done  chan struct{}
	once  sync.Once
	batch int

	mu      sync.Mutex
	cond    *sync.Cond
	written [][]byte
	block   chan struct{} // when not nil, Write waits on it
	pace    time.Duration // Write sleeps this long first
	writeFn func([][]byte) (int, error)
	events  chan fabric.LinkEvent
	closed  bool
	mirror  []*Port // ports that read what this one is written (Cable)
}

var _ fabric.Linker = (*Port)(nil)

var _ fabric.Port = (*Port)(nil)

// New returns a port reading and writing batches of up to batch frames.
func New(batch int) *Port {
	p := &Port{in: make(chan []byte, 4096), done: make(chan struct{}), batch: batch, events: make(chan fabric.LinkEvent, 16)}
	p.cond = sync.NewCond(&p.mu)
	return p
}

// Inject queues frames for the fabric to read, in order. Frames are
// copied.
func (p *Port) Inject(frames ...[]byte) {
	for _, f := range frames {
		p.in <- append([]byte(nil), f...)
	}
}

// Block makes Write wait until Unblock, simulating a peer that stopped
// reading.
func (p *Port) Block() {
	p.mu.Lock()
	p.block = make(chan struct{})
	p.mu.Unlock()
}

// Unblock releases a Block.
func (p *Port) Unblock() {
	p.mu.Lock()
	if p.block != nil {
		close(p.block)
		p.block = nil
	}
	p.mu.Unlock()
}

// Pace makes every later Write take at least d, simulating a peer that
// keeps reading but more slowly than frames come.
func (p *Port) Pace(d time.Duration) {
	p.mu.Lock()
	p.pace = d
	p.mu.Unlock()
}

// FailWrites makes every later Write return err without sending.
func (p *Port) FailWrites(err error) {
	p.mu.Lock()
	p.writeFn = func([][]byte) (int, error) { return 0, err }
	p.mu.Unlock()
}

// Cable makes every frame written to p readable on each of to as well, as
// if p and they were on one LAN: cabling two ports to each other makes a
// loop. Frames that do not fit a port's input are dropped, as a LAN under
// a storm does. Cable with no ports removes the cable.
func (p *Port) Cable(to ...*Port) {
	p.mu.Lock()
	p.mirror = to
	p.mu.Unlock()
}

// SetLink reports the port's link going up or down, as a NIC losing
// carrier would.
func (p *Port) SetLink(up bool, reason string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.closed {
		p.events <- fabric.LinkEvent{Up: up, Reason: reason}
	}
}

// LinkEvents implements fabric.Linker.
func (p *Port) LinkEvents() <-chan fabric.LinkEvent { return p.events }

// Read implements fabric.Port.
func (p *Port) Read(bufs [][]byte, sizes []int) (int, error) {
	n := 0
	select {
	case f := <-p.in:
		sizes[0] = copyFrame(bufs[0], f)
		n = 1
	case <-p.done:
		return 0, errors.New("port closed")
	}
	for n < len(bufs) {
		select {
		case f := <-p.in:
			sizes[n] = copyFrame(bufs[n], f)
			n++
		default:
			return n, nil
		}
	}
	return n, nil
}

// copyFrame copies f into b, reporting a frame that does not fit with a
// size larger than b, as the Port contract asks.
func copyFrame(b, f []byte) int {
	if len(f) > len(b) {
		return len(b) + 1
	}
	return copy(b, f)
}

// Write implements fabric.Port.
func (p *Port) Write(bufs [][]byte) (int, error) {
	p.mu.Lock()
	block, fn, pace := p.block, p.writeFn, p.pace
	p.mu.Unlock()
	if pace > 0 {
		time.Sleep(pace)
	}
	if block != nil {
		select {
		case <-block:
		case <-p.done:
			return 0, errors.New("port closed")
		}
	}
	if fn != nil {
		return fn(bufs)
	}
	p.mu.Lock()
	for _, b := range bufs {
		p.written = append(p.written, append([]byte(nil), b...))
	}
	mirror := p.mirror
	p.cond.Broadcast()
	p.mu.Unlock()
	for _, q := range mirror {
		for _, b := range bufs {
			select {
			case q.in <- append([]byte(nil), b...):
			default:
			}
		}
	}
	return len(bufs), nil
}

// BatchSize implements fabric.Port.
func (p *Port) BatchSize() int { return p.batch }

// Close implements fabric.Port.
func (p *Port) Close() error {
	p.once.Do(func() { close(p.done) })
	p.mu.Lock()
	if !p.closed {
		p.closed = true
		close(p.events)
	}
	p.cond.Broadcast()
	p.mu.Unlock()
	return nil
}

// Closed reports whether Close was called.
func (p *Port) Closed() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// Written returns a copy of every frame written so far.
func (p *Port) Written() [][]byte {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([][]byte(nil), p.written...)
}

// WaitWritten waits until at least n frames have been written or timeout
// passes, and returns what was written.
func (p *Port) WaitWritten(n int, timeout time.Duration) ([][]byte, error) {
	deadline := time.Now().Add(timeout)
	timer := time.AfterFunc(timeout, func() {
		p.mu.Lock()
		p.cond.Broadcast()
		p.mu.Unlock()
	})
	defer timer.Stop()
	p.mu.Lock()
	defer p.mu.Unlock()
	for len(p.written) < n {
		if time.Now().After(deadline) {
			return append([][]byte(nil), p.written...), fmt.Errorf("%d frames written, want %d", len(p.written), n)
		}
		p.cond.Wait()
	}
	return append([][]byte(nil), p.written...), nil
}

// GSOPort is a Port that also carries super-frames (fabric.GSOPort):
// InjectGSO gives a frame with its virtio-net header, and WrittenGSO
// returns the headers of the frames written.
type GSOPort struct {
	*Port
	mu    sync.Mutex
	inHdr []offload.Header
	out   []offload.Header
}

var _ fabric.GSOPort = (*GSOPort)(nil)

// NewGSO returns a GSOPort reading and writing batches of up to batch
// frames.
func NewGSO(batch int) *GSOPort { return &GSOPort{Port: New(batch)} }

// InjectGSO queues a frame described by h for the fabric to read. Use it
// alone (not mixed with Inject) on a GSOPort.
func (p *GSOPort) InjectGSO(frame []byte, h offload.Header) {
	p.mu.Lock()
	p.inHdr = append(p.inHdr, h)
	p.mu.Unlock()
	p.Inject(frame)
}

// ReadGSO implements fabric.GSOPort.
func (p *GSOPort) ReadGSO(bufs [][]byte, sizes []int, hdrs []offload.Header) (int, error) {
	n, err := p.Port.Read(bufs, sizes)
	p.mu.Lock()
	for i := 0; i < n; i++ {
		hdrs[i] = offload.Header{}
		if len(p.inHdr) > 0 {
			hdrs[i], p.inHdr = p.inHdr[0], p.inHdr[1:]
		}
	}
	p.mu.Unlock()
	return n, err
}

// WriteGSO implements fabric.GSOPort.
func (p *GSOPort) WriteGSO(bufs [][]byte, hdrs []offload.Header) (int, error) {
	n, err := p.Port.Write(bufs)
	p.mu.Lock()
	p.out = append(p.out, hdrs[:n]...)
	p.mu.Unlock()
	return n, err
}

// WrittenGSO returns the headers of the frames written so far, in order.
func (p *GSOPort) WrittenGSO() []offload.Header {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]offload.Header(nil), p.out...)
}

// FilterPort is a Port that is told the MACs behind the other ports
// (fabric.AddressFilter), as a BPF-filtered NIC is.
type FilterPort struct {
	*Port
	mu     sync.Mutex
	remote []frames.MAC
	calls  int
}

var _ fabric.AddressFilter = (*FilterPort)(nil)

// NewFilter returns a FilterPort reading and writing batches of up to
// batch frames.
func NewFilter(batch int) *FilterPort { return &FilterPort{Port: New(batch)} }

// SetRemoteMACs implements fabric.AddressFilter.
func (p *FilterPort) SetRemoteMACs(macs []frames.MAC) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.remote = append([]frames.MAC(nil), macs...)
	p.calls++
}

// Remote returns the last set of MACs the fabric gave and how many times
// it was called.
func (p *FilterPort) Remote() ([]frames.MAC, int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]frames.MAC(nil), p.remote...), p.calls
}

// ViewPort is a Port the fabric reads with ReadViews
// (fabric.ViewReader): it hands over views of one buffer of its own, and
// scribbles over that buffer at the start of every call, so that a
// fabric keeping a view past its call would send garbage.
type ViewPort struct {
	*Port
	buf  []byte
	bufs [][]byte
}

var _ fabric.ViewReader = (*ViewPort)(nil)

// viewSlot is the room each frame has in a ViewPort's buffer: a longer
// one is reported as too long, as the fabric.ViewReader contract says.
const viewSlot = 2048

// NewView returns a ViewPort reading and writing batches of up to batch
// frames.
func NewView(batch int) *ViewPort {
	p := &ViewPort{Port: New(batch), buf: make([]byte, batch*viewSlot)}
	for i := 0; i < batch; i++ {
		p.bufs = append(p.bufs, p.buf[i*viewSlot:(i+1)*viewSlot])
	}
	return p
}

// ReadViews implements fabric.ViewReader.
func (p *ViewPort) ReadViews(views [][]byte, sizes []int) (int, error) {
	for i := range p.buf {
		p.buf[i] = 0xee
	}
	n, err := p.Port.Read(p.bufs[:min(len(views), len(p.bufs))], sizes)
	for i := 0; i < n; i++ {
		if sizes[i] > viewSlot {
			views[i] = nil
			continue
		}
		views[i] = p.bufs[i][:sizes[i]]
	}
	return n, err
}
