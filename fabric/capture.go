package fabric

import (
	"errors"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/l2fabric/l2fabric/frames"
)

// Captures copy frames as they enter and leave the fabric, for
// `l2fabric capture`. The forwarding path publishes at two points, each
// one atomic load per batch when nobody captures:
//
//   - inbound, in forward, before admit: the frame exactly as the port's
//     backend read it, VLAN tag included (admit pops the tag in place, so
//     after it the frame as it was on the link is gone), and frames admit
//     then drops are seen too, as tcpdump on a bridge port sees them;
//   - outbound, in transmit, after the backend's Write: the frames the
//     port really sent, tagged or not as they left, super-frames already
//     cut for ports that cannot take them; frames the queue or the backend
//     dropped are not shown as sent.
//
// While captures run, each selected frame is copied into each capture's
// bounded buffer of records; when a capture's reader falls behind and the
// buffer is full the frame is not copied and counted as dropped by that
// capture. Forwarding never waits for a capture.

// Direction says whether a captured frame entered or left the fabric.
type Direction uint8

// Directions of captured frames.
const (
	// Inbound frames were read from the port.
	Inbound Direction = 1
	// Outbound frames were sent through the port.
	Outbound Direction = 2
)

// String returns "in" or "out".
func (d Direction) String() string {
	switch d {
	case Inbound:
		return "in"
	case Outbound:
		return "out"
	}
	return "?"
}

// CaptureFilter selects the frames a capture copies. Its zero value
// selects every frame of every port.
type CaptureFilter struct {
	// Ports, when not empty, are the names of the ports whose frames are
	// copied; a port attached later under one of these names is included.
	// Empty means every port, including ports attached later.
	Ports []string
	// VLAN, when not 0, selects the frames of one VLAN: a tagged frame's
	// VID, or for an untagged (or priority-tagged) frame the port's access
	// or native VLAN.
	VLAN uint16
	// Buffer is the number of frames the capture holds for its reader
	// before it drops; 0 means DefaultCaptureBuffer.
	Buffer int
}

// Capture buffer sizes.
const (
	// DefaultCaptureBuffer is a capture's buffer when CaptureFilter.Buffer
	// is 0: about 6 ms of a 10 Gbit/s link's full-size frames.
	DefaultCaptureBuffer = 4096
	// MaxCaptureBuffer bounds CaptureFilter.Buffer.
	MaxCaptureBuffer = 1 << 16
	// keptRecordCap is the largest buffer a released record keeps for
	// reuse; a record that held a larger frame (a super-frame) gives its
	// buffer back to the garbage collector, so an idle capture holds at
	// most Buffer times this much.
	keptRecordCap = 2048
)

// CapturedFrame is one frame a capture copied.
type CapturedFrame struct {
	// Port is the name of the port the frame entered or left by.
	Port string
	// Dir is the direction.
	Dir Direction
	// Time is when the fabric saw the frame's batch.
	Time time.Time
	// Data is the frame as it was on the port's link. It is valid until
	// the record is given back with Capture.Release.
	Data []byte
}

// Capture is a running capture. Read its frames from Frames and give each
// back with Release; Close ends it.
type Capture struct {
	hub    *captureHub
	ports  map[string]bool // nil: every port
	vlan   uint16
	free   chan *CapturedFrame
	ready  chan *CapturedFrame
	copied atomic.Uint64
	lost   atomic.Uint64
	once   sync.Once
}

// ErrCaptureBuffer is returned by StartCapture for a buffer size out of
// range.
var ErrCaptureBuffer = errors.New("capture buffer must be 1-65536 frames")

// StartCapture starts copying the frames filter selects. Frames of ports
// attached later are included when the filter selects them.
func (f *Fabric) StartCapture(filter CaptureFilter) (*Capture, error) {
	n := filter.Buffer
	if n == 0 {
		n = DefaultCaptureBuffer
	}
	if n < 1 || n > MaxCaptureBuffer {
		return nil, ErrCaptureBuffer
	}
	if filter.VLAN > frames.MaxVLAN {
		return nil, errors.New("capture VLAN must be 1-4094")
	}
	c := &Capture{
		hub:   &f.captures,
		vlan:  filter.VLAN,
		free:  make(chan *CapturedFrame, n),
		ready: make(chan *CapturedFrame, n),
	}
	if len(filter.Ports) > 0 {
		c.ports = map[string]bool{}
		for _, p := range filter.Ports {
			c.ports[p] = true
		}
	}
	for range n {
		c.free <- &CapturedFrame{}
	}
	f.captures.add(c)
	return c, nil
}

// Frames returns the channel the captured frames arrive on. It is never
// closed: stop reading when done, then Close.
func (c *Capture) Frames() <-chan *CapturedFrame { return c.ready }

// Release gives back a record read from Frames, for reuse.
func (c *Capture) Release(r *CapturedFrame) {
	if cap(r.Data) > keptRecordCap {
		r.Data = nil
	}
	r.Port = ""
	select {
	case c.free <- r:
	default: // not one of ours: drop it
	}
}

// Copied returns how many frames the capture has copied.
func (c *Capture) Copied() uint64 { return c.copied.Load() }

// Dropped returns how many selected frames the capture lost because its
// reader was behind and its buffer full.
func (c *Capture) Dropped() uint64 { return c.lost.Load() }

// Close stops the capture. Frames already in its buffer stay readable.
func (c *Capture) Close() {
	c.once.Do(func() { c.hub.remove(c) })
}

// wants reports whether the capture selects frames of port name.
func (c *Capture) wants(name string) bool { return c.ports == nil || c.ports[name] }

// put copies one frame into the capture's buffer, or counts it lost.
func (c *Capture) put(p *port, dir Direction, now time.Time, fr []byte) {
	if c.vlan != 0 && frameVLAN(p, fr) != c.vlan {
		return
	}
	var r *CapturedFrame
	select {
	case r = <-c.free:
	default:
		c.lost.Add(1)
		return
	}
	r.Port, r.Dir, r.Time = p.Name, dir, now
	r.Data = append(r.Data[:0], fr...)
	select {
	case c.ready <- r: // there is room for every record a capture has
		c.copied.Add(1)
	default: // unless its reader released one that was not its own
		c.lost.Add(1)
	}
}

// frameVLAN is the VLAN a frame on p belongs to, for filters: its tag's
// VID, or p's access or native VLAN.
func frameVLAN(p *port, fr []byte) uint16 {
	f := frames.Frame(fr)
	if len(f) >= frames.HeaderLen+frames.TagLen && f.Tagged() {
		if vid := f.VLAN(); vid != 0 {
			return vid
		}
	}
	return p.VLAN
}

// captureHub is the fabric's set of running captures. The forwarding path
// loads set once per batch; it is nil when nobody captures.
type captureHub struct {
	set atomic.Pointer[captureSet]
	mu  sync.Mutex // serialises changes of set
}

// captureSet is an immutable list of running captures.
type captureSet struct{ list []*Capture }

func (h *captureHub) add(c *Capture) {
	h.mu.Lock()
	defer h.mu.Unlock()
	var list []*Capture
	if s := h.set.Load(); s != nil {
		list = slices.Clone(s.list)
	}
	h.set.Store(&captureSet{list: append(list, c)})
}

func (h *captureHub) remove(c *Capture) {
	h.mu.Lock()
	defer h.mu.Unlock()
	s := h.set.Load()
	if s == nil {
		return
	}
	list := slices.DeleteFunc(slices.Clone(s.list), func(o *Capture) bool { return o == c })
	if len(list) == 0 {
		h.set.Store(nil)
		return
	}
	h.set.Store(&captureSet{list: list})
}

// inbound offers the n frames a batch read from p to every capture.
// sizes[i] larger than bufs[i] marks a frame too long to have been read
// whole: it is not copied.
func (s *captureSet) inbound(p *port, bufs [][]byte, sizes []int) {
	var now time.Time
	for _, c := range s.list {
		if !c.wants(p.Name) {
			continue
		}
		if now.IsZero() {
			now = time.Now()
		}
		for i, size := range sizes {
			if size >= 0 && size <= len(bufs[i]) {
				c.put(p, Inbound, now, bufs[i][:size])
			}
		}
	}
}

// outbound offers the frames p has just sent to every capture.
func (s *captureSet) outbound(p *port, sent [][]byte) {
	var now time.Time
	for _, c := range s.list {
		if !c.wants(p.Name) {
			continue
		}
		if now.IsZero() {
			now = time.Now()
		}
		for _, fr := range sent {
			c.put(p, Outbound, now, fr)
		}
	}
}
