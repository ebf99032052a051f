package fabric

import (
	"fmt"
	"slices"
	"strings"

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
// of that name is attached, and until then is pending: shown by Entries
// and counted by Stats, and logged as waiting, with a warning when the
// name is a device's or matches nothing the fabric has.
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
		return fmt.Errorf("%s", f.absentPortLocked(s.Port, "ports"))
	}
	if p == nil {
		f.logPendingLocked(s)
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

// absentPortLocked says why name is not a port a static entry can go on:
// it is a device (a listening socket, whose VMs are its ports), or nothing
// at all, with the ports there are. see is the command that lists them.
// f.mu is held.
func (f *Fabric) absentPortLocked(name, see string) string {
	if d, ok := f.devices[name]; ok {
		what := "a device"
		if _, vm := d.dev.(DeviceStater); !vm {
			what = "a listening socket"
		}
		return fmt.Sprintf("%s is %s; its VMs are ports %s/<name> (l2fabric %s lists them): put the entry on one of those", name, what, name, see)
	}
	return fmt.Sprintf("no port named %q (l2fabric %s lists the ports)", name, see)
}

// logPendingLocked logs a static entry whose port is not attached: as
// waiting when a device of that name's prefix may attach it, else as a
// warning, since the name may be a typo. f.mu is held.
func (f *Fabric) logPendingLocked(s Static) {
	dev, _, isChild := strings.Cut(s.Port, "/")
	if _, ok := f.devices[dev]; ok && isChild {
		f.log.Info("static entry pending: waits for its port to attach", "port", s.Port, "mac", s.MAC, "vlan", s.VLAN)
		return
	}
	if _, ok := f.devices[s.Port]; ok {
		f.log.Warn("static entry pending for ever: "+f.absentPortLocked(s.Port, "ports"), "port", s.Port, "mac", s.MAC, "vlan", s.VLAN)
		return
	}
	f.log.Warn("static entry pending: no port or device has this name (yet); it is installed if a port of this name attaches", "port", s.Port, "mac", s.MAC, "vlan", s.VLAN)
}

// pendingStatics returns the configured static entries whose port is not
// attached, as entries for dumps.
func (f *Fabric) pendingStatics() []Entry {
	ports := f.ports.Load()
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []Entry
	for _, s := range f.statics {
		if ports.byName[s.Port] == nil {
			out = append(out, Entry{Port: s.Port, VLAN: s.VLAN, MAC: s.MAC, Static: true, Pending: true})
		}
	}
	return out
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
	f.unpin(vlan, mac)
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
		f.mu.Lock()
		defer f.mu.Unlock()
		return 0, fmt.Errorf("%s", f.absentPortLocked(portName, "ports"))
	}
	n := f.fdb.Flush(func(e fdb.Entry[*port]) bool { return e.Port == p })
	f.publish(Event{Type: EventFlushed, Port: p.Name, Reason: "flush requested", Count: n})
	return n, nil
}
