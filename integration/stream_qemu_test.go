//go:build linux

package integration

import (
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
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
	assets := qemuvm.RequireAssets(t)
	dir := shortTempDir(t)
	initramfs, err := qemuvm.BuildInitramfs(assets, dir)
	if err != nil {
		t.Fatal(err)
	}
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

	type guestSpec struct {
		name, mac, ip, port string
		cfg                 qemuvm.Config
	}
	specs := []guestSpec{
		{"vm1", "52:54:00:00:00:01", "198.18.0.1/24", "vms/2",
			qemuvm.Config{Netdev: "stream,server=off,addr.type=unix,addr.path=" + vms}},
		{"vm2", "52:54:00:00:00:02", "198.18.0.2/24", "vms/1",
			qemuvm.Config{Netdev: "socket,fd=3", ExtraFiles: []*os.File{fd3}}},
		{"vm3", "52:54:00:00:00:03", "198.18.0.3/24", "dg/vm3.sock",
			qemuvm.Config{LocalPath: filepath.Join(dir, "vm3.sock"), RemotePath: dg}},
	}
	guests := make([]*qemuvm.Guest, len(specs))
	errs := make([]error, len(specs))
	var wg sync.WaitGroup
	for i, s := range specs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
			defer cancel()
			cfg := s.cfg
			cfg.Name, cfg.MAC, cfg.IP = s.name, s.mac, s.ip
			guests[i], errs[i] = qemuvm.Start(ctx, assets, initramfs, cfg)
		}()
	}
	wg.Wait()
	for i, g := range guests {
		if g != nil {
			t.Cleanup(func() {
				if t.Failed() {
					t.Logf("%s console:\n%s", g.Name(), g.ConsoleLog())
				}
				g.Close()
			})
		}
		if errs[i] != nil {
			t.Fatalf("booting %s: %v", specs[i].name, errs[i])
		}
	}

	// The stream guests are ports from their first byte; the dgram guest
	// from its first frame. A gratuitous ARP from each also teaches the
	// FDB every MAC.
	for i, g := range guests {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		ip, _, _ := strings.Cut(specs[i].ip, "/")
		if out, code, err := g.Run(ctx, "arping -U -c 1 -I eth0 "+ip); err != nil || code != 0 {
			t.Fatalf("%s: gratuitous ARP: exit %d, %v\n%s", specs[i].name, code, err, out)
		}
		cancel()
	}
	d.waitPorts("vms/1", "vms/2", "dg/vm3.sock")

	for from, g := range guests {
		for to, s := range specs {
			if to == from {
				continue
			}
			ip, _, _ := strings.Cut(s.ip, "/")
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			out, code, err := g.Run(ctx, "ping -c 2 -W 3 "+ip)
			cancel()
			if err != nil || code != 0 {
				t.Errorf("%s cannot ping %s (%s) through l2fabric (exit %d, %v):\n%s", specs[from].name, s.name, ip, code, err, out)
			}
		}
	}

	entries := d.fdb()
	for _, s := range specs {
		var found []string
		for _, e := range entries {
			if e.MAC == s.mac {
				found = append(found, fmt.Sprintf("%s vlan %d", e.Port, e.VLAN))
			}
		}
		if len(found) != 1 || found[0] != s.port+" vlan 1" {
			t.Errorf("fdb: %s (%s) at %v, want only on %s vlan 1", s.mac, s.name, found, s.port)
		}
	}
	t.Logf("l2fabric fdb:\n%s\nl2fabric ports:\n%s", d.mustCLI("fdb"), d.mustCLI("ports"))
}
