package fabric

import (
	"github.com/l2fabric/l2fabric/fabric/flowq"
	"github.com/l2fabric/l2fabric/frames/offload"
)

// Limits on what a transmit queue holds.
const (
	// smallSlot is the buffer every slot starts with on first use: an
	// MTU-1500 frame with a tag fits.
	smallSlot = 2048
	// maxQueueBytes bounds the bytes a queue holds, whatever its length in
	// frames: 64 KiB super-frames would otherwise make a 2048-frame queue
	// hold 128 MiB.
	maxQueueBytes = 8 << 20
	// maxJumbo bounds the spare large buffers a queue keeps for reuse.
	maxJumbo = 64
)

// txSlot is one frame in a transmit queue.
type txSlot struct {
	buf     []byte
	hdr     offload.Header
	charged int // bytes counted against maxQueueBytes for it
}

// txQueue is a port's bounded transmit queue: a flowq.Queue of frame
// buffers that ingress goroutines copy frames into (tagging them,
// completing checksums or cutting super-frames into segments on the way,
// as the egress port needs) and the port's writer goroutine drains in
// batches. When it is full, an ingress goroutine waits for room or drops
// as the fabric's FlowControl says (see package flowq).
//
// On top of the ring, the queue bounds the bytes it holds (maxQueueBytes)
// and owns its buffers: a slot's buffer is allocated on first use and
// reused; a buffer grown for a super-frame goes back to a small pool when
// its slot is released, so a steady flow allocates nothing and large
// frames do not bloat every slot.
//
// Ingress goroutines lock the queue (lock, unlock) around a run of
// reserve, commit and waitRoom calls; the writer calls take and release.
type txQueue struct {
	q        *flowq.Queue[txSlot]
	bytes    int // bytes charged for the slots queued
	reserved int // bytes charged for the slots reserved and not committed
	nres     int // slots reserved and not committed
	taken    int // slots of the last take
	jumbo    [][]byte
}

func newTxQueue(n int) *txQueue {
	return &txQueue{q: flowq.New[txSlot](n)}
}

func (t *txQueue) lock()   { t.q.Lock() }
func (t *txQueue) unlock() { t.q.Unlock() }

// capacity returns the queue's length in frames.
func (t *txQueue) capacity() int { return t.q.Cap() }

// reserve returns the next free slot, its buffer n bytes long, or nil when
// the queue is full (in frames or in bytes). The caller fills the buffer,
// shortening it to the frame's length, and sets the frame's header.
// Successive calls reserve successive slots; commit queues them, cancel
// gives them back.
func (t *txQueue) reserve(n int) *txSlot {
	if t.bytes+t.reserved+n > maxQueueBytes {
		return nil
	}
	s := t.q.Reserve()
	if s == nil {
		return nil
	}
	if cap(s.buf) < n {
		if n > smallSlot {
			if l := len(t.jumbo); l > 0 && cap(t.jumbo[l-1]) >= n {
				s.buf, t.jumbo = t.jumbo[l-1], t.jumbo[:l-1]
			} else {
				s.buf = make([]byte, n)
			}
		} else {
			s.buf = make([]byte, smallSlot)
		}
	}
	s.buf = s.buf[:n]
	s.hdr = offload.Header{}
	s.charged = n
	t.reserved += n
	t.nres++
	return s
}

// commit queues the first n reserved frames and gives back the other
// reservations.
func (t *txQueue) commit(n int) {
	if n == t.nres {
		t.bytes += t.reserved
	} else {
		for i := 0; i < n; i++ {
			t.bytes += t.q.Reserved(i).charged
		}
	}
	t.reserved, t.nres = 0, 0
	t.q.Commit(n)
}

// cancel gives back the reserved slots.
func (t *txQueue) cancel() {
	t.reserved, t.nres = 0, 0
	t.q.Cancel()
}

// waitRoom waits for the writer to free slots, as hold allows (see package
// flowq), and reports whether it did: the caller then reserves again. It
// gives back uncommitted reservations and unlocks the queue while waiting.
func (t *txQueue) waitRoom(hold *flowq.Hold) bool {
	t.reserved, t.nres = 0, 0
	return t.q.WaitRoom(hold)
}

// notify wakes the writer.
func (t *txQueue) notify() { t.q.Notify() }

// wake is the channel notify signals.
func (t *txQueue) wake() <-chan struct{} { return t.q.Wake() }

// close fails every reservation from now on and releases the ingress
// goroutines waiting for room: the port is going away.
func (t *txQueue) close() {
	t.q.Lock()
	t.q.Close()
	t.q.Unlock()
}

// take appends up to max queued frames (and their headers) for the writer
// to send. The slots stay the writer's until release. Only the writer
// calls take and release.
func (t *txQueue) take(out [][]byte, hdrs []offload.Header, max int) ([][]byte, []offload.Header) {
	t.q.Lock()
	t.taken = t.q.Take(max)
	for i := 0; i < t.taken; i++ {
		s := t.q.Taken(i)
		out = append(out, s.buf)
		hdrs = append(hdrs, s.hdr)
	}
	t.q.Unlock()
	return out, hdrs
}

// release frees the slots returned by the last take, keeping large
// buffers for reuse, and wakes the ingress goroutines waiting for room.
func (t *txQueue) release() {
	t.q.Lock()
	for i := 0; i < t.taken; i++ {
		s := t.q.Taken(i)
		t.bytes -= s.charged
		if cap(s.buf) > smallSlot {
			if len(t.jumbo) < maxJumbo {
				t.jumbo = append(t.jumbo, s.buf[:cap(s.buf)])
			}
			s.buf = nil
		}
	}
	t.taken = 0
	t.q.Release()
	t.q.Unlock()
}

// len returns the number of frames queued.
func (t *txQueue) len() int { return t.q.Len() }

// waits returns how many times an ingress goroutine waited for room.
func (t *txQueue) waits() uint64 { return t.q.Waits() }
