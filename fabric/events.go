package fabric

import (
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/l2fabric/l2fabric/fdb"
	"github.com/l2fabric/l2fabric/frames"
)

// Events tell subscribers (`l2fabric monitor`) what changes in the fabric
// as it happens: what the learning table learns and forgets, and ports
// coming, going, and changing state.
//
// Publishing costs one atomic load when nobody listens, and happens only
// where the fabric changes (a MAC learned or moved, never refreshed), so
// forwarding pays nothing for it. Each subscriber has a bounded buffer;
// when its reader falls behind (a MAC flood learns thousands of addresses
// a second) events that do not fit are dropped and counted, and the reader
// learns how many with an EventSuppressed event. The fabric never waits
// for a subscriber.

// EventType says what happened.
type EventType string

// Event types.
const (
	// EventLearned: MAC was learned on Port in VLAN.
	EventLearned EventType = "fdb_learned"
	// EventMoved: MAC moved from From to Port.
	EventMoved EventType = "fdb_moved"
	// EventExpired: MAC's entry on Port aged out.
	EventExpired EventType = "fdb_expired"
	// EventEvicted: MAC's entry on Port was evicted to make room (the
	// table was at its limit).
	EventEvicted EventType = "fdb_evicted"
	// EventDeleted: a learned entry was deleted by request.
	EventDeleted EventType = "fdb_deleted"
	// EventFlushed: Count learned entries were flushed, of Port when it
	// is set, and Reason says why.
	EventFlushed EventType = "fdb_flushed"
	// EventStaticAdded: a static entry for MAC on Port was added.
	EventStaticAdded EventType = "static_added"
	// EventStaticRemoved: the static entry for MAC was removed.
	EventStaticRemoved EventType = "static_removed"
	// EventPortAttached: Port was attached; Kind says its kind.
	EventPortAttached EventType = "port_attached"
	// EventPortDetached: Port was detached, taking Count entries with
	// it; Reason says why.
	EventPortDetached EventType = "port_detached"
	// EventPortDown: Port's link went down (Reason); Count learned
	// entries were flushed.
	EventPortDown EventType = "port_down"
	// EventPortUp: Port's link came back.
	EventPortUp EventType = "port_up"
	// EventPortBlocked: Port stopped forwarding (loop protection, storm
	// control), Reason says why.
	EventPortBlocked EventType = "port_blocked"
	// EventPortUnblocked: Port forwards again.
	EventPortUnblocked EventType = "port_unblocked"
	// EventSuppressed: Count events were dropped because the subscriber
	// was behind. It is made by the subscriber's reader, never published.
	EventSuppressed EventType = "events_suppressed"
)

// Event is one change in the fabric. Fields that do not apply to its Type
// are zero and left out of its JSON.
type Event struct {
	Time   time.Time  `json:"time"`
	Type   EventType  `json:"type"`
	Port   string     `json:"port,omitempty"`
	Kind   string     `json:"kind,omitempty"`
	From   string     `json:"from,omitempty"`
	VLAN   uint16     `json:"vlan,omitempty"`
	MAC    frames.MAC `json:"mac,omitzero"`
	Reason string     `json:"reason,omitempty"`
	Count  int        `json:"count,omitempty"`
}

// Default and largest subscriber buffers, in events.
const (
	DefaultEventBuffer = 1024
	MaxEventBuffer     = 1 << 16
)

// Subscription is a subscriber to the fabric's events.
type Subscription struct {
	hub  *eventHub
	c    chan Event
	lost atomic.Uint64
	once sync.Once
}

// Subscribe starts delivering events to a new subscriber holding up to
// buffer events (0 means DefaultEventBuffer, at most MaxEventBuffer).
func (f *Fabric) Subscribe(buffer int) *Subscription {
	if buffer <= 0 {
		buffer = DefaultEventBuffer
	}
	s := &Subscription{hub: &f.events, c: make(chan Event, min(buffer, MaxEventBuffer))}
	f.events.add(s)
	return s
}

// Events returns the channel events arrive on. It is never closed.
func (s *Subscription) Events() <-chan Event { return s.c }

// TakeSuppressed returns how many events were dropped since its last call
// because the buffer was full, and resets the count.
func (s *Subscription) TakeSuppressed() uint64 { return s.lost.Swap(0) }

// Close ends the subscription.
func (s *Subscription) Close() { s.once.Do(func() { s.hub.remove(s) }) }

// eventHub holds the subscribers; subs is nil when there are none.
type eventHub struct {
	subs atomic.Pointer[[]*Subscription]
	mu   sync.Mutex
}

func (h *eventHub) add(s *Subscription) {
	h.mu.Lock()
	defer h.mu.Unlock()
	var list []*Subscription
	if old := h.subs.Load(); old != nil {
		list = slices.Clone(*old)
	}
	list = append(list, s)
	h.subs.Store(&list)
}

func (h *eventHub) remove(s *Subscription) {
	h.mu.Lock()
	defer h.mu.Unlock()
	old := h.subs.Load()
	if old == nil {
		return
	}
	list := slices.DeleteFunc(slices.Clone(*old), func(o *Subscription) bool { return o == s })
	if len(list) == 0 {
		h.subs.Store(nil)
		return
	}
	h.subs.Store(&list)
}

// listening reports whether anyone subscribes.
func (h *eventHub) listening() bool { return h.subs.Load() != nil }

// publish delivers ev to every subscriber that has room, stamping its
// time. It never blocks. Loop protection publishes EventPortBlocked and
// EventPortUnblocked with it:
//
//	f.publish(Event{Type: EventPortBlocked, Port: p.Name, Reason: "loop: 52:54:00:00:00:01 seen on a and b"})
func (f *Fabric) publish(ev Event) {
	subs := f.events.subs.Load()
	if subs == nil {
		return
	}
	ev.Time = time.Now()
	for _, s := range *subs {
		select {
		case s.c <- ev:
		default:
			s.lost.Add(1)
		}
	}
}

// publishFDB publishes an event about mac in vlan on port p (from q for a
// move), when anyone listens.
func (f *Fabric) publishFDB(t EventType, vlan uint16, mac frames.MAC, p, from *port) {
	if !f.events.listening() {
		return
	}
	ev := Event{Type: t, VLAN: vlan, MAC: mac}
	if p != nil {
		ev.Port = p.Name
	}
	if from != nil {
		ev.From = from.Name
	}
	f.publish(ev)
}

// fdbObserver tells subscribers of the entries the learning table removes
// on its own. It runs with the table's lock held and only publishes.
type fdbObserver struct{ f *Fabric }

func (o fdbObserver) Expired(e fdb.Entry[*port]) {
	o.f.publishFDB(EventExpired, e.VLAN, e.MAC, e.Port, nil)
}

func (o fdbObserver) Evicted(e fdb.Entry[*port]) {
	o.f.publishFDB(EventEvicted, e.VLAN, e.MAC, e.Port, nil)
}
