package macnat

import (
	"net/netip"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/l2fabric/l2fabric/frames"
)

// Table limits and timing.
const (
	// DefaultMaxEntries bounds the VM entries of a table with no
	// TableConfig.MaxEntries: a VM typically has four addresses (IPv4,
	// an IPv6 link-local, a SLAAC and a temporary address), so this serves
	// a few hundred VMs. xnu's bridge allows 64 (sc_mne_max).
	DefaultMaxEntries = 1024
	// MaxMaxEntries is the largest MaxEntries a table accepts: every new
	// entry copies the table (see Table), so it must stay small enough to
	// copy in well under a millisecond.
	MaxMaxEntries = 65536
	// DefaultExpiry is how long a VM entry lives after the VM last sent
	// from its address: xnu's bridge route timeout, 1200 s.
	DefaultExpiry = 1200 * time.Second
	// refreshEvery is how stale an entry's last-seen time may get before
	// outbound traffic writes it again, so that a busy flow does not write
	// a shared cache line with every frame.
	refreshEvery = time.Second
	// moveLogEvery spaces out the log lines about moves, so that VMs
	// fighting over an address cannot flood the log (as the fabric's own
	// MAC moves are logged).
	moveLogEvery = 100 * time.Millisecond
)

// TableConfig configures a Table. Zero values are defaults.
type TableConfig struct {
	// MaxEntries bounds the entries learned from VMs (the host's own
	// addresses do not count). 0 means DefaultMaxEntries.
	MaxEntries int
	// Expiry is how long a VM entry lives without outbound traffic from
	// its address. 0 means DefaultExpiry.
	Expiry time.Duration
	// Now is the clock; nil means time.Now. Tests inject their own.
	Now func() time.Time
	// Logger receives moves (an address taken over by another VM) and
	// refused claims on the host's addresses; nil discards them.
	Logger hclog.Logger
}

// entry is one address's translation. mac and host never change once the
// entry is published: a move publishes a new entry, so a reader never sees
// half a MAC.
type entry struct {
	mac  frames.MAC
	host bool         // the host's own address: pinned
	seen atomic.Int64 // when the owner last sent from it, in ns since the table's epoch
}

// LearnResult says what Learn did.
type LearnResult uint8

// Results of Learn.
const (
	// Refreshed: the address was already the VM's.
	Refreshed LearnResult = iota
	// Added: a new entry.
	Added
	// Moved: the address belonged to another VM and is now this one's.
	Moved
	// HostOwned: the address is the host's own; the claim was refused.
	HostOwned
	// Full: the table is full; the address was not learned.
	Full
)

// Table maps IP addresses to the MACs of the VMs that use them, plus the
// host's own addresses, which no VM can take over. It is safe for
// concurrent use.
//
// Reads are lock-free: the map is copied on write and published through
// an atomic pointer. The per-frame operations, Lookup on the receive path
// and Learn for a known address on the send path, run on two goroutines
// at once, so a sync.RWMutex would bounce its reader count between their
// cores on every frame; with copy-on-write they touch nothing shared but
// the entry's last-seen time, and that only once per refreshEvery. Writes
// (a new address, a move, expiry) are rare, serialised by a mutex, and
// cost one copy of the map, which MaxMaxEntries bounds.
type Table struct {
	m      atomic.Pointer[map[netip.Addr]*entry]
	mu     sync.Mutex // serialises writers
	vms    int        // VM entries in *m, under mu
	max    int
	expiry int64
	now    func() time.Time
	epoch  time.Time
	log    hclog.Logger

	lastMoveLog int64 // clock of the last move logged, under mu
	unlogged    int   // moves since then not logged, under mu
}

// NewTable returns an empty table. It panics on a MaxEntries outside
// 0..MaxMaxEntries: callers validate user input first (the host kind's
// macnat-max= does).
func NewTable(cfg TableConfig) *Table {
	if cfg.MaxEntries < 0 || cfg.MaxEntries > MaxMaxEntries {
		panic("macnat: MaxEntries out of range")
	}
	if cfg.MaxEntries == 0 {
		cfg.MaxEntries = DefaultMaxEntries
	}
	if cfg.Expiry <= 0 {
		cfg.Expiry = DefaultExpiry
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = hclog.NewNullLogger()
	}
	t := &Table{max: cfg.MaxEntries, expiry: int64(cfg.Expiry), now: cfg.Now, log: cfg.Logger}
	t.epoch = t.now()
	m := map[netip.Addr]*entry{}
	t.m.Store(&m)
	return t
}

// clock returns the time since the table's epoch, in nanoseconds.
func (t *Table) clock() int64 { return int64(t.now().Sub(t.epoch)) }

// Owner is who a looked-up address belongs to.
type Owner uint8

// Owners Lookup reports.
const (
	// Nobody: no entry, or an expired one.
	Nobody Owner = iota
	// Host: one of the host's own addresses.
	Host
	// VM: a VM's address; the MAC is the VM's.
	VM
)

// Lookup returns who owns ip and, for a VM, its MAC. It does not
// allocate.
func (t *Table) Lookup(ip netip.Addr) (frames.MAC, Owner) {
	e := (*t.m.Load())[ip]
	switch {
	case e == nil:
		return frames.MAC{}, Nobody
	case e.host:
		return e.mac, Host
	case t.clock()-e.seen.Load() >= t.expiry:
		return frames.MAC{}, Nobody
	}
	return e.mac, VM
}

// Learn records that the VM with MAC mac sends from ip. An address the VM
// already owns is refreshed without allocating; a new address or one
// another VM owned is published with a copy of the table; the host's
// addresses are never taken over; when the table is full, expired
// entries are dropped first, and if none were, the address is not
// learned.
func (t *Table) Learn(ip netip.Addr, mac frames.MAC) LearnResult {
	now := t.clock()
	if e := (*t.m.Load())[ip]; e != nil {
		switch {
		case e.host:
			return HostOwned
		case e.mac == mac:
			if now-e.seen.Load() >= int64(refreshEvery) {
				e.seen.Store(now)
			}
			return Refreshed
		}
	}
	return t.learnSlow(ip, mac, now)
}

func (t *Table) learnSlow(ip netip.Addr, mac frames.MAC, now int64) LearnResult {
	t.mu.Lock()
	defer t.mu.Unlock()
	old := *t.m.Load()
	prev := old[ip]
	switch {
	case prev != nil && prev.host:
		return HostOwned
	case prev != nil && prev.mac == mac:
		prev.seen.Store(now)
		return Refreshed
	}
	expired := false
	if prev == nil && t.vms >= t.max {
		for _, e := range old {
			if !e.host && now-e.seen.Load() >= t.expiry {
				expired = true
				break
			}
		}
		if !expired {
			return Full
		}
	}
	m := make(map[netip.Addr]*entry, len(old)+1)
	t.vms = 0
	for a, e := range old {
		if expired && !e.host && now-e.seen.Load() >= t.expiry {
			continue
		}
		m[a] = e
		if !e.host {
			t.vms++
		}
	}
	e := &entry{mac: mac}
	e.seen.Store(now)
	m[ip] = e
	if prev == nil || expired && m[ip] == nil {
		t.vms++
	}
	t.m.Store(&m)
	if prev != nil && now-prev.seen.Load() < t.expiry {
		t.logMove(ip, prev.mac, mac, now)
		return Moved
	}
	return Added
}

// logMove logs that ip moved from one VM's MAC to another's, at most once
// per moveLogEvery, with the number of moves not logged since. The caller
// holds t.mu.
func (t *Table) logMove(ip netip.Addr, from, to frames.MAC, now int64) {
	if t.lastMoveLog != 0 && now-t.lastMoveLog < int64(moveLogEvery) {
		t.unlogged++
		return
	}
	t.log.Info("macnat address moved to another VM", "ip", ip, "from", from, "to", to, "moves_not_logged", t.unlogged)
	t.lastMoveLog, t.unlogged = max(now, 1), 0
}

// SetHost makes addrs the host's own addresses: they are pinned, never
// expire and are never taken over, and a VM entry for one of them is
// replaced. Host entries for addresses not in addrs are removed.
func (t *Table) SetHost(addrs []netip.Addr, mac frames.MAC) {
	t.mu.Lock()
	defer t.mu.Unlock()
	old := *t.m.Load()
	want := make(map[netip.Addr]bool, len(addrs))
	for _, a := range addrs {
		want[a.Unmap().WithZone("")] = true
	}
	same := true
	hosts := 0
	for a, e := range old {
		if e.host {
			hosts++
			if !want[a] || e.mac != mac {
				same = false
			}
		}
	}
	if same && hosts == len(want) {
		return
	}
	m := make(map[netip.Addr]*entry, len(old)+len(want))
	t.vms = 0
	for a, e := range old {
		if e.host || want[a] {
			if !e.host {
				t.log.Warn("macnat: a VM used an address the host now has; the host keeps it", "ip", a, "vm_mac", e.mac)
			}
			continue
		}
		m[a] = e
		t.vms++
	}
	for a := range want {
		m[a] = &entry{mac: mac, host: true}
	}
	t.m.Store(&m)
}

// Expire removes VM entries not refreshed within the expiry time and
// returns how many it removed.
func (t *Table) Expire() int {
	now := t.clock()
	return t.remove(func(e *entry) bool { return now-e.seen.Load() >= t.expiry })
}

// Forget removes the VM entries of the MACs in macs (sorted, as
// frames.MAC compares bytewise): their VMs have left the fabric. It
// returns how many it removed.
func (t *Table) Forget(macs []frames.MAC) int {
	if len(macs) == 0 {
		return 0
	}
	return t.remove(func(e *entry) bool {
		_, found := slices.BinarySearchFunc(macs, e.mac, compareMAC)
		return found
	})
}

// remove drops the VM entries for which gone is true.
func (t *Table) remove(gone func(*entry) bool) int {
	t.mu.Lock()
	defer t.mu.Unlock()
	old := *t.m.Load()
	n := 0
	for _, e := range old {
		if !e.host && gone(e) {
			n++
		}
	}
	if n == 0 {
		return 0
	}
	m := make(map[netip.Addr]*entry, len(old)-n)
	for a, e := range old {
		if e.host || !gone(e) {
			m[a] = e
		}
	}
	t.vms -= n
	t.m.Store(&m)
	return n
}

// Entry is one translation, for dumps.
type Entry struct {
	IP   netip.Addr
	MAC  frames.MAC
	Host bool
	// Age is the time since the owner last sent from the address (0 for
	// the host's).
	Age time.Duration
}

// Entries returns the live entries, host entries first, then by address.
func (t *Table) Entries() []Entry {
	now := t.clock()
	var out []Entry
	for a, e := range *t.m.Load() {
		age := time.Duration(0)
		if !e.host {
			age = time.Duration(now - e.seen.Load())
			if int64(age) >= t.expiry {
				continue
			}
		}
		out = append(out, Entry{IP: a, MAC: e.mac, Host: e.host, Age: age})
	}
	slices.SortFunc(out, func(a, b Entry) int {
		if a.Host != b.Host {
			if a.Host {
				return -1
			}
			return 1
		}
		return a.IP.Compare(b.IP)
	})
	return out
}

// Len returns the number of VM entries, live or expired but not yet
// removed.
func (t *Table) Len() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.vms
}

func compareMAC(a, b frames.MAC) int {
	for i := range a {
		if a[i] != b[i] {
			return int(a[i]) - int(b[i])
		}
	}
	return 0
}
