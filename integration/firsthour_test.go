package integration

import (
	"strings"
	"testing"
)

// TestBridgeKeepsItsMAC: feth:BRIDGE leaves the host bridge's address as
// it was, before start, while running and after stop, both for a bridge
// with a port of lower address already and for an empty one (which a
// Linux bridge would otherwise give its first port's address). The TAP
// l2fabric creates has an address that can never be a bridge's lowest.
func TestBridgeKeepsItsMAC(t *testing.T) {
	requireNetAdmin(t)
	dir := shortTempDir(t)
	sw := newNetns(t, "sw")
	sw.ip("link", "add", "br1", "type", "bridge")
	sw.ip("link", "add", "br2", "type", "bridge")
	// br1 already has a port, of a high address: a TAP with a random
	// (lower) one would take over.
	sw.ip("link", "add", "hi0", "address", "fc:00:00:00:00:01", "type", "veth", "peer", "name", "hi1")
	sw.ip("link", "set", "hi0", "master", "br1")
	for _, br := range []string{"br1", "br2"} {
		sw.ip("link", "set", br, "up")
	}
	mac := func(dev string) string {
		out, err := sw.exec("cat", "/sys/class/net/"+dev+"/address")
		if err != nil {
			t.Fatalf("%s's address: %v %s", dev, err, out)
		}
		return strings.TrimSpace(out)
	}
	before := map[string]string{"br1": mac("br1"), "br2": mac("br2")}
	d := startDaemonIn(t, sw.name, dir, "--port", "feth:br1", "--port", "feth:br2", "--port", "tap:tp0")
	d.waitPorts("feth-br1", "feth-br2", "tp0")
	for _, dev := range []string{"l2f-br1", "l2f-br2", "tp0"} {
		if m := mac(dev); !strings.HasPrefix(m, "fe:") {
			t.Errorf("%s, created by l2fabric, has address %s: want fe:..., never a bridge's lowest", dev, m)
		}
	}
	for br, was := range before {
		if now := mac(br); now != was {
			t.Errorf("%s's address changed from %s to %s while l2fabric runs", br, was, now)
		}
	}
	d.stopClean()
	for br, was := range before {
		if now := mac(br); now != was {
			t.Errorf("%s's address changed from %s to %s after l2fabric stopped", br, was, now)
		}
	}
}
