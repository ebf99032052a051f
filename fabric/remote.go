package fabric

import (
	"fmt"
	"net/netip"

	"github.com/l2fabric/l2fabric/frames"
)

// Tunnel ports (vxlan) reach many remote endpoints through one port: the
// fabric learns a MAC behind the port, and the port knows which remote
// endpoint (VTEP) the MAC lives behind. These optional interfaces let the
// fabric show that in its dumps, install static entries with a remote,
// and change the list of remotes a port floods to.

// RemoteLocator is implemented by ports that send each MAC to a remote
// endpoint of their own: the FDB dump shows it (Entry.Via).
type RemoteLocator interface {
	// RemoteOf returns the remote endpoint mac in vlan lives behind, if
	// the port knows it.
	RemoteOf(vlan uint16, mac frames.MAC) (netip.Addr, bool)
}

// RemotePinner is implemented by ports whose MACs can be pinned to a
// remote endpoint: static entries with a destination (l2fabric fdb add
// MAC@PORT,dst=IP).
type RemotePinner interface {
	RemoteLocator
	// PinRemote sends frames for mac in vlan to remote only, for good.
	PinRemote(vlan uint16, mac frames.MAC, remote netip.Addr) error
	// UnpinRemote forgets mac's remote in vlan, pinned or learned.
	UnpinRemote(vlan uint16, mac frames.MAC)
}

// FloodRemotes is implemented by ports that replicate broadcast,
// multicast and unknown unicast to a list of remote endpoints (head-end
// replication), which can change while the port runs.
type FloodRemotes interface {
	// AddRemote adds remote to the list.
	AddRemote(remote netip.Addr) error
	// DeleteRemote removes remote from the list.
	DeleteRemote(remote netip.Addr) error
	// Remotes returns the list, sorted.
	Remotes() []netip.Addr
}

// BackendDropper is implemented by ports whose backend drops what it reads
// or is given for reasons of its own (a tunnel's malformed packets,
// unknown VNIs, frames with no remote to go to). The non-zero counts show
// in the port's dump (PortInfo.BackendDrops), by reason.
type BackendDropper interface {
	BackendDrops() map[string]uint64
}

// via returns the remote endpoint of an entry of p, for dumps, or "".
func via(p *port, vlan uint16, mac frames.MAC) string {
	if l, ok := p.dev.(RemoteLocator); ok {
		if a, ok := l.RemoteOf(vlan, mac); ok {
			return a.String()
		}
	}
	return ""
}

// AddStaticVia adds a static entry whose port is a tunnel port, pinning
// the MAC to the remote endpoint via on that port. The port must be
// attached and be a RemotePinner.
func (f *Fabric) AddStaticVia(s Static, via netip.Addr) error {
	if s.VLAN == 0 {
		s.VLAN = DefaultVLAN
	}
	p := f.ports.Load().byName[s.Port]
	if p == nil {
		return fmt.Errorf("no port named %q", s.Port)
	}
	pin, ok := p.dev.(RemotePinner)
	if !ok {
		return fmt.Errorf("port %q (%s) has no remote endpoints: dst= applies to tunnel ports such as vxlan", s.Port, p.Kind)
	}
	if !p.member(s.VLAN) {
		return fmt.Errorf("port %q is not a member of VLAN %d", s.Port, s.VLAN)
	}
	if err := pin.PinRemote(s.VLAN, s.MAC, via); err != nil {
		return fmt.Errorf("port %q: %w", s.Port, err)
	}
	if err := f.AddStatic(s, false); err != nil {
		pin.UnpinRemote(s.VLAN, s.MAC)
		return err
	}
	return nil
}

// unpin forgets mac's remote endpoint in vlan on every tunnel port, when
// its entry is deleted.
func (f *Fabric) unpin(vlan uint16, mac frames.MAC) {
	for _, p := range f.ports.Load().list {
		if pin, ok := p.dev.(RemotePinner); ok {
			pin.UnpinRemote(vlan, mac)
		}
	}
}

// Remotes returns the flood list of the tunnel port called name.
func (f *Fabric) Remotes(name string) (FloodRemotes, error) {
	p := f.ports.Load().byName[name]
	if p == nil {
		return nil, fmt.Errorf("no port named %q", name)
	}
	r, ok := p.dev.(FloodRemotes)
	if !ok {
		return nil, fmt.Errorf("port %q (%s) has no remote endpoints: remotes apply to tunnel ports such as vxlan", name, p.Kind)
	}
	return r, nil
}
