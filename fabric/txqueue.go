package fabric

import (
	"sync"
	"time"

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

// txQueue is a port's bounded transmit queue: a ring of frame buffers that
// ingress goroutines copy frames into (tagging them, completing checksums
// or cutting super-frames into segments on the way, as the egress port
// needs) and the port's writer goroutine drains in batches.
//
// When it is full, an ingress goroutine may wait for room, for a bounded
// time and only while the writer is making progress (see port.waitRoom):
// flow control, so that a port that is merely busy slows its senders down
// to its pace instead of making them read frames only to drop them. Once
// the writer has made no progress for stallAfter, frames for the port are
// dropped at once, as a hardware switch drops at a congested output, so
// that a stuck or dead port never stalls the ports that feed it.
//
// Slot buffers are allocated on first use and reused; a buffer grown for a
// super-frame goes back to a small pool when its slot is released, so a
// steady flow allocates nothing and large frames do not bloat every slot.
type txQueue struct {
	mu    sync.Mutex
	slots [][]byte
	hdrs  []offload.Header
	head  int // first queued slot
	count int // queued slots, including those the writer has taken
	taken int // slots [head, head+taken) are being written
	bytes int // bytes queued
	jumbo [][]byte
	wake  chan struct{}

	// active is when the writer last took or released frames, or when
	// the queue was last handed frames while empty: the writer has been
	// busy with its current frames since then.
	active time.Time
	// waiters are the ingress goroutines waiting for room, each signalled
	// once on the next release.
	waiters []chan struct{}
}

func newTxQueue(n int) *txQueue {
	return &txQueue{slots: make([][]byte, n), hdrs: make([]offload.Header, n), wake: make(chan struct{}, 1)}
}

// reserve returns the next free slot's buffer with at least n bytes of
// length, or nil when the queue is full. The caller holds q.mu, fills the
// buffer and calls commit.
func (q *txQueue) reserve(n int) []byte {
	if q.count == len(q.slots) || q.bytes+n > maxQueueBytes {
		return nil
	}
	s := &q.slots[(q.head+q.count)%len(q.slots)]
	if cap(*s) < n {
		if n > smallSlot {
			if l := len(q.jumbo); l > 0 && cap(q.jumbo[l-1]) >= n {
				*s, q.jumbo = q.jumbo[l-1], q.jumbo[:l-1]
			} else {
				*s = make([]byte, n)
			}
		} else {
			*s = make([]byte, smallSlot)
		}
	}
	return (*s)[:n]
}

// commit queues the slot reserve returned, holding a frame of n bytes
// described by h.
func (q *txQueue) commit(n int, h offload.Header) {
	if q.count == 0 {
		q.active = time.Now() // the writer's clock starts with its work
	}
	i := (q.head + q.count) % len(q.slots)
	q.slots[i] = q.slots[i][:n]
	q.hdrs[i] = h
	q.bytes += n
	q.count++
}

// notify wakes the writer.
func (q *txQueue) notify() {
	select {
	case q.wake <- struct{}{}:
	default:
	}
}

// take appends up to max queued frames (and their headers) for the writer
// to send. The slots stay reserved until release. Only the writer calls
// take and release.
func (q *txQueue) take(out [][]byte, hdrs []offload.Header, max int) ([][]byte, []offload.Header) {
	q.mu.Lock()
	n := len(q.slots)
	k := min(q.count, max)
	for i := 0; i < k; i++ {
		out = append(out, q.slots[(q.head+i)%n])
		hdrs = append(hdrs, q.hdrs[(q.head+i)%n])
	}
	q.taken = k
	if k > 0 {
		q.active = time.Now()
	}
	q.mu.Unlock()
	return out, hdrs
}

// release frees the slots returned by the last take.
func (q *txQueue) release() {
	q.mu.Lock()
	for i := 0; i < q.taken; i++ {
		s := &q.slots[(q.head+i)%len(q.slots)]
		q.bytes -= len(*s)
		if cap(*s) > smallSlot {
			if len(q.jumbo) < maxJumbo {
				q.jumbo = append(q.jumbo, (*s)[:cap(*s)])
			}
			*s = nil
		}
	}
	q.head = (q.head + q.taken) % len(q.slots)
	q.count -= q.taken
	q.taken = 0
	q.active = time.Now()
	for i, w := range q.waiters {
		select {
		case w <- struct{}{}:
		default:
		}
		q.waiters[i] = nil
	}
	q.waiters = q.waiters[:0]
	q.mu.Unlock()
}

// unwait removes w from the waiters, if it is still there. The caller
// holds q.mu.
func (q *txQueue) unwait(w chan struct{}) {
	for i, x := range q.waiters {
		if x == w {
			last := len(q.waiters) - 1
			q.waiters[i] = q.waiters[last]
			q.waiters[last] = nil
			q.waiters = q.waiters[:last]
			return
		}
	}
}

// len returns the number of frames queued.
func (q *txQueue) len() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.count
}
