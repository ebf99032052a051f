//go:build linux

package integration

import (
	"encoding/binary"
	"fmt"
	"net"
	"os"
	"runtime"
	"strings"
	"testing"
	"unsafe"

	"golang.org/x/sys/unix"
)

// The VXLAN tests build two or more "machines" (namespaces) joined by an
// underlay (veths with addresses): l2fabric on one, with a VM (a namespace
// on a host: port) behind it, and on another a Linux bridge with a kernel
// vxlan device, flood-and-learn, dstport 4789, as a Linux host joining a
// VXLAN segment would be configured.

// inNetns runs fn on an OS thread that has entered namespace ns. The
// thread stays locked and dies with the goroutine, so no other goroutine
// ever runs in ns. Sockets fn opens stay in ns.
func inNetns(ns *netns, fn func() error) error {
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread() // never unlocked: the thread exits with the goroutine
		f, err := os.Open("/var/run/netns/" + ns.name)
		if err != nil {
			errc <- err
			return
		}
		defer f.Close()
		if err := unix.Setns(int(f.Fd()), unix.CLONE_NEWNET); err != nil {
			errc <- fmt.Errorf("setns %s: %w", ns.name, err)
			return
		}
		errc <- fn()
	}()
	return <-errc
}

// txChecksumOff turns off transmit checksum offload on dev in ns (what
// `ethtool -K dev tx off` does, with the SIOCETHTOOL ioctl). A kernel VTEP
// sending over a veth otherwise leaves the inner frames' TCP checksums
// partial, for the receiving kernel to trust: a user-space VTEP receives
// them as they are. On a real NIC the hardware completes them.
func txChecksumOff(t testing.TB, ns *netns, dev string) {
	t.Helper()
	err := inNetns(ns, func() error {
		fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
		if err != nil {
			return err
		}
		defer unix.Close(fd)
		value := struct{ cmd, data uint32 }{cmd: 0x17} // ETHTOOL_STXCSUM, off
		var ifr struct {
			name [unix.IFNAMSIZ]byte
			data uintptr
			_    [16]byte
		}
		copy(ifr.name[:], dev)
		ifr.data = uintptr(unsafe.Pointer(&value))
		_, _, errno := unix.Syscall(unix.SYS_IOCTL, uintptr(fd), unix.SIOCETHTOOL, uintptr(unsafe.Pointer(&ifr)))
		runtime.KeepAlive(&value)
		if errno != 0 {
			return fmt.Errorf("SIOCETHTOOL ETHTOOL_STXCSUM %s: %w", dev, errno)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// underlay cables a and b with a veth and gives the ends the addresses
// (with their prefix length), IPv6 without duplicate address detection.
// The kernel side (b) sends with full checksums (see txChecksumOff).
func underlay(t testing.TB, a *netns, aDev, aCIDR string, b *netns, bDev, bCIDR string) {
	t.Helper()
	cable(t, a, aDev, b, bDev)
	for _, c := range []struct {
		ns        *netns
		dev, cidr string
	}{{a, aDev, aCIDR}, {b, bDev, bCIDR}} {
		args := []string{"addr", "add", c.cidr, "dev", c.dev}
		if strings.Contains(c.cidr, ":") {
			args = append(args, "nodad")
		}
		c.ns.ip(args...)
	}
	txChecksumOff(t, b, bDev)
}

// kernelVTEP makes ns a Linux host on a VXLAN segment: bridge br0 with
// address brCIDR and vxlan device vx0 (VNI vni, dstport 4789, local
// local, learning) that floods to every remote, as a user configures it;
// extra are more vxlan options (noudpcsum).
func kernelVTEP(t testing.TB, ns *netns, vni int, local string, remotes []string, brCIDR string, mtu int, extra ...string) {
	t.Helper()
	ns.ip("link", "add", "br0", "type", "bridge")
	ns.ip(append([]string{"link", "add", "vx0", "mtu", fmt.Sprint(mtu), "type", "vxlan", "id", fmt.Sprint(vni), "dstport", "4789", "local", local}, extra...)...)
	ns.ip("link", "set", "vx0", "master", "br0")
	ns.ip("link", "set", "vx0", "up")
	ns.ip("link", "set", "br0", "up")
	for _, r := range remotes {
		mustRun(t, "ip", "netns", "exec", ns.name, "bridge", "fdb", "append", "00:00:00:00:00:00", "dev", "vx0", "dst", r)
	}
	ns.ip("addr", "add", brCIDR, "dev", "br0")
}

// vmBehind makes a VM: a namespace cabled to dev in the fabric's
// namespace, with address cidr and the inner MTU.
func vmBehind(t testing.TB, fab *netns, role, dev, cidr string, mtu int) *netns {
	t.Helper()
	vm := host(t, fab, role, dev, cidr)
	vm.ip("link", "set", "eth0", "mtu", fmt.Sprint(mtu))
	return vm
}

// macOf returns the MAC of dev in ns.
func macOf(t testing.TB, ns *netns, dev string) string {
	t.Helper()
	return strings.TrimSpace(mustRun(t, "ip", "netns", "exec", ns.name, "cat", "/sys/class/net/"+dev+"/address"))
}

// vxlanEntry is an element of `l2fabric fdb --json` with its VTEP.
type vxlanEntry struct {
	Port   string `json:"port"`
	VLAN   int    `json:"vlan"`
	MAC    string `json:"mac"`
	Static bool   `json:"static"`
	Via    string `json:"via"`
}

// entryOf returns the fdb entry for mac, if any.
func (d *daemon) entryOf(mac string) (vxlanEntry, bool) {
	d.t.Helper()
	var es []vxlanEntry
	if err := d.jsonCLI(&es, "fdb", "--json"); err != nil {
		d.t.Fatal(err)
	}
	for _, e := range es {
		if e.MAC == mac {
			return e, true
		}
	}
	return vxlanEntry{}, false
}

// backendDrops returns the backend_drops of port in `l2fabric ports --json`.
func (d *daemon) backendDrops(port string) map[string]uint64 {
	d.t.Helper()
	var ps []struct {
		Name         string            `json:"name"`
		BackendDrops map[string]uint64 `json:"backend_drops"`
	}
	if err := d.jsonCLI(&ps, "ports", "--json"); err != nil {
		d.t.Fatal(err)
	}
	for _, p := range ps {
		if p.Name == port {
			return p.BackendDrops
		}
	}
	d.t.Fatalf("no port %s", port)
	return nil
}

// kernelLearned reports whether ns's vx0 has learned mac behind the VTEP
// dst (`bridge fdb show dev vx0`: "MAC dst DST self").
func kernelLearned(t testing.TB, ns *netns, mac, dst string) bool {
	t.Helper()
	out := mustRun(t, "ip", "netns", "exec", ns.name, "bridge", "fdb", "show", "dev", "vx0")
	return strings.Contains(out, mac+" dst "+dst+" ")
}

// pingFails checks that addr does not answer from n.
func (n *netns) pingFails(addr string) {
	n.t.Helper()
	if out, err := n.exec("busybox", "ping", "-c", "2", "-W", "1", addr); err == nil {
		n.t.Fatalf("%s reached %s, which it must not:\n%s", n.name, addr, out)
	}
}

// TestVXLANWithLinuxKernel: a VM behind l2fabric and a Linux bridge with
// a kernel vxlan device on another machine ping and run TCP both ways;
// each side learns the other's MAC behind the other's VTEP; malformed
// packets to l2fabric's port are counted by reason and change nothing.
func TestVXLANWithLinuxKernel(t *testing.T) {
	requireNetAdmin(t)
	fab, kb := newNetns(t, "fab"), newNetns(t, "kb")
	underlay(t, fab, "ua", "10.99.0.1/24", kb, "ub", "10.99.0.2/24")
	kernelVTEP(t, kb, 100, "10.99.0.2", []string{"10.99.0.1"}, "192.168.50.2/24", 1450)
	vm := vmBehind(t, fab, "vm", "vm0", "192.168.50.1/24", 1450)
	d := startDaemonIn(t, fab.name, shortTempDir(t), "--port", "host:vm0", "--port", "vxlan:10.99.0.2,vni=100,name=vx")
	if p := d.mustPort("vx"); p.MTU != 1450 {
		t.Errorf("vxlan port MTU %d over a 1500 underlay, want 1450", p.MTU)
	}

	vm.ping("192.168.50.2")
	kb.ping("192.168.50.1")
	checkNoStall(t, "vm -> kernel", iperf(t, vm, kb, "192.168.50.2", 1, false))
	checkNoStall(t, "kernel -> vm", iperf(t, vm, kb, "192.168.50.2", 1, true))

	vmMAC, brMAC := macOf(t, vm, "eth0"), macOf(t, kb, "br0")
	if !kernelLearned(t, kb, vmMAC, "10.99.0.1") {
		t.Errorf("the kernel has not learned the VM's MAC %s behind 10.99.0.1:\n%s", vmMAC,
			mustRun(t, "ip", "netns", "exec", kb.name, "bridge", "fdb", "show", "dev", "vx0"))
	}
	if e, ok := d.entryOf(brMAC); !ok || e.Port != "vx" || e.Via != "10.99.0.2" {
		t.Errorf("l2fabric's entry for the kernel bridge's MAC %s: %+v (found %v), want port vx via 10.99.0.2", brMAC, e, ok)
	}
	if out := d.mustCLI("fdb"); !strings.Contains(out, "via 10.99.0.2") {
		t.Errorf("fdb does not show the VTEP:\n%s", out)
	}

	// Malformed packets, from the kernel machine's underlay address.
	err := inNetns(kb, func() error {
		c, err := net.Dial("udp", "10.99.0.1:4789")
		if err != nil {
			return err
		}
		defer c.Close()
		frame := make([]byte, 60)
		copy(frame, []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 2, 0, 0, 0, 0, 9, 0x88, 0xb5})
		vxlan := func(flags byte, vni uint32, inner []byte) []byte {
			b := make([]byte, 8, 8+len(inner))
			b[0] = flags
			binary.BigEndian.PutUint32(b[4:], vni<<8)
			return append(b, inner...)
		}
		for _, p := range [][]byte{
			{0x08, 0, 0, 0},                      // truncated header
			vxlan(0x0c, 100, frame),              // a flag besides I
			vxlan(0x00, 100, frame),              // I clear
			vxlan(0x08, 4242, frame),             // unknown VNI
			vxlan(0x08, 100, frame[:10]),         // runt inside
			vxlan(0x08, 100, make([]byte, 1600)), // larger than the inner MTU
		} {
			if _, err := c.Write(p); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]uint64{"socket_truncated": 1, "socket_bad_flags": 2, "socket_unknown_vni": 1, "socket_inner_runt": 1, "rx_oversize": 1}
	eventually(t, "the malformed packets counted by reason", func() error {
		got := d.backendDrops("vx")
		for k, v := range want {
			if got[k] != v {
				return fmt.Errorf("backend drops %v, want %v", got, want)
			}
		}
		return nil
	})
	vm.ping("192.168.50.2")
}

// TestVXLANHeadEndReplicationAndRemotes: with two kernel remotes, a
// broadcast from the VM reaches both (each learns the VM behind
// l2fabric's address on its own underlay); a remote deleted at run time
// gets no more floods and one added does; a static entry carries its VTEP.
// One kernel sends zero UDP checksums (noudpcsum), which must be accepted.
func TestVXLANHeadEndReplicationAndRemotes(t *testing.T) {
	requireNetAdmin(t)
	fab, kb, kc := newNetns(t, "fab"), newNetns(t, "kb"), newNetns(t, "kc")
	underlay(t, fab, "ub", "10.99.1.1/24", kb, "u0", "10.99.1.2/24")
	underlay(t, fab, "uc", "10.99.2.1/24", kc, "u0", "10.99.2.2/24")
	kernelVTEP(t, kb, 200, "10.99.1.2", []string{"10.99.1.1"}, "192.168.51.2/24", 1450)
	kernelVTEP(t, kc, 200, "10.99.2.2", []string{"10.99.2.1"}, "192.168.51.3/24", 1450, "noudpcsum")
	vm := vmBehind(t, fab, "vm", "vm0", "192.168.51.1/24", 1450)
	d := startDaemonIn(t, fab.name, shortTempDir(t), "--port", "host:vm0", "--port", "vxlan:10.99.1.2+10.99.2.2,vni=200,name=vx")
	vmMAC := macOf(t, vm, "eth0")

	// The ARP request for b also reaches c, which learns the VM from it.
	vm.ping("192.168.51.2")
	eventually(t, "c learning the VM from a broadcast for b", func() error {
		if !kernelLearned(t, kc, vmMAC, "10.99.2.1") {
			return fmt.Errorf("not learned")
		}
		return nil
	})
	vm.ping("192.168.51.3")

	// c off the flood list: the VM's next ARP request cannot reach it.
	d.mustCLI("vxlan", "remote", "del", "vx", "10.99.2.2")
	if out := d.mustCLI("vxlan", "remote", "list", "vx"); strings.TrimSpace(out) != "10.99.1.2" {
		t.Errorf("remotes after del: %q", out)
	}
	vm.ip("neigh", "flush", "all")
	vm.pingFails("192.168.51.3")
	vm.ping("192.168.51.2")
	d.mustCLI("vxlan", "remote", "add", "vx", "10.99.2.2")
	vm.ip("neigh", "flush", "all")
	vm.ping("192.168.51.3")

	// A static entry pinned to a VTEP.
	d.mustCLI("fdb", "add", "02:00:00:00:99:01@vx,dst=10.99.2.2")
	if e, ok := d.entryOf("02:00:00:00:99:01"); !ok || !e.Static || e.Via != "10.99.2.2" {
		t.Errorf("static entry: %+v (found %v), want static via 10.99.2.2", e, ok)
	}
	if r := d.cli("fdb", "add", "02:00:00:00:99:02@vm0,dst=10.99.2.2"); r.code == 0 || !strings.Contains(r.stderr, "tunnel") {
		t.Errorf("dst= on a host port: %s, want an error saying dst= is for tunnel ports", r)
	}
}

// TestVXLANTwoFabricsTwoVNIs: two l2fabrics joined by one vxlan port
// carrying VLAN 10 as VNI 100 and VLAN 20 as VNI 200: hosts of one VLAN
// reach each other across the tunnel, never those of the other, even with
// addresses in one subnet.
func TestVXLANTwoFabricsTwoVNIs(t *testing.T) {
	requireNetAdmin(t)
	f1, f2 := newNetns(t, "f1"), newNetns(t, "f2")
	cable(t, f1, "u1", f2, "u2")
	f1.ip("addr", "add", "10.99.3.1/24", "dev", "u1")
	f2.ip("addr", "add", "10.99.3.2/24", "dev", "u2")
	a10 := vmBehind(t, f1, "a10", "v10", "192.168.60.1/24", 1450)
	a20 := vmBehind(t, f1, "a20", "v20", "192.168.60.3/24", 1450)
	b10 := vmBehind(t, f2, "b10", "v10", "192.168.60.2/24", 1450)
	b20 := vmBehind(t, f2, "b20", "v20", "192.168.60.4/24", 1450)
	for _, c := range []struct {
		ns     *netns
		remote string
	}{{f1, "10.99.3.2"}, {f2, "10.99.3.1"}} {
		startDaemonIn(t, c.ns.name, shortTempDir(t), "--port", "host:v10,vlan=10", "--port", "host:v20,vlan=20",
			"--port", "vxlan:"+c.remote+",vnis=100:10+200:20,name=vx")
	}
	a10.ping("192.168.60.2")
	a20.ping("192.168.60.4")
	b10.ping("192.168.60.1")
	b20.ping("192.168.60.3")
	checkNoStall(t, "VLAN 10 across", iperf(t, a10, b10, "192.168.60.2", 1, false))
	a10.ip("neigh", "flush", "all")
	a10.pingFails("192.168.60.4")
	b20.ip("neigh", "flush", "all")
	b20.pingFails("192.168.60.1")
}

// TestVXLANIPv6Underlay: the kernel interop of TestVXLANWithLinuxKernel
// over an IPv6 underlay, whose 70 bytes of overhead leave a 1430 inner
// MTU.
func TestVXLANIPv6Underlay(t *testing.T) {
	requireNetAdmin(t)
	fab, kb := newNetns(t, "fab"), newNetns(t, "kb")
	underlay(t, fab, "ua", "fd00:99::1/64", kb, "ub", "fd00:99::2/64")
	kernelVTEP(t, kb, 300, "fd00:99::2", []string{"fd00:99::1"}, "192.168.52.2/24", 1430)
	vm := vmBehind(t, fab, "vm", "vm0", "192.168.52.1/24", 1430)
	d := startDaemonIn(t, fab.name, shortTempDir(t), "--port", "host:vm0", "--port", "vxlan:fd00:99::2,vni=300,name=vx")
	if p := d.mustPort("vx"); p.MTU != 1430 {
		t.Errorf("vxlan port MTU %d over a 1500 IPv6 underlay, want 1430", p.MTU)
	}
	vm.ping("192.168.52.2")
	kb.ping("192.168.52.1")
	checkNoStall(t, "vm -> kernel over IPv6", iperf(t, vm, kb, "192.168.52.2", 1, false))
	if e, ok := d.entryOf(macOf(t, kb, "br0")); !ok || e.Via != "fd00:99::2" {
		t.Errorf("kernel bridge's entry: %+v (found %v), want via fd00:99::2", e, ok)
	}
	if !kernelLearned(t, kb, macOf(t, vm, "eth0"), "fd00:99::1") {
		t.Errorf("the kernel has not learned the VM behind fd00:99::1")
	}
}
