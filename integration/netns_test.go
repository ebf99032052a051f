//go:build linux

package integration

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/l2fabric/l2fabric/integration/internal/qemuvm"
)

// The tests here build small networks out of the kernel's own devices:
// network namespaces as hosts, veth pairs as cables, Linux bridges. The
// switch runs in a namespace of its own, so nothing touches the machine's
// real interfaces. They need root and iproute2 (integration/setup.sh);
// without them they skip, except under CI, where they fail.

// requireNetAdmin skips (or, under CI, fails) a test that cannot create
// namespaces.
func requireNetAdmin(t testing.TB) {
	t.Helper()
	why := ""
	if os.Geteuid() != 0 {
		why = "needs root to create network namespaces"
	} else if _, err := exec.LookPath("ip"); err != nil {
		why = "needs iproute2 (run integration/setup.sh)"
	}
	if why == "" {
		return
	}
	if os.Getenv("CI") != "" {
		t.Fatal(why)
	}
	t.Skip(why)
}

// netns is a network namespace made for one test.
type netns struct {
	t    testing.TB
	name string
}

// newNetns creates a namespace with its loopback up and deletes it when
// the test ends (which also deletes every interface in it).
func newNetns(t testing.TB, role string) *netns {
	t.Helper()
	var b [3]byte
	rand.Read(b[:])
	n := &netns{t: t, name: "l2f-" + role + "-" + hex.EncodeToString(b[:])}
	mustRun(t, "ip", "netns", "add", n.name)
	t.Cleanup(func() { exec.Command("ip", "netns", "del", n.name).Run() })
	n.ip("link", "set", "lo", "up")
	return n
}

// mustRun runs a command and fails the test if it fails.
func mustRun(t testing.TB, name string, args ...string) string {
	t.Helper()
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return string(out)
}

// ip runs `ip -n NS args...`.
func (n *netns) ip(args ...string) string {
	n.t.Helper()
	return mustRun(n.t, "ip", append([]string{"-n", n.name}, args...)...)
}

// exec runs a command in the namespace and returns its output and error.
func (n *netns) exec(args ...string) (string, error) {
	out, err := exec.Command("ip", append([]string{"netns", "exec", n.name}, args...)...).CombinedOutput()
	return string(out), err
}

// cable connects dev a in namespace na with dev b in namespace nb by a
// veth pair, both ends up.
func cable(t testing.TB, na *netns, a string, nb *netns, b string) {
	t.Helper()
	mustRun(t, "ip", "link", "add", a, "netns", na.name, "type", "veth", "peer", "name", b, "netns", nb.name)
	na.ip("link", "set", a, "up")
	nb.ip("link", "set", b, "up")
}

// host makes a namespace that is a host on the switch: its eth0 is cabled
// to dev in the switch namespace and has address cidr.
func host(t testing.TB, sw *netns, role, dev, cidr string) *netns {
	t.Helper()
	h := newNetns(t, role)
	cable(t, h, "eth0", sw, dev)
	h.ip("addr", "add", cidr, "dev", "eth0")
	return h
}

// ping pings addr from n, a few tries, and fails the test if no reply
// comes back.
func (n *netns) ping(addr string) {
	n.t.Helper()
	if out, err := n.exec("busybox", "ping", "-c", "3", "-W", "2", addr); err != nil {
		n.t.Fatalf("%s cannot ping %s: %v\n%s", n.name, addr, err, out)
	}
}

// iperfResult is the part of iperf3 -J output the tests read.
type iperfResult struct {
	Error     string `json:"error"`
	Intervals []struct {
		Sum struct {
			Bytes float64 `json:"bytes"`
		} `json:"sum"`
	} `json:"intervals"`
	End struct {
		SumSent struct {
			Bits        float64 `json:"bits_per_second"`
			Retransmits int     `json:"retransmits"`
		} `json:"sum_sent"`
		SumReceived struct {
			Bits float64 `json:"bits_per_second"`
		} `json:"sum_received"`
	} `json:"end"`
}

// iperf runs an iperf3 TCP test from client to server (reverse: from
// server to client) for secs seconds and returns the result.
func iperf(t testing.TB, client, server *netns, addr string, secs int, reverse bool) iperfResult {
	t.Helper()
	iperfPort++
	port := fmt.Sprint(iperfPort)
	var srvOut lockedOutput
	srv := exec.Command("ip", "netns", "exec", server.name, "iperf3", "-s", "-1", "-B", addr, "-p", port)
	srv.Stdout, srv.Stderr = &srvOut, &srvOut
	if err := srv.Start(); err != nil {
		t.Fatalf("iperf3 server: %v", err)
	}
	defer func() { srv.Process.Kill(); srv.Wait() }()
	args := []string{"iperf3", "-c", addr, "-p", port, "-t", fmt.Sprint(secs), "-i", "0.5", "-J", "--connect-timeout", "3000"}
	if reverse {
		args = append(args, "-R")
	}
	var r iperfResult
	for try := 0; ; try++ {
		out, err := client.exec(args...)
		r = iperfResult{}
		if jerr := json.Unmarshal([]byte(out), &r); jerr != nil {
			t.Fatalf("iperf3: %v, output not JSON: %v\n%s", err, jerr, out)
		}
		// iperf3 -J exits 0 even when it cannot connect: the server may
		// not be listening yet.
		if !strings.Contains(r.Error, "unable to connect") || try == 30 {
			if err != nil && r.Error == "" {
				r.Error = err.Error()
			}
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if r.Error != "" {
		t.Fatalf("iperf3: %s\nserver:\n%s", r.Error, srvOut.String())
	}
	return r
}

// iperfPort is the last iperf3 port used: each run gets its own, so a
// server still closing cannot refuse the next.
var iperfPort = 5200

// lockedOutput collects a process's output.
type lockedOutput struct {
	mu  sync.Mutex
	buf strings.Builder
}

func (o *lockedOutput) Write(p []byte) (int, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.buf.Write(p)
}

func (o *lockedOutput) String() string {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.buf.String()
}

// checkNoStall fails the test if any half-second interval of an iperf3
// run moved no data: TCP stalled on the way through the switch.
func checkNoStall(t *testing.T, what string, r iperfResult) {
	t.Helper()
	for i, iv := range r.Intervals {
		if iv.Sum.Bytes == 0 {
			t.Errorf("%s: TCP stalled: interval %d moved no data", what, i)
		}
	}
	t.Logf("%s: %.2f Gbit/s, %d retransmits", what, r.End.SumReceived.Bits/1e9, r.End.SumSent.Retransmits)
}

// TestHostPortsPingAndTCP: two namespaced hosts on host: ports ping each
// other and run TCP both ways across l2fabric without stalls.
func TestHostPortsPingAndTCP(t *testing.T) {
	requireNetAdmin(t)
	sw := newNetns(t, "sw")
	a := host(t, sw, "a", "va", "198.18.1.1/24")
	b := host(t, sw, "b", "vb", "198.18.1.2/24")
	d := startDaemonIn(t, sw.name, shortTempDir(t), "--port", "host:va", "--port", "host:vb")
	a.ping("198.18.1.2")
	b.ping("198.18.1.1")
	checkNoStall(t, "a -> b", iperf(t, a, b, "198.18.1.2", 2, false))
	checkNoStall(t, "b -> a", iperf(t, a, b, "198.18.1.2", 2, true))
	// Each host's MAC is learned on its own port.
	for _, c := range []struct {
		ns   *netns
		port string
	}{{a, "va"}, {b, "vb"}} {
		m := strings.TrimSpace(mustRun(t, "ip", "netns", "exec", c.ns.name, "cat", "/sys/class/net/eth0/address"))
		found := false
		for _, e := range d.fdb() {
			if e.MAC == m {
				found = true
				if e.Port != c.port {
					t.Errorf("%s learned on %s, want %s", m, e.Port, c.port)
				}
			}
		}
		if !found {
			t.Errorf("%s not in the FDB", m)
		}
	}
}

// TestHostInterfaceDeletedAndRecreated: deleting a host port's interface
// marks the port down and leaves the fabric running; re-creating it brings
// the port back, and traffic with it.
func TestHostInterfaceDeletedAndRecreated(t *testing.T) {
	requireNetAdmin(t)
	sw := newNetns(t, "sw")
	a := host(t, sw, "a", "va", "198.18.2.1/24")
	b := host(t, sw, "b", "vb", "198.18.2.2/24")
	d := startDaemonIn(t, sw.name, shortTempDir(t), "--port", "host:va", "--port", "host:vb")
	a.ping("198.18.2.2")

	bMAC := strings.TrimSpace(mustRun(t, "ip", "netns", "exec", b.name, "cat", "/sys/class/net/eth0/address"))
	sw.ip("link", "del", "vb") // takes b's eth0 with it
	eventually(t, "vb down", func() error {
		if p := d.mustPort("vb"); !strings.HasPrefix(p.State, "down") {
			return fmt.Errorf("vb state %q", p.State)
		}
		return nil
	})
	for _, e := range d.fdb() {
		if e.Port == "vb" {
			t.Errorf("entry of a down port kept: %+v", e)
		}
	}
	if p := d.mustPort("va"); p.State != "up" {
		t.Errorf("va state %q while vb is gone", p.State)
	}

	// A re-plugged NIC comes back with its MAC (which a's ARP cache
	// still holds).
	mustRun(t, "ip", "link", "add", "eth0", "netns", b.name, "address", bMAC, "type", "veth", "peer", "name", "vb", "netns", sw.name)
	b.ip("addr", "add", "198.18.2.2/24", "dev", "eth0")
	b.ip("link", "set", "eth0", "up")
	sw.ip("link", "set", "vb", "up")
	eventually(t, "vb up", func() error {
		if p := d.mustPort("vb"); p.State != "up" {
			return fmt.Errorf("vb state %q", p.State)
		}
		return nil
	})
	a.ping("198.18.2.2")
}

// TestHostMissingInterface: a host port on an interface that
// does not exist is refused at start, naming what exists.
func TestHostMissingInterface(t *testing.T) {
	requireNetAdmin(t)
	sw := newNetns(t, "sw")
	cable(t, sw, "real0", newNetns(t, "x"), "eth0")
	out, err := sw.exec(bin, "--control", filepath.Join(shortTempDir(t), "c.sock"), "--port", "host:nope0")
	if err == nil || !strings.Contains(out, `no interface "nope0"`) || !strings.Contains(out, "real0") {
		t.Errorf("host:nope0: %v\n%s", err, out)
	}
}

// TestLANHostReachesQEMUGuest: the router-VM shape: a host on the LAN
// (a namespace on a host: port) and a qemu guest on a dgram port reach
// each other.
func TestLANHostReachesQEMUGuest(t *testing.T) {
	requireNetAdmin(t)
	qemuvm.RequireAssets(t)
	dir := shortTempDir(t)
	sw := newNetns(t, "sw")
	lan := host(t, sw, "lan", "en0", "198.18.3.1/24")
	vms := filepath.Join(dir, "vms.sock")
	startDaemonIn(t, sw.name, dir, "--port", "host:en0", "--port", "dgram:"+vms)
	g := bootGuest(t, dir, "router", "52:54:00:00:01:01", "198.18.3.254/24", vms)
	guestPing(t, g, "198.18.3.1")
	lan.ping("198.18.3.254")
}

// linkExists reports whether dev exists in namespace n.
func (n *netns) linkExists(dev string) bool {
	return exec.Command("ip", "-n", n.name, "link", "show", dev).Run() == nil
}

// TestHostReachesGuestThroughTap: the host (here the switch's namespace)
// reaches a VM through a TAP l2fabric creates, and the TAP is gone after
// SIGTERM.
func TestHostReachesGuestThroughTap(t *testing.T) {
	requireNetAdmin(t)
	dir := shortTempDir(t)
	sw := newNetns(t, "sw")
	vms := filepath.Join(dir, "vms.sock")
	d := startDaemonIn(t, sw.name, dir, "--port", "tap:l2tap0", "--port", "dgram:"+vms)
	if !sw.linkExists("l2tap0") {
		t.Fatal("tap:l2tap0 did not create l2tap0")
	}
	sw.ip("addr", "add", "198.18.4.1/24", "dev", "l2tap0")
	g := bootGuest(t, dir, "vm", "52:54:00:00:04:02", "198.18.4.2/24", vms)
	guestPing(t, g, "198.18.4.1")
	sw.ping("198.18.4.2")
	d.stopClean()
	if sw.linkExists("l2tap0") {
		t.Error("l2tap0 left behind after SIGTERM")
	}
}

// TestHostReachesGuestThroughFeth: the host reaches a VM through its own
// bridge's address (feth:BRIDGE), the member l2fabric adds is re-joined
// when pulled out of the bridge, and it is gone after SIGTERM.
func TestHostReachesGuestThroughFeth(t *testing.T) {
	requireNetAdmin(t)
	dir := shortTempDir(t)
	sw := newNetns(t, "sw")
	sw.ip("link", "add", "br1", "type", "bridge")
	sw.ip("addr", "add", "198.18.5.1/24", "dev", "br1")
	sw.ip("link", "set", "br1", "up")
	vms := filepath.Join(dir, "vms.sock")
	d := startDaemonIn(t, sw.name, dir, "--port", "feth:br1", "--port", "dgram:"+vms)
	master := func() string {
		out, _ := exec.Command("ip", "netns", "exec", sw.name, "cat", "/sys/class/net/l2f-br1/master/uevent").Output()
		return string(out)
	}
	if !strings.Contains(master(), "INTERFACE=br1") {
		t.Fatalf("l2f-br1 is not a member of br1: %q", master())
	}
	g := bootGuest(t, dir, "vm", "52:54:00:00:05:02", "198.18.5.2/24", vms)
	guestPing(t, g, "198.18.5.1")
	sw.ping("198.18.5.2")

	sw.ip("link", "set", "l2f-br1", "nomaster")
	eventually(t, "l2f-br1 re-joined to br1", func() error {
		if !strings.Contains(master(), "INTERFACE=br1") {
			return fmt.Errorf("l2f-br1 master: %q", master())
		}
		return nil
	})
	sw.ping("198.18.5.2")

	d.stopClean()
	if sw.linkExists("l2f-br1") {
		t.Error("l2f-br1 left behind after SIGTERM")
	}
	if !sw.linkExists("br1") {
		t.Error("the user's bridge br1 was removed")
	}
}
