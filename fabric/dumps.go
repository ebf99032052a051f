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
	Counters   Counters  `json:"counters"`
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
			Attached: p.attached, Counters: p.c.snapshot(),
		}
		pi.Counters.TxWaits = p.tx.waits()
		if !p.MAC.IsZero() {
			pi.MAC = p.MAC.String()
		}
		if d, ok := p.dev.(RxDropper); ok {
			pi.Counters.RxBackend = d.RxDropped()
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
}

// Entries returns the learning table, then the pending static entries,
// sorted by port, VLAN and MAC.
func (f *Fabric) Entries() []Entry {
	var out []Entry
	for _, e := range f.fdb.Entries() {
		out = append(out, Entry{Port: e.Port.Name, VLAN: e.VLAN, MAC: e.MAC, Static: e.Static, Age: e.Age.Seconds()})
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
	FDB            fdb.Stats      `json:"fdb"`
	FDBAging       float64        `json:"fdb_aging_seconds"`
}

// Stats returns the fabric's counters.
func (f *Fabric) Stats() Stats {
	return Stats{
		Uptime:         time.Since(f.started).Seconds(),
		Ports:          len(f.ports.Load().list),
		Devices:        len(f.Devices()),
		PendingStatics: len(f.pendingStatics()),
		Fabric: FabricCounters{
			Forwarded: f.counters.forwarded.Load(),
			Flooded:   f.counters.flooded.Load(),
			Filtered:  f.counters.filtered.Load(),
		},
		FDB:      f.fdb.Stats(),
		FDBAging: f.fdb.Aging().Seconds(),
	}
}
