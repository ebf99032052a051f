package fabric_test

import (
	"net/netip"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/l2fabric/l2fabric/fabric"
	"github.com/l2fabric/l2fabric/fabric/fabrictest"
	"github.com/l2fabric/l2fabric/frames"
)

// tunnelPort is an in-memory port with remote endpoints, as a vxlan port
// has: MACs located behind remotes, and a flood list.
type tunnelPort struct {
	*fabrictest.Port
	mu      sync.Mutex
	where   map[frames.MAC]netip.Addr
	remotes []netip.Addr
}

func (p *tunnelPort) RemoteOf(vlan uint16, mac frames.MAC) (netip.Addr, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	a, ok := p.where[mac]
	return a, ok
}

func (p *tunnelPort) PinRemote(vlan uint16, mac frames.MAC, remote netip.Addr) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.where[mac] = remote
	return nil
}

func (p *tunnelPort) UnpinRemote(vlan uint16, mac frames.MAC) {
	p.mu.Lock()
	defer p.mu.Unlock()
	delete(p.where, mac)
}

func (p *tunnelPort) AddRemote(a netip.Addr) error { p.remotes = append(p.remotes, a); return nil }
func (p *tunnelPort) DeleteRemote(a netip.Addr) error {
	p.remotes = slices.DeleteFunc(p.remotes, func(x netip.Addr) bool { return x == a })
	return nil
}
func (p *tunnelPort) Remotes() []netip.Addr { return p.remotes }

func TestTunnelPortRemotesInDumpsAndStatics(t *testing.T) {
	tf := newTestFabric(t, fabric.Config{})
	tun := &tunnelPort{Port: fabrictest.New(8), where: map[frames.MAC]netip.Addr{}}
	if err := tf.f.Attach(tun, fabric.PortConfig{Name: "vx"}); err != nil {
		t.Fatal(err)
	}
	tf.attach(fabric.PortConfig{Name: "vm"})
	vtep := netip.MustParseAddr("10.0.0.2")

	// A learned MAC the port locates: the dump carries its VTEP.
	tun.PinRemote(1, mac("02:00:00:00:00:01"), vtep)
	tun.Inject(eth("ff:ff:ff:ff:ff:ff", "02:00:00:00:00:01", 50))
	if _, err := tf.ports["vm"].WaitWritten(1, 5*time.Second); err != nil {
		t.Fatal(err)
	}
	var via string
	for _, e := range tf.f.Entries() {
		if e.MAC == mac("02:00:00:00:00:01") {
			via = e.Via
		}
	}
	if via != "10.0.0.2" {
		t.Errorf("learned entry via %q, want 10.0.0.2", via)
	}

	// A static entry with a VTEP is pinned on the port; deleting it
	// unpins it.
	st := fabric.Static{MAC: mac("02:00:00:00:00:02"), Port: "vx"}
	if err := tf.f.AddStaticVia(st, vtep); err != nil {
		t.Fatal(err)
	}
	if a, ok := tun.RemoteOf(1, st.MAC); !ok || a != vtep {
		t.Errorf("static entry not pinned: %v %v", a, ok)
	}
	if err := tf.f.DeleteEntry(1, st.MAC); err != nil {
		t.Fatal(err)
	}
	if _, ok := tun.RemoteOf(1, st.MAC); ok {
		t.Error("deleting the static entry left it pinned")
	}
	// Not on a port without remotes, nor on one that is absent.
	if err := tf.f.AddStaticVia(fabric.Static{MAC: st.MAC, Port: "vm"}, vtep); err == nil || !strings.Contains(err.Error(), "tunnel") {
		t.Errorf("dst on a port without remotes: %v", err)
	}
	if err := tf.f.AddStaticVia(fabric.Static{MAC: st.MAC, Port: "nope"}, vtep); err == nil {
		t.Error("dst on an absent port accepted")
	}

	// The flood list, through the fabric.
	r, err := tf.f.Remotes("vx")
	if err != nil {
		t.Fatal(err)
	}
	r.AddRemote(vtep)
	if got := r.Remotes(); len(got) != 1 || got[0] != vtep {
		t.Errorf("remotes %v", got)
	}
	if _, err := tf.f.Remotes("vm"); err == nil {
		t.Error("remotes of a port without any")
	}
}
