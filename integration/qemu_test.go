//go:build linux

package integration

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/l2fabric/l2fabric/integration/internal/qemuvm"
)

// TestQEMUGuestsSwitched boots four qemu guests with -netdev dgram and
// switches them through the real binary:
//
//	vm1, vm2: clients of one listening socket, VLAN 1
//	vm3:      a peer-mode port (dgram:PATH,peer=QEMUPATH), VLAN 20
//	vm4:      client of a second listening socket, VLAN 20
//
// vm1 and vm2 ping each other, vm3 and vm4 ping each other, vm3 cannot
// reach vm1 (VLANs are isolated), and the FDB dump shows each guest's MAC
// on its own port and VLAN.
func TestQEMUGuestsSwitched(t *testing.T) {
	qemuvm.RequireAssets(t)
	dir := shortTempDir(t)
	vms, lab, sw3 := filepath.Join(dir, "vms.sock"), filepath.Join(dir, "lab.sock"), filepath.Join(dir, "sw3.sock")
	vm3Path := filepath.Join(dir, "vm3.sock")
	d := startDaemon(t, dir,
		"--port", "dgram:"+vms,
		"--port", "dgram:"+lab+",vlan=20",
		"--port", "dgram:"+sw3+",peer="+vm3Path+",vlan=20,name=vm3")

	specs := []qemuvm.Config{
		dgramGuest(dir, "vm1", "52:54:00:00:00:01", "198.18.0.1/24", vms),
		dgramGuest(dir, "vm2", "52:54:00:00:00:02", "198.18.0.2/24", vms),
		dgramGuest(dir, "vm3", "52:54:00:00:00:03", "198.18.0.3/24", sw3),
		dgramGuest(dir, "vm4", "52:54:00:00:00:04", "198.18.0.4/24", lab),
	}
	guests := bootGuests(t, dir, specs...)
	announce(t, guests, specs)
	d.waitPorts("vms/vm1.sock", "vms/vm2.sock", "vm3", "lab/vm4.sock")

	ping := func(from int, to string) (string, int) {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		out, code, err := guests[from].Run(ctx, "ping -c 3 -W 2 "+to)
		if err != nil {
			t.Fatalf("%s: ping %s: %v", specs[from].Name, to, err)
		}
		return out, code
	}
	for _, p := range []struct {
		from int
		to   string
	}{{0, "198.18.0.2"}, {1, "198.18.0.1"}, {2, "198.18.0.4"}, {3, "198.18.0.3"}} {
		if out, code := ping(p.from, p.to); code != 0 {
			t.Errorf("%s cannot ping %s through l2fabric (exit %d):\n%s", specs[p.from].Name, p.to, code, out)
		}
	}
	// vm3 is on VLAN 20: its ARP for vm1 must never reach VLAN 1.
	if out, code := ping(2, "198.18.0.1"); code == 0 {
		t.Errorf("vm3 (VLAN 20) reached vm1 (VLAN 1):\n%s", out)
	}

	want := map[string]fdbEntry{
		"52:54:00:00:00:01": {Port: "vms/vm1.sock", VLAN: 1},
		"52:54:00:00:00:02": {Port: "vms/vm2.sock", VLAN: 1},
		"52:54:00:00:00:03": {Port: "vm3", VLAN: 20},
		"52:54:00:00:00:04": {Port: "lab/vm4.sock", VLAN: 20},
	}
	entries := d.fdb()
	for m, w := range want {
		var found []string
		for _, e := range entries {
			if e.MAC == m {
				found = append(found, fmt.Sprintf("%s vlan %d", e.Port, e.VLAN))
				if e.Port != w.Port || e.VLAN != w.VLAN || e.Static {
					t.Errorf("fdb: %s on %s vlan %d (static %v), want %s vlan %d", m, e.Port, e.VLAN, e.Static, w.Port, w.VLAN)
				}
			}
		}
		if len(found) != 1 {
			t.Errorf("fdb: %s has %d entries (%s), want one on %s", m, len(found), strings.Join(found, ", "), w.Port)
		}
	}
	t.Logf("l2fabric fdb:\n%s", d.mustCLI("fdb"))
}
