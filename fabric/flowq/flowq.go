// Package flowq is the bounded, flow-controlled queue l2fabric puts
// wherever one goroutine hands frames to another: a port's transmit queue
// in the fabric, a listener client's receive queue in backends/dgram.
//
// # The policy
//
// One producer at a time fills the queue; one consumer drains it. When the
// queue is full, the producer may wait for room, and this package decides
// how long:
//
//   - While the consumer is making progress (it has taken or released
//     frames within the last Policy.StallAfter), it is busy, not stuck:
//     the producer waits until the consumer frees slots, and tries again.
//     The producer's own source then waits in turn, so that senders slow
//     down to the busy consumer's pace, as with a blocking relay, and
//     nothing is lost. On a machine whose CPUs are all busy, frames read
//     only to be dropped are throughput lost.
//   - The waits of one batch of the producer's work add up to at most
//     Policy.MaxHold. Once that is used up, or once a wait ended without
//     the consumer freeing anything, the producer drops what does not fit
//     for the rest of the batch.
//   - A consumer that has taken nothing for StallAfter is stuck (or dead):
//     frames for it are dropped at once, as a hardware switch drops at a
//     congested output, so that it holds up no one for longer than
//     StallAfter.
//   - With Policy.NoWait the producer never waits: what does not fit is
//     dropped at once.
//
// The price of waiting is head-of-line blocking within those bounds: while
// a producer waits for one full queue, everything else it carries waits
// too. Counting what is dropped is the caller's business.
package flowq

import (
	"fmt"
	"sync"
	"sync/atomic"
	"time"
)

// Defaults of Policy.
const (
	// DefaultMaxHold is the MaxHold of a Policy that leaves it zero.
	DefaultMaxHold = 5 * time.Millisecond
	// DefaultStallAfter is the StallAfter of a Policy that leaves it zero.
	DefaultStallAfter = 10 * time.Millisecond
)

// Policy says how long a producer may wait for room in a full queue (see
// the package documentation). Its zero value is the default: MaxHold 5 ms,
// StallAfter 10 ms.
type Policy struct {
	// MaxHold is how long, in all, a producer may wait per batch of its
	// work; 0 means DefaultMaxHold.
	MaxHold time.Duration
	// StallAfter is how long a consumer may go without taking frames
	// before it counts as stuck; 0 means DefaultStallAfter.
	StallAfter time.Duration
	// NoWait disables waiting: frames for a full queue are dropped at
	// once, whatever MaxHold says.
	NoWait bool
}

// WithDefaults returns p with zero durations replaced by their defaults.
func (p Policy) WithDefaults() Policy {
	if p.MaxHold == 0 {
		p.MaxHold = DefaultMaxHold
	}
	if p.StallAfter == 0 {
		p.StallAfter = DefaultStallAfter
	}
	return p
}

// Validate reports a negative duration, naming the field.
func (p Policy) Validate() error {
	switch {
	case p.MaxHold < 0:
		return fmt.Errorf("flow control: MaxHold %v is negative (set NoWait to never wait)", p.MaxHold)
	case p.StallAfter < 0:
		return fmt.Errorf("flow control: StallAfter %v is negative", p.StallAfter)
	}
	return nil
}

// Hold is a producer's allowance of waiting under a Policy: Start it for
// every batch of work, and pass it to Queue.WaitRoom. A Hold belongs to one
// producer goroutine; it holds the timer and channel a wait uses, so that
// waiting allocates nothing.
type Hold struct {
	policy Policy
	left   time.Duration
	room   chan struct{} // signalled by the consumer's Release
	timer  *time.Timer
}

// NewHold returns a Hold under p (defaults applied) whose allowance is
// used up until Start.
func NewHold(p Policy) *Hold {
	h := &Hold{policy: p.WithDefaults(), room: make(chan struct{}, 1), timer: time.NewTimer(time.Hour)}
	h.timer.Stop()
	return h
}

// Policy returns the hold's policy, defaults applied.
func (h *Hold) Policy() Policy { return h.policy }

// Start renews the allowance for a new batch: MaxHold, or nothing with
// NoWait.
func (h *Hold) Start() {
	h.left = h.policy.MaxHold
	if h.policy.NoWait {
		h.left = 0
	}
}

// Queue is a ring of slots of type T, bounded in length, filled by a
// producer with Reserve and Commit and drained by a consumer with Take and
// Release. What a slot holds (a buffer and its length, a frame and its
// offload header) is the caller's; the queue owns the ring's invariants and
// the waiting.
//
// Every method but Notify, Wake, Waits and Len is called with the queue
// locked (Lock, Unlock), so that a producer can queue a run of frames in
// one critical section. Reservations do not outlive the lock: the producer
// commits or cancels them before it unlocks.
type Queue[T any] struct {
	mu       sync.Mutex
	slots    []T
	head     int // first queued slot
	count    int // queued slots, those taken included
	taken    int // slots [head, head+taken) are the consumer's
	reserved int // slots after the queued ones, reserved by the producer
	closed   bool

	// active is when the consumer last took or released frames, or when
	// frames came to an empty queue: the consumer has been busy with its
	// current frames since then.
	active time.Time
	// waiters are the producers waiting for room, each signalled once on
	// the next Release.
	waiters []chan struct{}
	wake    chan struct{}
	waits   atomic.Uint64
}

// New returns an empty queue of n slots (n > 0).
func New[T any](n int) *Queue[T] {
	return &Queue[T]{slots: make([]T, n), wake: make(chan struct{}, 1)}
}

// Lock locks the queue.
func (q *Queue[T]) Lock() { q.mu.Lock() }

// Unlock unlocks the queue.
func (q *Queue[T]) Unlock() { q.mu.Unlock() }

// Cap returns the number of slots.
func (q *Queue[T]) Cap() int { return len(q.slots) }

// Free returns the number of slots the producer may still reserve.
func (q *Queue[T]) Free() int {
	if q.closed {
		return 0
	}
	return len(q.slots) - q.count - q.reserved
}

// at returns the slot i places after head (0 <= i < len(q.slots)).
func (q *Queue[T]) at(i int) *T {
	j := q.head + i // < 2*len(q.slots): no division on the per-frame path
	if j >= len(q.slots) {
		j -= len(q.slots)
	}
	return &q.slots[j]
}

// Reserve returns the next free slot for the producer to fill, or nil when
// the queue is full or closed. Successive calls return successive slots;
// Commit queues them, Cancel gives them back. A slot keeps what it held
// when it was last released, so its buffers can be reused.
func (q *Queue[T]) Reserve() *T {
	if q.Free() == 0 {
		return nil
	}
	s := q.at(q.count + q.reserved)
	q.reserved++
	return s
}

// Reserved returns the i-th slot reserved and not yet committed.
func (q *Queue[T]) Reserved(i int) *T { return q.at(q.count + i) }

// Commit queues the first n reserved slots, in the order reserved, and
// gives back the others. Call Notify (after Unlock) to wake the consumer.
func (q *Queue[T]) Commit(n int) {
	n = min(max(n, 0), q.reserved)
	if q.count == 0 && n > 0 {
		q.active = time.Now() // the consumer's clock starts with its work
	}
	q.count += n
	q.reserved = 0
}

// Cancel gives back the reserved slots.
func (q *Queue[T]) Cancel() { q.reserved = 0 }

// Notify wakes the consumer, if it waits on Wake.
func (q *Queue[T]) Notify() {
	select {
	case q.wake <- struct{}{}:
	default:
	}
}

// Wake returns the channel Notify (and Close) signal: a consumer that
// found the queue empty waits on it.
func (q *Queue[T]) Wake() <-chan struct{} { return q.wake }

// Take hands up to max queued slots to the consumer and returns how many;
// Taken gives access to them until Release. Only the consumer calls Take
// and Release, in turn.
func (q *Queue[T]) Take(max int) int {
	q.taken = min(q.count, max)
	if q.taken > 0 {
		q.active = time.Now()
	}
	return q.taken
}

// Taken returns the i-th slot of the last Take.
func (q *Queue[T]) Taken(i int) *T { return q.at(i) }

// Release frees the slots of the last Take and wakes the producers waiting
// for room.
func (q *Queue[T]) Release() {
	if q.taken == 0 {
		return
	}
	q.head = (q.head + q.taken) % len(q.slots)
	q.count -= q.taken
	q.taken = 0
	q.active = time.Now()
	q.signalWaiters()
}

func (q *Queue[T]) signalWaiters() {
	for i, w := range q.waiters {
		select {
		case w <- struct{}{}:
		default:
		}
		q.waiters[i] = nil
	}
	q.waiters = q.waiters[:0]
}

// Close closes the queue: Reserve fails from now on, waiting producers
// return, and the consumer is woken. What is queued stays for the consumer
// to take or abandon.
func (q *Queue[T]) Close() {
	q.closed = true
	q.signalWaiters()
	q.Notify()
}

// Closed reports whether Close was called.
func (q *Queue[T]) Closed() bool { return q.closed }

// Len returns the number of frames queued. It locks the queue.
func (q *Queue[T]) Len() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.count
}

// Waits returns how many times a producer waited for room.
func (q *Queue[T]) Waits() uint64 { return q.waits.Load() }

// WaitRoom waits, as the policy of h allows (see the package
// documentation), for the consumer to free slots, and reports whether it
// did: the caller then tries to reserve again. Slots reserved and not
// committed are given back first. WaitRoom wakes the consumer before
// waiting, since what the producer queued so far must go out to make room,
// and unlocks the queue while it waits.
func (q *Queue[T]) WaitRoom(h *Hold) bool {
	q.reserved = 0
	if h.left <= 0 || q.closed {
		return false
	}
	start := time.Now()
	if start.Sub(q.active) > h.policy.StallAfter {
		return false // stuck: drop at once
	}
	q.waiters = append(q.waiters, h.room)
	q.mu.Unlock()
	q.Notify()
	h.timer.Reset(h.left)
	woke := false
	select {
	case <-h.room:
		woke = true
	case <-h.timer.C:
	}
	h.timer.Stop()
	h.left -= time.Since(start)
	q.waits.Add(1)
	q.mu.Lock()
	if !woke {
		q.unwait(h.room)
		select { // a Release between the timeout and the lock
		case <-h.room:
			woke = true
		default:
		}
	}
	if !woke {
		h.left = 0 // the consumer freed nothing: it will not this batch
	}
	return woke && !q.closed
}

// unwait removes w from the waiters, if it is still there.
func (q *Queue[T]) unwait(w chan struct{}) {
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
