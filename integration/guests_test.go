//go:build linux

package integration

import (
	"context"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/l2fabric/l2fabric/integration/internal/qemuvm"
)

// guestBootTimeout bounds one guest's boot, several booting at once on a
// loaded CI machine.
const guestBootTimeout = 3 * time.Minute

// bootGuests boots a qemu guest for each configuration, all at once, and
// stops each when the test ends, logging its console if the test failed.
// It fails the test if any guest does not boot.
func bootGuests(t *testing.T, dir string, cfgs ...qemuvm.Config) []*qemuvm.Guest {
	t.Helper()
	assets := qemuvm.RequireAssets(t)
	initramfs, err := qemuvm.BuildInitramfs(assets, dir)
	if err != nil {
		t.Fatal(err)
	}
	guests := make([]*qemuvm.Guest, len(cfgs))
	errs := make([]error, len(cfgs))
	var wg sync.WaitGroup
	for i, cfg := range cfgs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ctx, cancel := context.WithTimeout(context.Background(), guestBootTimeout)
			defer cancel()
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
			t.Fatalf("booting %s: %v", cfgs[i].Name, errs[i])
		}
	}
	return guests
}

// bootGuest boots a qemu guest with -netdev dgram, its own socket in dir,
// sending to remote (a listening socket), with cidr on eth0 (none if
// empty).
func bootGuest(t *testing.T, dir, name, mac, cidr, remote string) *qemuvm.Guest {
	t.Helper()
	return bootGuests(t, dir, dgramGuest(dir, name, mac, cidr, remote))[0]
}

// dgramGuest is the configuration of a guest attached with -netdev dgram
// from its own socket in dir to remote.
func dgramGuest(dir, name, mac, cidr, remote string) qemuvm.Config {
	return qemuvm.Config{Name: name, MAC: mac, IP: cidr, LocalPath: filepath.Join(dir, name+".sock"), RemotePath: remote}
}

// announce has every guest send a gratuitous ARP for its address: qemu's
// -netdev dgram sends no hello, so a guest becomes a listener's port only
// with its first frame (real guests send one at link up, DHCP or IPv6
// DAD), and the ARP also teaches the FDB its MAC.
func announce(t *testing.T, guests []*qemuvm.Guest, cfgs []qemuvm.Config) {
	t.Helper()
	for i, g := range guests {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		ip, _, _ := strings.Cut(cfgs[i].IP, "/")
		out, code, err := g.Run(ctx, "arping -U -c 1 -I eth0 "+ip)
		cancel()
		if err != nil || code != 0 {
			t.Fatalf("%s: gratuitous ARP: exit %d, %v\n%s", cfgs[i].Name, code, err, out)
		}
	}
}

// guestPing pings addr from the guest and fails the test if it cannot.
func guestPing(t *testing.T, g *qemuvm.Guest, addr string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if out, code, err := g.Run(ctx, "ping -c 3 -W 2 "+addr); err != nil || code != 0 {
		t.Fatalf("%s cannot ping %s: exit %d, %v\n%s", g.Name(), addr, code, err, out)
	}
}
