//go:build linux

package tap_test

// Every test that creates interfaces runs in a network namespace of its
// own (see package nstest): the test binary re-runs itself for that test
// in a child process cloned with CLONE_NEWNET. They need root.

import (
	"errors"
	"runtime"
	"strings"
	"testing"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/l2fabric/l2fabric/backends/internal/netif"
	"github.com/l2fabric/l2fabric/backends/internal/nstest"
	"github.com/l2fabric/l2fabric/backends/tap"
	"github.com/l2fabric/l2fabric/fabric"
)

func TestSpecErrors(t *testing.T) {
	ks := fabric.Kinds{tap.Kind()}
	for spec, want := range map[string]string{
		"tap:":                           "missing TAP device name",
		"tap:,persist=on":                "missing TAP device name",
		"tap:abcdefghijklmnop":           "longer than the 15",
		"tap:a/b":                        "contains '/'",
		"tap:tap%d":                      "fixed name",
		"tap:t0,persist=maybe":           "not on or off",
		"tap:t0,owner=no-such-user-l2f":  `no user "no-such-user-l2f"`,
		"tap:t0,group=no-such-group-l2f": `no group "no-such-group-l2f"`,
		"tap:t0,mtu=20":                  "mtu must be",
		"tap:t0,bogus=1":                 "unknown option",
		"tap:t0,owner=99999999999999999": "no user",
		"tap:t0,group=-1":                "no group",
		"tap:t0,persist=on,persist=off":  "given twice",
	} {
		_, _, _, err := ks.Parse(spec)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: error %v, want %q", spec, err, want)
		}
	}
	if _, _, _, err := ks.Parse("tap:t0,owner=root,group=0,persist=on,mtu=9000"); err != nil {
		t.Error(err)
	}
}

func TestCreateRemove(t *testing.T) {
	if !nstest.InNetns(t) {
		return
	}
	f := nstest.NewFabric(t, tap.Kind())
	name, err := f.Open("tap:l2ft0")
	if err != nil {
		t.Fatal(err)
	}
	if name != "l2ft0" {
		t.Errorf("port name %q, want l2ft0", name)
	}
	l := nstest.Link(t, "l2ft0")
	if !l.IsTap() || !l.Up() || l.TunPersist || l.MTU != 1500 {
		t.Errorf("device %+v: want an up, non-persistent TAP with MTU 1500", l)
	}
	p, _ := nstest.Port(f, "l2ft0")
	if p.Kind != "tap" || p.MTU != 1500 || p.State != "up" || p.Info != "TAP l2ft0 (created)" {
		t.Errorf("port %+v", p)
	}
	// Another port cannot have it, nor can a TAP have a bridge's name.
	if _, err := f.Open("tap:l2ft0,name=again"); err == nil || !strings.Contains(err.Error(), "TAP l2ft0 is in use") {
		t.Errorf("second open: %v", err)
	}
	nstest.IP(t, "link", "add", "br0", "type", "bridge")
	if _, err := f.Open("tap:br0"); err == nil || !strings.Contains(err.Error(), "br0 exists and is a bridge, not a TAP") {
		t.Errorf("open of a bridge: %v", err)
	}
	nstest.IP(t, "addr", "add", nstest.HostIP+"/24", "dev", "l2ft0")
	peer := nstest.NewPeer(t, f, "vm", 1500, nstest.PeerIP)
	mac := peer.Exchange(t, nstest.HostIP, 1200)
	if l, err := netif.LinkByName("l2ft0"); err != nil || mac != [6]byte(l.HardwareAddr) {
		t.Errorf("frames came from %x, not the TAP's address (%v)", mac, err)
	}
	// The host's full-size frames cross: 1472 bytes of UDP is a 1514-byte
	// frame.
	peer.Exchange(t, nstest.HostIP, 1472)
	if err := f.Detach("l2ft0"); err != nil {
		t.Fatal(err)
	}
	nstest.Gone(t, "l2ft0") // Close waits for a TAP it created to be removed
}

func TestAttachExistingPersistent(t *testing.T) {
	if !nstest.InNetns(t) {
		return
	}
	nstest.IP(t, "tuntap", "add", "dev", "l2ft1", "mode", "tap")
	nstest.IP(t, "link", "set", "l2ft1", "mtu", "4000")
	f := nstest.NewFabric(t, tap.Kind())
	if _, err := f.Open("tap:l2ft1,name=host"); err != nil {
		t.Fatal(err)
	}
	p, _ := nstest.Port(f, "host")
	if p.MTU != 4000 || p.Info != "TAP l2ft1 (attached, persistent)" {
		t.Errorf("port %+v: want the TAP's MTU 4000, attached", p)
	}
	if l := nstest.Link(t, "l2ft1"); !l.Up() || !l.TunPersist {
		t.Errorf("device %+v: want up and still persistent", l)
	}
	nstest.IP(t, "addr", "add", nstest.HostIP+"/24", "dev", "l2ft1")
	peer := nstest.NewPeer(t, f, "vm", 4000, nstest.PeerIP)
	peer.Exchange(t, nstest.HostIP, 3000)
	if err := f.Detach("host"); err != nil {
		t.Fatal(err)
	}
	if l := nstest.Link(t, "l2ft1"); !l.TunPersist || l.MTU != 4000 {
		t.Errorf("device after detach %+v: want it left as it was", l)
	}

	// persist=off on an existing TAP: it goes when the port does.
	if _, err := f.Open("tap:l2ft1,persist=off"); err != nil {
		t.Fatal(err)
	}
	if l := nstest.Link(t, "l2ft1"); l.TunPersist {
		t.Errorf("persist=off left the TAP persistent")
	}
	if err := f.Detach("l2ft1"); err != nil {
		t.Fatal(err)
	}
	nstest.Gone(t, "l2ft1")
}

func TestPersistOnOwnerGroup(t *testing.T) {
	if !nstest.InNetns(t) {
		return
	}
	f := nstest.NewFabric(t, tap.Kind())
	if _, err := f.Open("tap:l2ft2,persist=on,owner=65534,group=65533"); err != nil {
		t.Fatal(err)
	}
	l := nstest.Link(t, "l2ft2")
	if !l.TunPersist || l.TunOwner != 65534 || l.TunGroup != 65533 {
		t.Errorf("device %+v: want persistent, owner 65534, group 65533", l)
	}
	if p, _ := nstest.Port(f, "l2ft2"); p.Info != "TAP l2ft2 (created, persistent)" {
		t.Errorf("port info %q", p.Info)
	}
	if err := f.Detach("l2ft2"); err != nil {
		t.Fatal(err)
	}
	if l := nstest.Link(t, "l2ft2"); !l.TunPersist {
		t.Errorf("device after detach %+v: want it still there, persistent", l)
	}
	// A second open attaches it and, persist not given, leaves it.
	if _, err := f.Open("tap:l2ft2"); err != nil {
		t.Fatal(err)
	}
	if err := f.Detach("l2ft2"); err != nil {
		t.Fatal(err)
	}
	nstest.Link(t, "l2ft2")
}

func TestMTU(t *testing.T) {
	if !nstest.InNetns(t) {
		return
	}
	f := nstest.NewFabric(t, tap.Kind())
	if _, err := f.Open("tap:l2ft3,mtu=9000"); err != nil {
		t.Fatal(err)
	}
	if l := nstest.Link(t, "l2ft3"); l.MTU != 9000 {
		t.Errorf("device MTU %d, want 9000", l.MTU)
	}
	if p, _ := nstest.Port(f, "l2ft3"); p.MTU != 9000 {
		t.Errorf("port MTU %d, want 9000", p.MTU)
	}
	nstest.IP(t, "addr", "add", nstest.HostIP+"/24", "dev", "l2ft3")
	peer := nstest.NewPeer(t, f, "vm", 9000, nstest.PeerIP)
	peer.Exchange(t, nstest.HostIP, 8972) // a 9014-byte frame each way

	// A frame longer than the port's buffers is reported as such, never
	// truncated into a valid-looking one.
	nstest.IP(t, "link", "set", "l2ft3", "mtu", "9500")
	peer.SendFromHost(t, nstest.HostIP, 9400)
	nstest.WaitFor(t, "the oversize frame counted", func() bool {
		p, _ := nstest.Port(f, "l2ft3")
		return p.Counters.Oversize > 0
	})
}

func TestDeletedAndBack(t *testing.T) {
	if !nstest.InNetns(t) {
		return
	}
	f := nstest.NewFabric(t, tap.Kind())
	if _, err := f.Open("tap:l2ft4"); err != nil {
		t.Fatal(err)
	}
	nstest.IP(t, "addr", "add", nstest.HostIP+"/24", "dev", "l2ft4")
	peer := nstest.NewPeer(t, f, "vm", 1500, nstest.PeerIP)
	peer.Exchange(t, nstest.HostIP, 100)

	nstest.IP(t, "link", "del", "l2ft4")
	// The kernel reports it set down, then deleted.
	nstest.WaitState(t, f, "l2ft4", "down (interface l2ft4 deleted)")
	// Something else by that name is not attached.
	nstest.IP(t, "link", "add", "l2ft4", "type", "bridge")
	nstest.IP(t, "link", "del", "l2ft4")
	if p, _ := nstest.Port(f, "l2ft4"); !strings.HasPrefix(p.State, "down") {
		t.Errorf("state %q after a bridge came and went", p.State)
	}
	// A TAP by that name is.
	nstest.IP(t, "tuntap", "add", "dev", "l2ft4", "mode", "tap")
	nstest.WaitState(t, f, "l2ft4", "up")
	if l := nstest.Link(t, "l2ft4"); !l.Up() {
		t.Errorf("re-attached TAP not brought up: %+v", l)
	}
	nstest.IP(t, "addr", "add", nstest.HostIP+"/24", "dev", "l2ft4")
	peer.Exchange(t, nstest.HostIP, 100)

	// Set down by hand: reported down until set up again.
	nstest.IP(t, "link", "set", "l2ft4", "down")
	if p := nstest.WaitState(t, f, "l2ft4", "down"); p.State != "down (interface l2ft4 set down)" {
		t.Errorf("state %q", p.State)
	}
	nstest.IP(t, "link", "set", "l2ft4", "up")
	nstest.WaitState(t, f, "l2ft4", "up")
	peer.Exchange(t, nstest.HostIP, 100)

	// Deleted again while the fabric is sending to it.
	nstest.IP(t, "link", "del", "l2ft4")
	nstest.WaitState(t, f, "l2ft4", "down")
	nstest.IP(t, "tuntap", "add", "dev", "l2ft4", "mode", "tap")
	nstest.WaitState(t, f, "l2ft4", "up")
	nstest.IP(t, "addr", "add", nstest.HostIP+"/24", "dev", "l2ft4")
	peer.Exchange(t, nstest.HostIP, 100)

	// The TAP it attached was not its own: it stays.
	if err := f.Detach("l2ft4"); err != nil {
		t.Fatal(err)
	}
	nstest.Link(t, "l2ft4")
}

// TestNeedsPrivilege opens a TAP from a thread without CAP_NET_ADMIN
// (capabilities are per thread; the thread is thrown away after).
func TestNeedsPrivilege(t *testing.T) {
	if !nstest.InNetns(t) {
		return
	}
	f := nstest.NewFabric(t, tap.Kind())
	errc := make(chan error)
	go func() {
		runtime.LockOSThread() // never unlocked: the thread exits with the goroutine
		hdr := unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
		var data [2]unix.CapUserData
		if err := unix.Capget(&hdr, &data[0]); err != nil {
			errc <- err
			return
		}
		data[0].Effective, data[1].Effective = 0, 0
		if err := unix.Capset(&hdr, (*unix.CapUserData)(unsafe.Pointer(&data[0]))); err != nil {
			errc <- err
			return
		}
		_, err := f.Open("tap:l2ft5")
		errc <- err
	}()
	err := <-errc
	if err == nil || !errors.Is(err, netif.ErrPrivilege) || !strings.Contains(err.Error(), "root (CAP_NET_ADMIN)") {
		t.Fatalf("error %v, want one saying root (CAP_NET_ADMIN) is needed", err)
	}
	t.Log(err)
	nstest.Gone(t, "l2ft5")
}

// TestPortClose checks the Port contract around Close: a blocked Read
// returns, Write reports the port gone, the link channel closes, and the
// TAP it created is gone when Close returns.
func TestPortClose(t *testing.T) {
	if !nstest.InNetns(t) {
		return
	}
	p, err := tap.OpenPort(tap.PortConfig{Options: tap.Options{Name: "t0", Owner: -1, Group: -1, MTU: 2000}})
	if err != nil {
		t.Fatal(err)
	}
	if !p.Created() || p.Persistent() || p.MTU() != 2000 || p.Name() != "t0" || p.BatchSize() != tap.BatchSize {
		t.Errorf("port: created %v persistent %v mtu %d", p.Created(), p.Persistent(), p.MTU())
	}
	readErr := make(chan error)
	go func() {
		bufs := [][]byte{make([]byte, 2018)}
		for {
			// The kernel may send IPv6 frames first: read until closed.
			if _, err := p.Read(bufs, make([]int, 1)); err != nil {
				readErr <- err
				return
			}
		}
	}()
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-readErr:
		t.Logf("read after close: %v", err)
	case <-time.After(nstest.Timeout):
		t.Fatal("Read still blocked after Close")
	}
	if _, err := p.Write([][]byte{make([]byte, 60)}); !errors.Is(err, fabric.ErrPeerGone) {
		t.Errorf("Write after Close: %v", err)
	}
	if _, ok := <-p.LinkEvents(); ok {
		t.Error("link events channel still open")
	}
	if _, err := netif.LinkByName("t0"); !errors.Is(err, netif.ErrNotFound) {
		t.Errorf("t0 after Close: %v", err)
	}
	if err := p.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
}
