// Package fdb is the forwarding database of l2fabric: the MAC learning
// table that maps a (VLAN, MAC) pair to the port the MAC was last seen on.
//
// Its behaviour follows Open vSwitch (lib/mac-learning.c) and the Linux
// bridge (br_fdb.c), which is what users of a learning switch expect:
//
//   - Only unicast source addresses are learned; multicast, broadcast and
//     00:00:00:00:00:00 are ignored.
//   - A dynamic entry ages out when its MAC has not been seen for longer
//     than the aging time (300 s by default, as 802.1Q recommends). An
//     entry seen again has its last-seen time refreshed at most once per
//     RefreshInterval (1 s), so that a MAC sending at line rate does not
//     write shared memory on every frame.
//   - A MAC seen on another port moves there at once (no hold-down).
//   - Static entries never age, never move and are never evicted.
//   - The table holds at most MaxEntries entries (8192 by default). When a
//     new MAC would exceed the limit, the least recently seen dynamic entry
//     of the port holding the most dynamic entries is evicted, as in Open
//     vSwitch, so that one port flooding random source MACs evicts its own
//     entries rather than everyone else's.
//
// Lookup and the common case of Learn (a known MAC seen again on the same
// port less than a second after its last refresh) take no lock, write no
// shared memory and allocate nothing; everything that changes the table
// takes one mutex. A Table is safe for use by any number of goroutines.
//
// The package does not log and keeps no global state.
package fdb

import (
	"cmp"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/l2fabric/l2fabric/frames"
)

const (
	// DefaultAging is the aging time used when Config.Aging is 0: 300 s,
	// the 802.1Q recommendation and the Linux and Open vSwitch default.
	DefaultAging = 300 * time.Second
	// MinAging is the shortest aging time Config.Validate accepts. With
	// aging this short, an entry refreshed only once per RefreshInterval
	// may age out between two frames of a MAC that sends about once a
	// second; practical values are 10 s and up.
	MinAging = time.Second
	// MaxAging is the longest aging time Config.Validate accepts: 1e6 s,
	// about 11.6 days (277h46m40s).
	MaxAging = 1_000_000 * time.Second

	// DefaultMaxEntries is the table size used when Config.MaxEntries is
	// 0, the Open vSwitch default.
	DefaultMaxEntries = 8192
	// MaxMaxEntries is the largest Config.MaxEntries Validate accepts.
	MaxMaxEntries = 1 << 24

	// RefreshInterval is the granularity of last-seen times: an entry seen
	// again on the same port has its last-seen time and LRU position
	// updated at most once per RefreshInterval. Entry.Age therefore lags
	// the true time since the MAC was last seen by up to this much.
	RefreshInterval = time.Second
)

// Errors wrapped by the errors AddStatic returns, for errors.Is.
var (
	// ErrNotUnicast: a static entry needs an individual, non-zero MAC.
	ErrNotUnicast = errors.New("not a unicast MAC address")
	// ErrBadVLAN: the VLAN ID is above frames.MaxVLAN (4095 is reserved).
	ErrBadVLAN = errors.New("VLAN ID out of range 0 to 4094")
	// ErrTableFull: the table is at its limit and holds no dynamic entry
	// that could be evicted to make room.
	ErrTableFull = errors.New("table is full of static entries")
)

// Config configures a Table. The zero Config is valid and gives the
// defaults.
type Config struct {
	// Aging is how long a dynamic entry lives after its MAC was last seen.
	// 0 means DefaultAging; otherwise it must be between MinAging and
	// MaxAging.
	Aging time.Duration
	// MaxEntries is the most entries, static and dynamic, the table holds.
	// 0 means DefaultMaxEntries; otherwise it must be between 1 and
	// MaxMaxEntries.
	MaxEntries int
	// Clock returns the current time; nil means time.Now. Tests inject a
	// fake clock. Last-seen times are kept relative to the Clock's reading
	// when the Table was made, using the monotonic clock when the times
	// carry one. The clock should not run backwards: if it does, entries
	// are not lost, but some may expire late.
	Clock func() time.Time
}

// Validate reports whether c is usable, with a message naming the field,
// the bad value and the accepted range.
func (c Config) Validate() error {
	var errs []error
	if c.Aging != 0 && (c.Aging < MinAging || c.Aging > MaxAging) {
		errs = append(errs, fmt.Errorf("fdb aging %v is out of range: want %v to %v (or 0 for the default %v)",
			c.Aging, MinAging, MaxAging, DefaultAging))
	}
	if c.MaxEntries != 0 && (c.MaxEntries < 1 || c.MaxEntries > MaxMaxEntries) {
		errs = append(errs, fmt.Errorf("fdb max entries %d is out of range: want 1 to %d (or 0 for the default %d)",
			c.MaxEntries, MaxMaxEntries, DefaultMaxEntries))
	}
	return errors.Join(errs...)
}

// Key identifies an entry: a MAC address within a VLAN. The same MAC in two
// VLANs is two independent entries.
type Key struct {
	VLAN uint16
	MAC  frames.MAC
}

// Outcome says what Learn did.
type Outcome uint8

const (
	// Refreshed: the MAC was already known on this port. Its last-seen
	// time was updated if the last update was RefreshInterval or more ago.
	// Also returned, with nothing changed, for a static entry on this port.
	Refreshed Outcome = iota
	// Learned: a new dynamic entry was made (possibly evicting another).
	Learned
	// Moved: the MAC was known on another port and now points to this
	// one; Learn also returns the previous port.
	Moved
	// Ignored: nothing was learned, because the source MAC is not unicast,
	// the VLAN is out of range, the MAC has a static entry on another port,
	// or the table is full of static entries.
	Ignored
)

// String returns "refreshed", "learned", "moved" or "ignored".
func (o Outcome) String() string {
	switch o {
	case Refreshed:
		return "refreshed"
	case Learned:
		return "learned"
	case Moved:
		return "moved"
	case Ignored:
		return "ignored"
	}
	return "Outcome(" + strconv.Itoa(int(o)) + ")"
}

// Entry is a snapshot of one table entry, as returned by Entries and Get
// and passed to Flush's match function.
type Entry[P comparable] struct {
	VLAN   uint16
	MAC    frames.MAC
	Port   P
	Static bool
	// Age is the time since the MAC was last seen (to within
	// RefreshInterval); 0 for a static entry.
	Age time.Duration
}

// Key returns the entry's key.
func (e Entry[P]) Key() Key { return Key{VLAN: e.VLAN, MAC: e.MAC} }

// Stats are a table's counters, as shown by ovs-appctl fdb/stats-show.
type Stats struct {
	// Current is the number of entries now, static ones included.
	Current int `json:"current"`
	// Max is the limit on Current (Config.MaxEntries).
	Max int `json:"max"`
	// Static is the number of static entries now.
	Static int `json:"static"`
	// Learned counts new dynamic entries since the table was made.
	Learned uint64 `json:"learned"`
	// Moved counts dynamic entries that moved to another port.
	Moved uint64 `json:"moved"`
	// Expired counts dynamic entries removed by Expire.
	Expired uint64 `json:"expired"`
	// Evicted counts dynamic entries removed to make room for new ones.
	Evicted uint64 `json:"evicted"`
}

// entry is one table entry. key, port and static never change once the
// entry is published in the index; a move publishes a new entry. seen is
// atomic because the refresh fast path reads it without the lock. The rest
// is guarded by Table.mu and never read by lock-free readers.
type entry[P comparable] struct {
	key    uint64 // packKey(VLAN, MAC)
	static bool
	port   P
	seen   atomic.Int64 // last seen, in nanoseconds since Table.epoch

	owner      *portState[P] // nil once removed from the table
	prev, next *entry[P]     // on owner.dyn or owner.stat
}

// Table is a MAC learning table keyed on (VLAN, MAC) whose values are ports
// of type P, a handle the caller chooses (l2fabric uses a pointer to its
// port). Port values are compared with == and used as map keys, so if P is
// an interface type its dynamic values must be comparable.
//
// Make one with New. All methods are safe for concurrent use.
type Table[P comparable] struct {
	// Read by lock-free readers; set in New (idx is swapped on rebuild).
	idx          atomic.Pointer[index[P]]
	tomb         *entry[P] // tombstone marker in the index
	seed0, seed1 uint64    // hash seeds
	clock        func() time.Time
	epoch        time.Time
	aging        int64 // nanoseconds
	max          int

	// Keep the writers' fields off the readers' cache line.
	_ [64]byte

	mu      sync.Mutex
	used    int // index slots holding an entry or a tombstone
	live    int // index slots holding an entry; equals count
	count   int
	static  int
	ports   map[P]*portState[P]
	heap    portHeap[P]
	learned uint64
	moved   uint64
	expired uint64
	evicted uint64

	obs Observer[P] // set before use; see SetObserver
}

// Observer is told of the dynamic entries a Table removes on its own, as
// they go: those Expire ages out and those evicted to make room. (What
// Learn does, its caller learns from its result; what Delete, Flush and
// RemovePort remove, their caller asked for.) Its methods are called with
// the table's lock held: they must return quickly and must not call the
// table.
type Observer[P comparable] interface {
	// Expired is called for each entry Expire removes.
	Expired(e Entry[P])
	// Evicted is called for each entry evicted to make room for another.
	Evicted(e Entry[P])
}

// SetObserver makes o the table's Observer. Call it before the table is
// used by other goroutines.
func (t *Table[P]) SetObserver(o Observer[P]) { t.obs = o }

// New makes an empty Table, or returns cfg.Validate's error.
func New[P comparable](cfg Config) (*Table[P], error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.Aging == 0 {
		cfg.Aging = DefaultAging
	}
	if cfg.MaxEntries == 0 {
		cfg.MaxEntries = DefaultMaxEntries
	}
	if cfg.Clock == nil {
		cfg.Clock = time.Now
	}
	t := &Table[P]{
		tomb:  &entry[P]{key: ^uint64(0)},
		seed0: rand.Uint64(),
		seed1: rand.Uint64() | 1,
		clock: cfg.Clock,
		epoch: cfg.Clock(),
		aging: int64(cfg.Aging),
		max:   cfg.MaxEntries,
		ports: make(map[P]*portState[P]),
	}
	t.idx.Store(newIndex[P](minSlots))
	return t, nil
}

// now returns the Clock's time in nanoseconds since t.epoch.
func (t *Table[P]) now() int64 { return int64(t.clock().Sub(t.epoch)) }

// Aging returns the table's aging time.
func (t *Table[P]) Aging() time.Duration { return time.Duration(t.aging) }

// Learn records that mac was seen as a source address on port in vlan, and
// says what that did; for Moved it also returns the port the MAC was on
// before (otherwise the zero P).
//
// When the MAC is already known on this port and was refreshed less than
// RefreshInterval ago, Learn takes no lock, writes nothing and allocates
// nothing, so it is cheap to call for every received frame.
func (t *Table[P]) Learn(vlan uint16, mac frames.MAC, port P) (Outcome, P) {
	var none P
	if vlan > frames.MaxVLAN || !mac.IsUnicast() {
		return Ignored, none
	}
	k := packKey(vlan, mac)
	if e := t.find(k); e != nil {
		if e.static {
			return t.staticOutcome(e, port)
		}
		if e.port == port && t.now()-e.seen.Load() < int64(RefreshInterval) {
			return Refreshed, none
		}
	}
	return t.learnLocked(k, port)
}

// LearnAt is Learn for a caller that has already read the table's Clock,
// for instance once per batch of received frames, and wants to save the
// cost of reading it again for every frame (time.Now takes tens of
// nanoseconds on some virtual machines, several times the cost of the
// rest of a refresh). now is used only to decide whether a known entry is
// due a refresh, so it may lag the Clock by a little; whenever LearnAt
// changes the table it reads the Clock itself, as Learn does.
func (t *Table[P]) LearnAt(now time.Time, vlan uint16, mac frames.MAC, port P) (Outcome, P) {
	var none P
	if vlan > frames.MaxVLAN || !mac.IsUnicast() {
		return Ignored, none
	}
	k := packKey(vlan, mac)
	if e := t.find(k); e != nil {
		if e.static {
			return t.staticOutcome(e, port)
		}
		if e.port == port && int64(now.Sub(t.epoch))-e.seen.Load() < int64(RefreshInterval) {
			return Refreshed, none
		}
	}
	return t.learnLocked(k, port)
}

// staticOutcome is what Learn of a MAC with static entry e on port does:
// nothing, without taking the lock.
func (t *Table[P]) staticOutcome(e *entry[P], port P) (Outcome, P) {
	var none P
	if e.port == port {
		return Refreshed, none
	}
	return Ignored, none
}

// learnLocked is Learn's slow path: it re-checks under the lock.
func (t *Table[P]) learnLocked(k uint64, port P) (Outcome, P) {
	var none P
	t.mu.Lock()
	defer t.mu.Unlock()
	// Read the clock under the lock, so that entries are appended to the
	// per-port lists in last-seen order.
	now := t.now()
	if j := t.slotOf(k); j >= 0 {
		e := t.entryAt(j)
		switch {
		case e.port == port:
			if !e.static && now-e.seen.Load() >= int64(RefreshInterval) {
				e.seen.Store(now)
				e.owner.dyn.moveToBack(e)
			}
			return Refreshed, none
		case e.static:
			return Ignored, none
		}
		ne := &entry[P]{key: k, port: port}
		ne.seen.Store(now)
		t.replaceAt(j, ne)
		t.unlink(e)
		t.link(ne)
		t.moved++
		return Moved, e.port
	}
	if t.count >= t.max && !t.evictOne() {
		return Ignored, none
	}
	e := &entry[P]{key: k, port: port}
	e.seen.Store(now)
	t.indexInsert(e)
	t.link(e)
	t.learned++
	return Learned, none
}

// Lookup returns the port on which mac was last seen in vlan. It takes no
// lock, writes nothing and allocates nothing. An entry stays visible until
// Expire removes it, so up to one Expire period past its aging time.
func (t *Table[P]) Lookup(vlan uint16, mac frames.MAC) (P, bool) {
	if vlan <= frames.MaxVLAN {
		if e := t.find(packKey(vlan, mac)); e != nil {
			return e.port, true
		}
	}
	var none P
	return none, false
}

// Get returns the entry for mac in vlan, with its age, without taking a
// lock.
func (t *Table[P]) Get(vlan uint16, mac frames.MAC) (Entry[P], bool) {
	if vlan <= frames.MaxVLAN {
		if e := t.find(packKey(vlan, mac)); e != nil {
			return t.view(e, t.now()), true
		}
	}
	return Entry[P]{}, false
}

// AddStatic adds a static entry sending mac in vlan to port, replacing any
// dynamic or static entry for that key. A static entry never ages, never
// moves and is never evicted; it is removed only by Delete, RemovePort or
// another AddStatic. If the table is at its limit, the dynamic entry that
// Learn would evict is evicted to make room; if every entry is static,
// AddStatic fails with an error wrapping ErrTableFull. A MAC that is not
// unicast or a VLAN above frames.MaxVLAN is an error wrapping ErrNotUnicast or
// ErrBadVLAN.
func (t *Table[P]) AddStatic(vlan uint16, mac frames.MAC, port P) error {
	if vlan > frames.MaxVLAN {
		return fmt.Errorf("fdb: cannot add static entry for %v in VLAN %d: %w", mac, vlan, ErrBadVLAN)
	}
	if !mac.IsUnicast() {
		return fmt.Errorf("fdb: cannot add static entry for %v in VLAN %d: %w (multicast, broadcast and all-zero addresses are never in the table)", mac, vlan, ErrNotUnicast)
	}
	k := packKey(vlan, mac)
	t.mu.Lock()
	defer t.mu.Unlock()
	now := t.now()
	ne := &entry[P]{key: k, port: port, static: true}
	ne.seen.Store(now)
	if j := t.slotOf(k); j >= 0 {
		e := t.entryAt(j)
		if e.static && e.port == port {
			return nil
		}
		t.replaceAt(j, ne)
		t.unlink(e)
		t.link(ne)
		return nil
	}
	if t.count >= t.max && !t.evictOne() {
		return fmt.Errorf("fdb: cannot add static entry for %v in VLAN %d: %w (%d entries, the limit)", mac, vlan, ErrTableFull, t.max)
	}
	t.indexInsert(ne)
	t.link(ne)
	return nil
}

// Delete removes the entry, dynamic or static, for mac in vlan, and reports
// whether there was one.
func (t *Table[P]) Delete(vlan uint16, mac frames.MAC) bool {
	if vlan > frames.MaxVLAN {
		return false
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	j := t.slotOf(packKey(vlan, mac))
	if j < 0 {
		return false
	}
	t.removeAt(j, t.entryAt(j))
	t.maybeShrink()
	return true
}

// RemovePort removes every entry of port, static ones included, and
// returns how many there were. Call it when a port is detached.
func (t *Table[P]) RemovePort(port P) int {
	t.mu.Lock()
	defer t.mu.Unlock()
	ps := t.ports[port]
	if ps == nil {
		return 0
	}
	n := 0
	for ps.dyn.head != nil {
		t.remove(ps.dyn.head)
		n++
	}
	for ps.stat.head != nil {
		t.remove(ps.stat.head)
		n++
	}
	t.maybeShrink()
	return n
}

// Flush removes the dynamic entries for which match returns true, or all
// dynamic entries if match is nil, and returns how many it removed. Static
// entries stay. match is called without the table's lock held, so it may
// call the table's methods; it sees a consistent snapshot, and an entry
// that moved or was removed after the snapshot was taken is left alone.
func (t *Table[P]) Flush(match func(Entry[P]) bool) int {
	if match == nil {
		t.mu.Lock()
		defer t.mu.Unlock()
		n := 0
		for _, ps := range t.ports {
			for ps.dyn.head != nil {
				t.remove(ps.dyn.head)
				n++
			}
		}
		t.maybeShrink()
		return n
	}

	t.mu.Lock()
	now := t.now()
	cands := make([]*entry[P], 0, t.count-t.static)
	for _, ps := range t.ports {
		for e := ps.dyn.head; e != nil; e = e.next {
			cands = append(cands, e)
		}
	}
	views := make([]Entry[P], len(cands))
	for i, e := range cands {
		views[i] = t.view(e, now)
	}
	t.mu.Unlock()

	doomed := cands[:0]
	for i, e := range cands {
		if match(views[i]) {
			doomed = append(doomed, e)
		}
	}
	if len(doomed) == 0 {
		return 0
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	n := 0
	for _, e := range doomed {
		if e.owner != nil { // still in the table, on the same port
			t.remove(e)
			n++
		}
	}
	t.maybeShrink()
	return n
}

// Expire removes the dynamic entries whose MACs have not been seen for
// longer than the aging time, and returns how many it removed. Its cost is
// proportional to the number of ports plus the number of entries removed:
// each port's entries are kept in last-seen order, so it stops at the first
// live one. Call it about once a second.
func (t *Table[P]) Expire() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	now := t.now()
	n := 0
	for _, ps := range t.ports {
		for {
			e := ps.dyn.head
			if e == nil || now-e.seen.Load() <= t.aging {
				break
			}
			if t.obs != nil {
				t.obs.Expired(t.view(e, now))
			}
			t.remove(e)
			n++
		}
	}
	t.expired += uint64(n)
	t.maybeShrink()
	return n
}

// Entries returns a consistent snapshot of every entry, sorted by VLAN then
// MAC.
func (t *Table[P]) Entries() []Entry[P] {
	t.mu.Lock()
	now := t.now()
	out := make([]Entry[P], 0, t.count)
	for _, ps := range t.ports {
		for e := ps.stat.head; e != nil; e = e.next {
			out = append(out, t.view(e, now))
		}
		for e := ps.dyn.head; e != nil; e = e.next {
			out = append(out, t.view(e, now))
		}
	}
	t.mu.Unlock()
	slices.SortFunc(out, func(a, b Entry[P]) int {
		return cmp.Compare(packKey(a.VLAN, a.MAC), packKey(b.VLAN, b.MAC))
	})
	return out
}

// Stats returns the table's counters.
func (t *Table[P]) Stats() Stats {
	t.mu.Lock()
	defer t.mu.Unlock()
	return Stats{
		Current: t.count,
		Max:     t.max,
		Static:  t.static,
		Learned: t.learned,
		Moved:   t.moved,
		Expired: t.expired,
		Evicted: t.evicted,
	}
}

// Len returns the number of entries, static ones included.
func (t *Table[P]) Len() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.count
}

// view makes the public snapshot of e.
func (t *Table[P]) view(e *entry[P], now int64) Entry[P] {
	vlan, mac := unpackKey(e.key)
	v := Entry[P]{VLAN: vlan, MAC: mac, Port: e.port, Static: e.static}
	if !e.static {
		v.Age = time.Duration(max(0, now-e.seen.Load()))
	}
	return v
}

// link puts e, just published in the index, on its port's lists. t.mu must
// be held.
func (t *Table[P]) link(e *entry[P]) {
	ps := t.ports[e.port]
	if ps == nil {
		ps = &portState[P]{port: e.port}
		t.ports[e.port] = ps
		t.heap.push(ps)
	}
	e.owner = ps
	t.count++
	if e.static {
		ps.stat.pushBack(e)
		t.static++
		return
	}
	ps.dyn.pushBack(e)
	t.heap.up(ps.hi)
}

// unlink takes e, already gone from the index, off its port's lists, and
// forgets the port if that was its last entry. t.mu must be held.
func (t *Table[P]) unlink(e *entry[P]) {
	ps := e.owner
	e.owner = nil
	t.count--
	if e.static {
		ps.stat.remove(e)
		t.static--
	} else {
		ps.dyn.remove(e)
		t.heap.down(ps.hi)
	}
	if ps.dyn.n == 0 && ps.stat.n == 0 {
		t.heap.remove(ps.hi)
		delete(t.ports, ps.port)
	}
}

// remove takes e out of the table. t.mu must be held.
func (t *Table[P]) remove(e *entry[P]) {
	if j := t.slotOf(e.key); j >= 0 {
		t.indexRemove(j)
	}
	t.unlink(e)
}

// removeAt takes e, found in slot j, out of the table. t.mu must be held.
func (t *Table[P]) removeAt(j int, e *entry[P]) {
	t.indexRemove(j)
	t.unlink(e)
}

// evictOne removes the least recently seen dynamic entry of the port with
// the most dynamic entries, and reports whether there was one. t.mu must
// be held.
func (t *Table[P]) evictOne() bool {
	if len(t.heap) == 0 || t.heap[0].dyn.n == 0 {
		return false
	}
	e := t.heap[0].dyn.head
	if t.obs != nil {
		t.obs.Evicted(t.view(e, t.now()))
	}
	t.remove(e)
	t.evicted++
	return true
}
