package fabric

import (
	"sync"

	"github.com/l2fabric/l2fabric/frames"
)

// txQueue is a port's bounded transmit queue: a ring of frame buffers that
// ingress goroutines copy frames into (tagging them on the way when the
// egress port wants a tag) and the port's writer goroutine drains in
// batches. When it is full, frames for the port are dropped, as a hardware
// switch drops at a congested output, so that a slow or dead port never
// stalls the ports that feed it.
//
// Slot buffers are allocated on first use and grow only for a frame larger
// than any before them, so a steady flow allocates nothing.
type txQueue struct {
	mu    sync.Mutex
	slots [][]byte
	head  int // first queued slot
	count int // queued slots, including those the writer has taken
	taken int // slots [head, head+taken) are being written
	wake  chan struct{}
}

func newTxQueue(n int) *txQueue {
	return &txQueue{slots: make([][]byte, n), wake: make(chan struct{}, 1)}
}

// push copies the frames fs[i] for i in idx into the queue, each tagged with
// its VLAN when tagged reports so for it, and returns how many it queued.
// It never blocks beyond the queue's mutex.
func (q *txQueue) push(fs []frames.Frame, vlans []uint16, idx []int, tagged func(uint16) bool) (queued, bytes int) {
	q.mu.Lock()
	n := len(q.slots)
	for _, i := range idx {
		if q.count == n {
			break
		}
		s := &q.slots[(q.head+q.count)%n]
		if tagged(vlans[i]) {
			*s = frames.AppendTagged((*s)[:0], fs[i], vlans[i])
		} else {
			*s = append((*s)[:0], fs[i]...)
		}
		bytes += len(*s)
		q.count++
		queued++
	}
	q.mu.Unlock()
	if queued > 0 {
		select {
		case q.wake <- struct{}{}:
		default:
		}
	}
	return queued, bytes
}

// take appends up to max queued frames to out for the writer to send. The
// slots stay reserved until release. Only the writer calls take and
// release.
func (q *txQueue) take(out [][]byte, max int) [][]byte {
	q.mu.Lock()
	n := len(q.slots)
	k := min(q.count, max)
	for i := 0; i < k; i++ {
		out = append(out, q.slots[(q.head+i)%n])
	}
	q.taken = k
	q.mu.Unlock()
	return out
}

// release frees the slots returned by the last take.
func (q *txQueue) release() {
	q.mu.Lock()
	q.head = (q.head + q.taken) % len(q.slots)
	q.count -= q.taken
	q.taken = 0
	q.mu.Unlock()
}

// len returns the number of frames queued.
func (q *txQueue) len() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.count
}
