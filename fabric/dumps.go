package fabric

import (
	"sort"
	"time"

	"github.com/l2fabric/l2fabric/fdb"
	"github.com/l2fabric/l2fabric/frames"
)

// PortInfo describes an attached port for dumps.
type PortInfo struct {
	Name       string    `json:"name"`
	Kind       string    `json:"kind"`
	Device     string    `json:"device,omitempty"`
	Info       string    `json:"info,omitempty"`
	State      string    `json:"state"`
	VLAN       uint16    `json:"vlan,omitempty"`
	Trunk      string    `json:"trunk,omitempty"`
	MTU        int       `json:"mtu"`
	MAC        string    `json:"mac,omitempty"`
	Learning   bool      `json:"learning"`
	Flood      bool      `json:"flood"`
	TxQueueLen int       `json:"txqueue"`
	TxQueued   int       `json:"tx_queued"`
	FDB        int       `json:"fdb_entries"`
	Attached   time.Time `json:"attached"`
	// Loop is the port's loop protection: "probes" (it sends probes),
	// "on" (detection by MAC flapping only), or "off"; LoopPriority ranks
	// it for blocking.
	Loop         string `json:"loop"`
	LoopPriority int    `json:"loop_priority"`
	// Storm is its storm control limit in frames per second, 0 for none.
	Storm    int      `json:"storm_pps,omitempty"`
	Counters Counters `json:"counters"`
	// BackendDrops are the backend's own drops by reason (see
	// BackendDropper).
	BackendDrops map[string]uint64 `json:"backend_drops,omitempty"`
}

// Ports returns the attached ports, and devices that have no port (a
// listening socket with no client yet), sorted by name.
func (f *Fabric) Ports() []PortInfo {
	counts := map[*port]int{}
	for _, e := range f.fdb.Entries() {
		counts[e.Port]++
	}
	var out []PortInfo
	for _, p := range f.ports.Load().list {
		pi := PortInfo{
			Name: p.Name, Kind: p.Kind, Device: p.Device, Info: p.Info, State: p.state(),
			VLAN: p.VLAN, Trunk: FormatVLANList(p.Trunk), MTU: p.MTU,
			Learning: !p.NoLearning, Flood: !p.NoFlood,
			TxQueueLen: p.TxQueueLen, TxQueued: p.tx.len(), FDB: counts[p],
			Attached: p.attached, Counters: p.counters(),
			Loop: p.loopMode(f.loop.off), LoopPriority: p.LoopPriority,
		}
		if p.storm != nil {
			pi.Storm = int(p.storm.rate)
		}
		if !p.MAC.IsZero() {
			pi.MAC = p.MAC.String()
		}
		if d, ok := p.dev.(BackendDropper); ok {
			pi.BackendDrops = d.BackendDrops()
		}
		if np, ok := p.dev.(NATPort); ok {
			c := np.NATCounters()
			pi.Counters.NAT = &c
		}
		out = append(out, pi)
	}
	f.mu.Lock()
	for _, d := range f.devices {
		state := "listening"
		if ds, ok := d.dev.(DeviceStater); ok {
			state = ds.State()
		}
		out = append(out, PortInfo{Name: d.name, Kind: d.kind, Info: d.dev.Info(), State: state,
			VLAN: d.cfg.VLAN, Trunk: FormatVLANList(d.cfg.Trunk), MTU: d.cfg.MTU,
			Learning: !d.cfg.NoLearning, Flood: !d.cfg.NoFlood, TxQueueLen: d.cfg.TxQueueLen, Attached: d.opened})
	}
	f.mu.Unlock()
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// Entry is an FDB entry with its port's name, for dumps.
type Entry struct {
	Port   string     `json:"port"`
	VLAN   uint16     `json:"vlan"`
	MAC    frames.MAC `json:"mac"`
	Static bool       `json:"static"`
	// Pending marks a static entry whose port is not attached (yet).
	Pending bool    `json:"pending,omitempty"`
	Age     float64 `json:"age_seconds"`
	// Via is the remote endpoint (VTEP) the MAC lives behind, on a tunnel
	// port (see RemoteLocator).
	Via string `json:"via,omitempty"`
}

// Entries returns the learning table, then the pending static entries,
// sorted by port, VLAN and MAC.
func (f *Fabric) Entries() []Entry {
	var out []Entry
	for _, e := range f.fdb.Entries() {
		out = append(out, Entry{Port: e.Port.Name, VLAN: e.VLAN, MAC: e.MAC, Static: e.Static, Age: e.Age.Seconds(),
			Via: via(e.Port, e.VLAN, e.MAC)})
	}
	out = append(out, f.pendingStatics()...)
	sort.SliceStable(out, func(i, j int) bool { return out[i].Port < out[j].Port })
	return out
}

// Stats are the fabric-wide counters and the learning table's.
type Stats struct {
	Uptime  float64 `json:"uptime_seconds"`
	Ports   int     `json:"ports"`
	Devices int     `json:"devices"`
	// PendingStatics counts static entries whose port is not attached.
	PendingStatics int            `json:"pending_statics"`
	Fabric         FabricCounters `json:"fabric"`
	// Totals are the counters of every port the fabric has had, attached
	// or detached, summed, with the frames listening devices dropped
	// before any port read them in RxBackend. Once traffic stops, the
	// receive-side books balance: Totals.RxFrames = Fabric.Forwarded +
	// Fabric.Flooded + Fabric.Filtered + Totals.Probes +
	// Totals.RxDrops() (see Counters and Unaccounted).
	Totals   Counters  `json:"totals"`
	Detached int       `json:"ports_detached"`
	FDB      fdb.Stats `json:"fdb"`
	FDBAging float64   `json:"fdb_aging_seconds"`
}

// Unaccounted returns how many frames read are neither forwarded, flooded,
// filtered, consumed as probes nor dropped for a receive-side reason: 0
// when the books balance. It is signed: frames in flight (read and not yet
// decided) show as positive while traffic runs.
func (s Stats) Unaccounted() int64 {
	out := s.Fabric.Forwarded + s.Fabric.Flooded + s.Fabric.Filtered + s.Totals.Probes + s.Totals.RxDrops()
	return int64(s.Totals.RxFrames) - int64(out)
}

// Stats returns the fabric's counters.
func (f *Fabric) Stats() Stats {
	set := f.ports.Load()
	f.mu.Lock()
	totals := f.retired
	for p := range f.detaching {
		totals.add(p.counters())
	}
	for _, d := range f.devices {
		if r, ok := d.dev.(RxDropper); ok {
			totals.RxBackend += r.RxDropped()
		}
	}
	totals.RxBackend += f.retiredDevRx
	detached := f.detached
	f.mu.Unlock()
	for _, p := range set.list {
		totals.add(p.counters())
	}
	return Stats{
		Uptime:         time.Since(f.started).Seconds(),
		Ports:          len(set.list),
		Devices:        len(f.Devices()),
		PendingStatics: len(f.pendingStatics()),
		Fabric: FabricCounters{
			Forwarded: f.counters.forwarded.Load(),
			Flooded:   f.counters.flooded.Load(),
			Filtered:  f.counters.filtered.Load(),
		},
		Totals:   totals,
		Detached: detached,
		FDB:      f.fdb.Stats(),
		FDBAging: f.fdb.Aging().Seconds(),
	}
}

// counters returns the port's counters, with those its transmit queue and
// its backend keep.
func (p *port) counters() Counters {
	c := p.c.snapshot()
	c.TxWaits = p.tx.waits()
	if d, ok := p.dev.(RxDropper); ok {
		c.RxBackend = d.RxDropped()
	}
	return c
}

// loopMode describes the port's loop protection for dumps.
func (p *port) loopMode(off bool) string {
	switch {
	case off || p.NoLoopDetect:
		return "off"
	case p.probing():
		return "probes"
	}
	return "on"
}
