//go:build linux

package integration

import (
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/l2fabric/l2fabric/integration/internal/qemuvm"
)

// TestQEMUStreamGuestsSwitched boots three qemu guests and switches them
// through the real binary, each attached a different way:
//
//	vm1: -netdev stream,server=off,addr.type=unix,addr.path=vms.sock, as
//	     lima's qemu driver attaches a VM to socket_vmnet
//	vm2: -netdev socket,fd=3 on a connection to vms.sock that the test
//	     dials and hands down, as socket_vmnet_client (and lima, for a
//	     `socket:` network) does
//	vm3: -netdev dgram, a client of a dgram listener
//
// Every guest pings the others, and the FDB shows each on its own port.
func TestQEMUStreamGuestsSwitched(t *testing.T) {
	qemuvm.RequireAssets(t)
	dir := shortTempDir(t)
	vms, dg := filepath.Join(dir, "vms.sock"), filepath.Join(dir, "dg.sock")
	d := startDaemon(t, dir, "--port", "stream:"+vms, "--port", "dgram:"+dg)

	// socket_vmnet_client's part: connect, then run qemu with the
	// connection as fd 3. It is the listener's first connection: vms/1.
	nc, err := net.DialUnix("unix", nil, &net.UnixAddr{Name: vms, Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	fd3, err := nc.File()
	nc.Close()
	if err != nil {
		t.Fatal(err)
	}
	defer fd3.Close()
	d.waitPorts("vms/1")

	// Each guest's port: the stream guests are ports from their first
	// byte, the dgram guest from its first frame (announce).
	ports := []string{"vms/2", "vms/1", "dg/vm3.sock"}
	specs := []qemuvm.Config{
		{Name: "vm1", MAC: "52:54:00:00:00:01", IP: "198.18.0.1/24",
			Netdev: "stream,server=off,addr.type=unix,addr.path=" + vms},
		{Name: "vm2", MAC: "52:54:00:00:00:02", IP: "198.18.0.2/24",
			Netdev: "socket,fd=3", ExtraFiles: []*os.File{fd3}},
		dgramGuest(dir, "vm3", "52:54:00:00:00:03", "198.18.0.3/24", dg),
	}
	guests := bootGuests(t, dir, specs...)
	announce(t, guests, specs)
	d.waitPorts("vms/1", "vms/2", "dg/vm3.sock")

	for from, g := range guests {
		for to, s := range specs {
			if to == from {
				continue
			}
			ip, _, _ := strings.Cut(s.IP, "/")
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			out, code, err := g.Run(ctx, "ping -c 2 -W 3 "+ip)
			cancel()
			if err != nil || code != 0 {
				t.Errorf("%s cannot ping %s (%s) through l2fabric (exit %d, %v):\n%s", specs[from].Name, s.Name, ip, code, err, out)
			}
		}
	}

	entries := d.fdb()
	for i, s := range specs {
		var found []string
		for _, e := range entries {
			if e.MAC == s.MAC {
				found = append(found, fmt.Sprintf("%s vlan %d", e.Port, e.VLAN))
			}
		}
		if len(found) != 1 || found[0] != ports[i]+" vlan 1" {
			t.Errorf("fdb: %s (%s) at %v, want only on %s vlan 1", s.MAC, s.Name, found, ports[i])
		}
	}
	t.Logf("l2fabric fdb:\n%s\nl2fabric ports:\n%s", d.mustCLI("fdb"), d.mustCLI("ports"))
}
