package fabric

import (
	"fmt"
	"slices"

	"github.com/l2fabric/l2fabric/fdb"
	"github.com/l2fabric/l2fabric/frames"
)

// Static is a static FDB entry: MAC in VLAN always lives on the port named
// Port. It never ages and never moves.
type Static struct {
	VLAN uint16     `json:"vlan"`
	MAC  frames.MAC `json:"mac"`
	Port string     `json:"port"`
}

// AddStatic adds a static entry. The port must be attached unless
// allowAbsent is set (command-line entries may name ports that attach
// later, like a listener's clients); the entry is installed whenever a port
// of that name is attached.
func (f *Fabric) AddStatic(s Static, allowAbsent bool) error {
	if s.VLAN == 0 {
		s.VLAN = DefaultVLAN
	}
	if s.VLAN > frames.MaxVLAN {
		return fmt.Errorf("VLAN %d is out of range %d-%d", s.VLAN, frames.MinVLAN, frames.MaxVLAN)
	}
	if !s.MAC.IsUnicast() {
		return fmt.Errorf("%s is not a unicast MAC address: only unicast addresses can be static entries", s.MAC)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	p := f.ports.Load().byName[s.Port]
	if p == nil && !allowAbsent {
		return fmt.Errorf("no port named %q", s.Port)
	}
	if p != nil {
		if !p.member(s.VLAN) {
			return fmt.Errorf("port %q is not a member of VLAN %d", s.Port, s.VLAN)
		}
		if err := f.fdb.AddStatic(s.VLAN, s.MAC, p); err != nil {
			return err
		}
	}
	f.statics = slices.DeleteFunc(f.statics, func(o Static) bool { return o.VLAN == s.VLAN && o.MAC == s.MAC })
	f.statics = append(f.statics, s)
	f.macsMayHaveChanged()
	f.publish(Event{Type: EventStaticAdded, Port: s.Port, VLAN: s.VLAN, MAC: s.MAC})
	return nil
}

// DeleteEntry removes the entry for mac in vlan, static or learned.
func (f *Fabric) DeleteEntry(vlan uint16, mac frames.MAC) error {
	if vlan == 0 {
		vlan = DefaultVLAN
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	n := len(f.statics)
	f.statics = slices.DeleteFunc(f.statics, func(o Static) bool { return o.VLAN == vlan && o.MAC == mac })
	e, had := f.fdb.Get(vlan, mac)
	if !f.fdb.Delete(vlan, mac) && n == len(f.statics) {
		return fmt.Errorf("no entry for %s in VLAN %d", mac, vlan)
	}
	f.macsMayHaveChanged()
	ev := Event{Type: EventDeleted, VLAN: vlan, MAC: mac}
	if had {
		ev.Port = e.Port.Name
	}
	if n != len(f.statics) || e.Static {
		ev.Type = EventStaticRemoved
	}
	f.publish(ev)
	return nil
}

// Flush removes learned entries, of one port when portName is not empty,
// and returns how many. Static entries stay.
func (f *Fabric) Flush(portName string) (int, error) {
	defer f.macsMayHaveChanged()
	if portName == "" {
		n := f.fdb.Flush(nil)
		f.publish(Event{Type: EventFlushed, Reason: "flush requested", Count: n})
		return n, nil
	}
	p := f.ports.Load().byName[portName]
	if p == nil {
		return 0, fmt.Errorf("no port named %q", portName)
	}
	n := f.fdb.Flush(func(e fdb.Entry[*port]) bool { return e.Port == p })
	f.publish(Event{Type: EventFlushed, Port: p.Name, Reason: "flush requested", Count: n})
	return n, nil
}
