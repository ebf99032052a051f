package fabric

import "sync"

// LinkState is a ready-made Linker for backends: Set reports the link
// going up or down, Close closes the channel. Set never blocks: if the
// fabric has not yet read earlier events, the oldest is dropped, so the
// latest state always arrives. Its zero value is not usable; use
// NewLinkState.
type LinkState struct {
	mu     sync.Mutex
	ch     chan LinkEvent
	up     bool
	closed bool
}

// NewLinkState returns a LinkState whose link is up, as a port's is when
// it is attached.
func NewLinkState() *LinkState {
	return &LinkState{ch: make(chan LinkEvent, 8), up: true}
}

// LinkEvents implements Linker.
func (l *LinkState) LinkEvents() <-chan LinkEvent { return l.ch }

// Set reports the link up or down with a reason. A report of the state
// already reported is sent only when force is set (a new reason for the
// same state, e.g. "bridge deleted" after "interface down").
func (l *LinkState) Set(up bool, reason string, force bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed || (up == l.up && !force) {
		return
	}
	l.up = up
	ev := LinkEvent{Up: up, Reason: reason}
	for {
		select {
		case l.ch <- ev:
			return
		default:
		}
		select {
		case <-l.ch: // drop the oldest: the latest state matters
		default:
		}
	}
}

// Up reports the last state set.
func (l *LinkState) Up() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.up
}

// Close closes the channel; later Sets do nothing. It is safe to call
// more than once.
func (l *LinkState) Close() {
	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.closed {
		l.closed = true
		close(l.ch)
	}
}

var _ Linker = (*LinkState)(nil)
