package vxlan

import (
	"os"
	"sync"
	"time"

	"github.com/l2fabric/l2fabric/fabric"
	"github.com/l2fabric/l2fabric/frames"
	"github.com/l2fabric/l2fabric/frames/offload"
)

// ring carries decapsulated frames from a socket's reader to one port's
// Read. The reader copies each inner frame into a slot (inserting the
// VLAN tag on a vnis= trunk), Read copies slots into the fabric's
// buffers.
//
// When the ring is full the reader waits for the port to take frames, as
// the fabric waits for a busy port (fabric.FlowControl): up to MaxHold per
// batch it read, and only while the port is making progress; frames for a
// port that has stopped reading are dropped at once (and counted), so one
// port can never stall the others on its socket.
type ring struct {
	mu     sync.Mutex
	slots  [][]byte
	sizes  []int
	head   int
	count  int
	closed bool
	wake   chan struct{} // to Read: frames queued
	popped chan struct{} // to the reader, while it waits: room made
	active time.Time     // when Read last took frames, or frames came to an empty ring
	flow   fabric.FlowControl
}

// Bounds of a port's ring: ringLen frames, but no more than ringBytes of
// slots (a port with a 64 KiB MTU gets fewer), and at least ringMin.
const (
	ringLen   = 1024
	ringBytes = 8 << 20
	ringMin   = 64
)

// ringSlots is the number of slots of slotLen bytes a ring gets.
func ringSlots(slotLen int) int { return max(min(ringLen, ringBytes/slotLen), ringMin) }

func newRing(n, slotLen int, flow fabric.FlowControl) *ring {
	r := &ring{slots: make([][]byte, n), sizes: make([]int, n),
		wake: make(chan struct{}, 1), popped: make(chan struct{}, 1), flow: flow}
	for i := range r.slots {
		r.slots[i] = make([]byte, slotLen)
	}
	return r
}

// pushResult is what push did with a frame.
type pushResult uint8

const (
	pushed pushResult = iota
	pushFull
	pushOversize
)

// push copies f into the ring, tagged with vlan when tag is set. It waits
// for room as hold allows (hold is what is left of the reader's batch
// budget, updated). The reader calls wakeReader when its batch is done.
func (r *ring) push(f frames.Frame, tag bool, vlan uint16, hold *time.Duration, timer *time.Timer) pushResult {
	need := len(f)
	if tag {
		need += frames.TagLen
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	for !r.closed && r.count == len(r.slots) {
		if !r.waitRoom(hold, timer) {
			return pushFull
		}
	}
	if r.closed {
		return pushFull
	}
	j := (r.head + r.count) % len(r.slots)
	s := r.slots[j]
	if need > len(s) {
		return pushOversize
	}
	if tag {
		r.sizes[j] = len(frames.AppendTagged(s[:0], f, vlan))
	} else {
		r.sizes[j] = copy(s, f)
	}
	if r.count == 0 {
		r.active = time.Now()
	}
	r.count++
	return pushed
}

// waitRoom waits, with r.mu held and released meanwhile, for Read to take
// frames, and reports whether it did.
func (r *ring) waitRoom(hold *time.Duration, timer *time.Timer) bool {
	if *hold <= 0 {
		return false
	}
	start := time.Now()
	stall := r.flow.StallAfter
	if stall <= 0 {
		stall = fabric.DefaultStallAfter
	}
	if start.Sub(r.active) > stall {
		return false
	}
	r.mu.Unlock()
	r.wakeReader()
	timer.Reset(*hold)
	woke := false
	select {
	case <-r.popped:
		woke = true
	case <-timer.C:
	}
	timer.Stop()
	*hold -= time.Since(start)
	if !woke {
		*hold = 0
	}
	r.mu.Lock()
	return woke
}

// wakeReader tells Read frames are queued.
func (r *ring) wakeReader() {
	select {
	case r.wake <- struct{}{}:
	default:
	}
}

// pop copies up to len(bufs) frames out, blocking until there is one or
// the ring is closed.
func (r *ring) pop(bufs [][]byte, sizes []int) (int, error) {
	for {
		r.mu.Lock()
		if r.closed {
			r.mu.Unlock()
			return 0, os.ErrClosed
		}
		n := min(r.count, len(bufs))
		for k := 0; k < n; k++ {
			i := (r.head + k) % len(r.slots)
			size := r.sizes[i]
			if size > len(bufs[k]) {
				sizes[k] = len(bufs[k]) + 1 // oversize: report, never truncate
			} else {
				sizes[k] = copy(bufs[k], r.slots[i][:size])
			}
		}
		r.head = (r.head + n) % len(r.slots)
		r.count -= n
		if n > 0 {
			r.active = time.Now()
		}
		r.mu.Unlock()
		if n > 0 {
			select {
			case r.popped <- struct{}{}:
			default:
			}
			return n, nil
		}
		<-r.wake
	}
}

// popGSO is pop for a fabric.GSOPort: consecutive segments of one TCP
// flow are joined into a super-frame (see gro.go) described by hdrs[k];
// other frames are copied as they are, with an empty header.
func (r *ring) popGSO(bufs [][]byte, sizes []int, hdrs []offload.Header) (int, error) {
	for {
		r.mu.Lock()
		if r.closed {
			r.mu.Unlock()
			return 0, os.ErrClosed
		}
		k := 0
		for r.count > 0 && k < len(bufs) {
			first := r.take()
			out := bufs[k]
			hdrs[k] = offload.Header{}
			if len(first) > len(out) {
				sizes[k] = len(out) + 1 // oversize: report, never truncate
				k++
				continue
			}
			size := copy(out, first)
			if s, ok := parseTCP(first); ok && coalescible(first, s) {
				mss := len(first) - s.data
				seq := s.seq + uint32(mss)
				segs := 1
				var last byte
				for r.count > 0 {
					next := r.peek()
					n, ok := parseTCP(next)
					if !ok {
						break
					}
					more := len(next) - n.data
					if size+more > len(out) || size-s.l3+more > maxSuperFrame || !follows(first, s, mss, seq, next, n) {
						break
					}
					size += copy(out[size:], next[n.data:])
					seq += uint32(more)
					segs++
					r.take()
					if n.flags&tcpPSH != 0 || more < mss {
						last = n.flags
						break
					}
				}
				if segs > 1 {
					hdrs[k] = finishSuper(out, size, s, mss, last)
				}
			}
			sizes[k] = size
			k++
		}
		if k > 0 {
			r.active = time.Now()
		}
		r.mu.Unlock()
		if k > 0 {
			select {
			case r.popped <- struct{}{}:
			default:
			}
			return k, nil
		}
		<-r.wake
	}
}

// peek returns the frame at the head. The caller holds r.mu and has
// checked r.count > 0.
func (r *ring) peek() []byte { return r.slots[r.head][:r.sizes[r.head]] }

// take removes the frame at the head and returns it; it stays valid until
// r.mu is released. The caller holds r.mu and has checked r.count > 0.
func (r *ring) take() []byte {
	f := r.peek()
	r.head = (r.head + 1) % len(r.slots)
	r.count--
	return f
}

// close makes pop return an error and push drop.
func (r *ring) close() {
	r.mu.Lock()
	r.closed = true
	r.mu.Unlock()
	r.wakeReader()
	select {
	case r.popped <- struct{}{}:
	default:
	}
}
