package vxlan

import (
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/l2fabric/l2fabric/fdb"
	"github.com/l2fabric/l2fabric/frames"
)

// RemoteTable is how a VXLAN port learns where to send: the flood list of
// each VNI (head-end replication of broadcast, multicast and unknown
// unicast) and MACs pinned to a remote VTEP. Flood-and-learn fills the
// learned part by itself; the spec's remotes, the vxlan.remote control
// command and static entries (fdb add MAC@PORT,dst=IP) go through these
// methods, and so would a control plane such as BGP EVPN (type 3 routes
// are AddFlood, type 2 routes AddMAC).
type RemoteTable interface {
	// AddFlood adds vtep to vni's flood list.
	AddFlood(vni uint32, vtep netip.Addr) error
	// DeleteFlood removes vtep from vni's flood list.
	DeleteFlood(vni uint32, vtep netip.Addr) error
	// AddMAC sends frames for mac in vni to vtep only. The entry never
	// ages and is not moved by learning.
	AddMAC(vni uint32, mac frames.MAC, vtep netip.Addr) error
	// DeleteMAC removes mac's entry in vni, pinned or learned.
	DeleteMAC(vni uint32, mac frames.MAC) error
}

// vtep is a remote tunnel endpoint, interned so that each address has one
// (comparable) value and its socket address is built once.
type vtep struct {
	addr netip.Addr
	sa   sockaddr // addr and the table's destination port
}

// maxVTEPs bounds the VTEPs a table knows (from its flood lists and from
// learning): packets from ever new source addresses cannot grow it
// without limit. Past it, new sources are not learned (and counted).
const maxVTEPs = 4096

// table is a port's RemoteTable: per-VNI flood lists and a MAC learning
// table (package fdb, keyed by the fabric VLAN each VNI maps to) whose
// values are VTEPs. Lookups and the common case of learning take no lock
// and allocate nothing.
type table struct {
	port  uint16 // destination UDP port of every VTEP
	is6   bool
	maps  []Mapping
	index [frames.MaxVLAN + 1]uint8 // VLAN -> 1 + index into maps/flood, 0: not carried
	flood []atomic.Pointer[[]*vtep] // per mapping
	macs  *fdb.Table[*vtep]

	mu    sync.Mutex
	vteps map[netip.Addr]*vtep
}

// maxMappings bounds vnis= (index is a uint8).
const maxMappings = 255

func newTable(o options, cfg fdb.Config) (*table, error) {
	if len(o.maps) > maxMappings {
		return nil, fmt.Errorf("a vxlan port carries at most %d VNIs", maxMappings)
	}
	macs, err := fdb.New[*vtep](cfg)
	if err != nil {
		return nil, err
	}
	t := &table{port: o.port, is6: o.is6(), maps: o.maps, macs: macs,
		flood: make([]atomic.Pointer[[]*vtep], len(o.maps)), vteps: map[netip.Addr]*vtep{}}
	for i, m := range o.maps {
		t.index[m.VLAN] = uint8(i + 1)
		empty := []*vtep{}
		t.flood[i].Store(&empty)
	}
	for _, r := range o.remotes {
		for _, m := range o.maps {
			if err := t.AddFlood(m.VNI, r); err != nil {
				return nil, err
			}
		}
	}
	return t, nil
}

// slot returns the mapping index of vlan, or -1.
func (t *table) slot(vlan uint16) int {
	if vlan > frames.MaxVLAN {
		return -1
	}
	return int(t.index[vlan]) - 1
}

// vlanOf returns the VLAN vni maps to.
func (t *table) vlanOf(vni uint32) (uint16, error) {
	for _, m := range t.maps {
		if m.VNI == vni {
			return m.VLAN, nil
		}
	}
	return 0, fmt.Errorf("VNI %d is not carried by this port", vni)
}

// intern returns the vtep for a, making it if there is room.
func (t *table) intern(a netip.Addr) (*vtep, error) {
	a = a.Unmap()
	if !a.IsValid() || a.IsUnspecified() || a.IsMulticast() || a.Is6() != t.is6 {
		fam := "IPv4"
		if t.is6 {
			fam = "IPv6"
		}
		return nil, fmt.Errorf("remote %s: want a unicast %s address (the port's underlay)", a, fam)
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if v := t.vteps[a]; v != nil {
		return v, nil
	}
	if len(t.vteps) >= maxVTEPs {
		return nil, errTooManyVTEPs
	}
	v := &vtep{addr: a, sa: newSockaddr(netip.AddrPortFrom(a, t.port))}
	t.vteps[a] = v
	return v, nil
}

var errTooManyVTEPs = fmt.Errorf("more than %d remote VTEPs", maxVTEPs)

// AddFlood implements RemoteTable.
func (t *table) AddFlood(vni uint32, a netip.Addr) error {
	vlan, err := t.vlanOf(vni)
	if err != nil {
		return err
	}
	v, err := t.intern(a)
	if err != nil {
		return err
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	p := &t.flood[t.slot(vlan)]
	old := *p.Load()
	if slices.Contains(old, v) {
		return nil
	}
	list := append(slices.Clone(old), v)
	p.Store(&list)
	return nil
}

// DeleteFlood implements RemoteTable.
func (t *table) DeleteFlood(vni uint32, a netip.Addr) error {
	vlan, err := t.vlanOf(vni)
	if err != nil {
		return err
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	p := &t.flood[t.slot(vlan)]
	old := *p.Load()
	list := slices.DeleteFunc(slices.Clone(old), func(v *vtep) bool { return v.addr == a.Unmap() })
	if len(list) == len(old) {
		return fmt.Errorf("%s is not a remote of VNI %d", a, vni)
	}
	p.Store(&list)
	return nil
}

// AddMAC implements RemoteTable.
func (t *table) AddMAC(vni uint32, mac frames.MAC, a netip.Addr) error {
	vlan, err := t.vlanOf(vni)
	if err != nil {
		return err
	}
	v, err := t.intern(a)
	if err != nil {
		return err
	}
	return t.macs.AddStatic(vlan, mac, v)
}

// DeleteMAC implements RemoteTable.
func (t *table) DeleteMAC(vni uint32, mac frames.MAC) error {
	vlan, err := t.vlanOf(vni)
	if err != nil {
		return err
	}
	if !t.macs.Delete(vlan, mac) {
		return fmt.Errorf("no entry for %s in VNI %d", mac, vni)
	}
	return nil
}

// remotes returns the addresses in every flood list, sorted, without
// duplicates.
func (t *table) remotes() []netip.Addr {
	var out []netip.Addr
	for i := range t.flood {
		for _, v := range *t.flood[i].Load() {
			out = append(out, v.addr)
		}
	}
	slices.SortFunc(out, netip.Addr.Compare)
	return slices.Compact(out)
}

// lookup returns where a frame for dst in VLAN slot i goes: the one VTEP
// dst was learned or pinned behind, or the slot's flood list.
func (t *table) lookup(vlan uint16, i int, dst frames.MAC) (one *vtep, flood []*vtep) {
	if dst.IsUnicast() {
		if v, ok := t.macs.Lookup(vlan, dst); ok {
			return v, nil
		}
	}
	return nil, *t.flood[i].Load()
}

// learn records that src in vlan lives behind v.
func (t *table) learn(now time.Time, vlan uint16, src frames.MAC, v *vtep) {
	t.macs.LearnAt(now, vlan, src, v)
}

// locate returns the VTEP mac in vlan was learned or pinned behind.
func (t *table) locate(vlan uint16, mac frames.MAC) (netip.Addr, bool) {
	if v, ok := t.macs.Lookup(vlan, mac); ok {
		return v.addr, true
	}
	return netip.Addr{}, false
}

// errNotCarried is returned for a VLAN the port does not carry.
var errNotCarried = errors.New("the port does not carry this VLAN")
