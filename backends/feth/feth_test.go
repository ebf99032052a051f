//go:build linux

package feth_test

// Every test that creates interfaces runs in a network namespace of its
// own (see package nstest): the test binary re-runs itself for that test
// in a child process cloned with CLONE_NEWNET. They need root.

import (
	"strings"
	"testing"
	"time"

	"github.com/l2fabric/l2fabric/backends/feth"
	"github.com/l2fabric/l2fabric/backends/internal/netif"
	"github.com/l2fabric/l2fabric/backends/internal/nstest"
	"github.com/l2fabric/l2fabric/fabric"
)

// addBridge creates bridge name with the host's address on it.
func addBridge(t *testing.T, name, mtu string) netif.Link {
	t.Helper()
	nstest.IP(t, "link", "add", name, "mtu", mtu, "type", "bridge")
	nstest.IP(t, "addr", "add", nstest.HostIP+"/24", "dev", name)
	nstest.IP(t, "link", "set", name, "up")
	return nstest.Link(t, name)
}

// member waits until dev is a port of bridge and returns it.
func member(t *testing.T, dev, bridge string) netif.Link {
	t.Helper()
	var l netif.Link
	nstest.WaitFor(t, dev+" in bridge "+bridge, func() bool {
		br, err1 := netif.LinkByName(bridge)
		var err2 error
		l, err2 = netif.LinkByName(dev)
		return err1 == nil && err2 == nil && l.Master == br.Index
	})
	return l
}

func TestSpecErrors(t *testing.T) {
	ks := fabric.Kinds{feth.Kind()}
	for spec, want := range map[string]string{
		"feth:":                         "missing bridge name",
		"feth:,dev=x":                   "missing bridge name",
		"feth:abcdefghijklmnop":         "longer than the 15",
		"feth:br0,dev=a/b":              "contains '/'",
		"feth:br0,dev=abcdefghijklmnop": "longer than the 15",
		"feth:br0,dev=br0":              "cannot have the bridge's name",
		"feth:br0,dev=t%d":              "fixed name",
		"feth:br0,persist=on":           "unknown option",
	} {
		_, _, _, err := ks.Parse(spec)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: error %v, want %q", spec, err, want)
		}
	}
	if _, _, _, err := ks.Parse("feth:br0,dev=tap9,mtu=9000,name=host"); err != nil {
		t.Error(err)
	}
}

func TestBridge(t *testing.T) {
	if !nstest.InNetns(t) {
		return
	}
	br := addBridge(t, "br0", "9000")
	f := nstest.NewFabric(t, feth.Kind())
	name, err := f.Open("feth:br0")
	if err != nil {
		t.Fatal(err)
	}
	if name != "feth-br0" {
		t.Errorf("port name %q, want feth-br0", name)
	}
	dev := nstest.Link(t, "l2f-br0")
	if !dev.IsTap() || !dev.Up() || dev.Master != br.Index || dev.MTU != 9000 {
		t.Errorf("TAP %+v: want an up TAP in br0 (index %d), with its MTU 9000", dev, br.Index)
	}
	if br := nstest.Link(t, "br0"); br.MTU != 9000 {
		t.Errorf("joining changed the bridge's MTU to %d", br.MTU)
	}
	p, _ := nstest.Port(f, "feth-br0")
	if p.Kind != "feth" || p.MTU != 9000 || p.State != "up" || p.Info != "TAP l2f-br0 in bridge br0" {
		t.Errorf("port %+v", p)
	}
	peer := nstest.NewPeer(t, f, "vm", 9000, nstest.PeerIP)
	mac := peer.Exchange(t, nstest.HostIP, 1000)
	if mac != [6]byte(nstest.Link(t, "br0").HardwareAddr) {
		t.Errorf("the host's frames came from %x, not the bridge's address", mac)
	}
	peer.Exchange(t, nstest.HostIP, 8972)

	// Taken out of the bridge: re-joined, the link staying up.
	nstest.IP(t, "link", "set", "l2f-br0", "nomaster")
	start := time.Now()
	member(t, "l2f-br0", "br0")
	t.Logf("re-joined after %v", time.Since(start))
	if p, _ := nstest.Port(f, "feth-br0"); p.State != "up" {
		t.Errorf("state %q", p.State)
	}
	peer.Exchange(t, nstest.HostIP, 100)

	// Moved to another bridge: down, not fought over; back when freed.
	nstest.IP(t, "link", "add", "br1", "type", "bridge")
	nstest.IP(t, "link", "set", "l2f-br0", "master", "br1")
	p = nstest.WaitState(t, f, "feth-br0", "down")
	if p.State != "down (l2f-br0 was moved to br1: not re-joining bridge br0)" {
		t.Errorf("state %q", p.State)
	}
	nstest.IP(t, "link", "del", "br1")
	nstest.WaitState(t, f, "feth-br0", "up")
	member(t, "l2f-br0", "br0")

	// The bridge deleted and re-created.
	nstest.IP(t, "link", "del", "br0")
	p = nstest.WaitState(t, f, "feth-br0", "down")
	if p.State != "down (bridge br0 deleted)" {
		t.Errorf("state %q", p.State)
	}
	nstest.Link(t, "l2f-br0") // the TAP stays
	addBridge(t, "br0", "1500")
	nstest.WaitState(t, f, "feth-br0", "up")
	member(t, "l2f-br0", "br0")
	peer.Exchange(t, nstest.HostIP, 100)

	// The TAP deleted: re-created and re-joined.
	nstest.IP(t, "link", "del", "l2f-br0")
	now := member(t, "l2f-br0", "br0")
	if now.Index == dev.Index || !now.IsTap() || !now.Up() {
		t.Errorf("TAP after re-creation %+v (was index %d)", now, dev.Index)
	}
	nstest.WaitState(t, f, "feth-br0", "up")
	peer.Exchange(t, nstest.HostIP, 100)

	if err := f.Detach("feth-br0"); err != nil {
		t.Fatal(err)
	}
	nstest.Gone(t, "l2f-br0")
	nstest.Link(t, "br0")
}

func TestBridgeErrors(t *testing.T) {
	if !nstest.InNetns(t) {
		return
	}
	f := nstest.NewFabric(t, feth.Kind())
	_, err := f.Open("feth:br9")
	if err == nil || !strings.Contains(err.Error(), "bridge br9 does not exist (there is no bridge") {
		t.Errorf("error %v", err)
	}
	nstest.IP(t, "link", "add", "br1", "type", "bridge")
	nstest.IP(t, "link", "add", "br2", "type", "bridge")
	_, err = f.Open("feth:br9")
	if err == nil || !strings.Contains(err.Error(), "bridge br9 does not exist (bridges: br1, br2)") {
		t.Errorf("error %v", err)
	}
	nstest.IP(t, "link", "add", "v0", "type", "veth", "peer", "name", "v1")
	_, err = f.Open("feth:v0")
	if err == nil || !strings.Contains(err.Error(), "v0 is a veth device, not a bridge (bridges: br1, br2)") {
		t.Errorf("error %v", err)
	}
	nstest.Gone(t, "l2f-br9")
	nstest.Gone(t, "l2f-v0")

	// dev= names the TAP; a name taken by something else is an error.
	_, err = f.Open("feth:br1,dev=v1")
	if err == nil || !strings.Contains(err.Error(), "v1 exists and is a veth device, not a TAP") {
		t.Errorf("error %v", err)
	}
	name, err := f.Open("feth:br1,dev=hostport,name=host")
	if err != nil {
		t.Fatal(err)
	}
	if name != "host" {
		t.Errorf("port name %q", name)
	}
	member(t, "hostport", "br1")
	if err := f.Detach("host"); err != nil {
		t.Fatal(err)
	}
	nstest.Gone(t, "hostport")
}

func TestLongBridgeName(t *testing.T) {
	if !nstest.InNetns(t) {
		return
	}
	nstest.IP(t, "link", "add", "bridge-fifteen", "type", "bridge")
	f := nstest.NewFabric(t, feth.Kind())
	if _, err := f.Open("feth:bridge-fifteen"); err != nil {
		t.Fatal(err)
	}
	member(t, "l2f-bridge-fift", "bridge-fifteen")
	if _, ok := nstest.Port(f, "feth-bridge-fifteen"); !ok {
		t.Errorf("no port feth-bridge-fifteen: %v", f.Ports())
	}
}
