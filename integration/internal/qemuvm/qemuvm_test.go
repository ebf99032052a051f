//go:build linux

package qemuvm

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// needAssets is RequireAssets.
func needAssets(t *testing.T) Assets {
	t.Helper()
	return RequireAssets(t)
}

// buildInitramfs builds the initramfs into a temporary directory.
func buildInitramfs(t *testing.T, a Assets) string {
	t.Helper()
	p, err := BuildInitramfs(a, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// startGuest starts a guest and stops it when the test ends, printing its
// console log if the test failed.
func startGuest(t *testing.T, a Assets, initramfs string, cfg Config) *Guest {
	t.Helper()
	g, err := Start(context.Background(), a, initramfs, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("guest %s booted in %v (accel %s, -M %s)", cfg.Name, g.BootDuration().Round(time.Millisecond), g.Accel(), g.Config().Machine)
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("console log of %s:\n%s", cfg.Name, g.ConsoleLog())
		}
		t0 := time.Now()
		if err := g.Close(); err != nil {
			t.Errorf("Close %s: %v", cfg.Name, err)
		}
		t.Logf("Close %s took %v", cfg.Name, time.Since(t0).Round(time.Millisecond))
		if _, err := os.Stat(cfg.LocalPath); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("Close left %s: %v", cfg.LocalPath, err)
		}
		if err := g.Close(); err != nil {
			t.Errorf("second Close %s: %v", cfg.Name, err)
		}
	})
	return g
}

// run runs cmd in g and returns its output, failing the test on a transport
// error.
func run(t *testing.T, g *Guest, cmd string) (string, int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	out, code, err := g.Run(ctx, cmd)
	if err != nil {
		t.Fatal(err)
	}
	return out, code
}

// listen binds a unixgram socket at p.
func listen(t *testing.T, p string) *net.UnixConn {
	t.Helper()
	c, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: p, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close(); os.Remove(p) })
	return c
}

// frames collects every datagram arriving on c.
type frames struct {
	mu  sync.Mutex
	got [][]byte
}

func collect(c *net.UnixConn) *frames {
	f := &frames{}
	go func() {
		buf := make([]byte, 65536)
		for {
			n, _, err := c.ReadFromUnix(buf)
			if err != nil {
				return
			}
			f.mu.Lock()
			f.got = append(f.got, append([]byte(nil), buf[:n]...))
			f.mu.Unlock()
		}
	}()
	return f
}

func (f *frames) snapshot() [][]byte {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([][]byte(nil), f.got...)
}

func TestBootRunAndFrames(t *testing.T) {
	a := needAssets(t)
	initrd := buildInitramfs(t, a)
	dir := t.TempDir()
	sw := listen(t, filepath.Join(dir, "sw.sock"))
	seen := collect(sw)

	const mac = "52:54:00:12:34:01"
	local := filepath.Join(dir, "g1.sock")
	g := startGuest(t, a, initrd, Config{
		Name:       "g1",
		MAC:        mac,
		IP:         "198.18.0.1/24",
		LocalPath:  local,
		RemotePath: filepath.Join(dir, "sw.sock"),
	})

	out, code := run(t, g, "cat /sys/class/net/eth0/address")
	if code != 0 || strings.TrimSpace(out) != mac {
		t.Fatalf("eth0 address: %q (exit %d), want %q", out, code, mac)
	}

	t.Run("protocol", func(t *testing.T) {
		for _, tc := range []struct {
			cmd, out string
			code     int
		}{
			{"echo hello", "hello\n", 0},
			{"printf 'no newline'", "no newline", 0},
			{"true", "", 0},
			{"exit 3", "", 3},
			{"echo out; echo err >&2; false", "out\nerr\n", 1},
			{"x=1\nif [ $x = 1 ]; then\n  echo 'multi line; \"quotes\" $x'\nfi", "multi line; \"quotes\" $x\n", 0},
			{"cat", "", 0}, // stdin is /dev/null, not the console
			{"echo @@L2F-END fake 0@@", "@@L2F-END fake 0@@\n", 0},
			{"ip -4 -o addr show dev eth0 | grep -c 198.18.0.1/24", "1\n", 0},
			{"hostname", "g1\n", 0},
		} {
			out, code := run(t, g, tc.cmd)
			if out != tc.out || code != tc.code {
				t.Errorf("Run(%q) = %q, %d; want %q, %d", tc.cmd, out, code, tc.out, tc.code)
			}
		}
		// Large output and a long command line.
		out, code := run(t, g, "seq 1 20000")
		if code != 0 || strings.Count(out, "\n") != 20000 || !strings.HasSuffix(out, "\n20000\n") {
			t.Errorf("seq 1 20000: exit %d, %d lines, tail %q", code, strings.Count(out, "\n"), out[max(0, len(out)-20):])
		}
		long := strings.Repeat("a", 10000)
		out, code = run(t, g, "echo "+long+" | wc -c")
		if code != 0 || strings.TrimSpace(out) != "10001" {
			t.Errorf("long command: %q, exit %d", out, code)
		}
		// A cancelled Run reports the context's error.
		ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
		defer cancel()
		if _, _, err := g.Run(ctx, "sleep 1"); !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("Run with expiring context: %v", err)
		}
		// ...and the guest stays usable after it.
		if out, code := run(t, g, "echo after"); out != "after\n" || code != 0 {
			t.Errorf("after cancelled Run: %q, %d", out, code)
		}
	})

	if n := len(seen.snapshot()); n != 0 {
		t.Errorf("guest sent %d frames before being asked to", n)
	}

	// The ping gets no answer, but its ARP request must reach our socket
	// with the guest's MAC as Ethernet source.
	if _, code := run(t, g, "ping -c1 -W1 198.18.0.2"); code == 0 {
		t.Errorf("ping of an absent host succeeded")
	}
	hw, _ := net.ParseMAC(mac)
	deadline := time.Now().Add(5 * time.Second)
	for {
		var found bool
		for _, f := range seen.snapshot() {
			if isARPRequest(f, hw, net.IPv4(198, 18, 0, 1), net.IPv4(198, 18, 0, 2)) {
				found = true
			}
		}
		if found {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no ARP request from %s for 198.18.0.2 on the switch socket; got %d frames: %x", mac, len(seen.snapshot()), seen.snapshot())
		}
		time.Sleep(50 * time.Millisecond)
	}

	// Frames sent to LocalPath reach the guest: answer its ARP and see the
	// neighbour entry appear.
	peer := net.HardwareAddr{0x52, 0x54, 0x00, 0xaa, 0xbb, 0xcc}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := 0; i < 40; i++ {
			reply := arpReply(peer, net.IPv4(198, 18, 0, 2), hw, net.IPv4(198, 18, 0, 1))
			sw.WriteToUnix(reply, &net.UnixAddr{Name: local, Net: "unixgram"})
			time.Sleep(50 * time.Millisecond)
		}
	}()
	run(t, g, "ping -c1 -W1 198.18.0.2")
	<-done
	out, _ = run(t, g, "ip neigh show 198.18.0.2")
	if !strings.Contains(out, peer.String()) {
		t.Errorf("guest did not learn %s from an injected ARP reply: ip neigh: %q", peer, out)
	}
}

// isARPRequest reports whether f is an Ethernet ARP request from src
// (Ethernet and sender hardware address) for target, sent from senderIP.
func isARPRequest(f []byte, src net.HardwareAddr, senderIP, target net.IP) bool {
	if len(f) < 42 {
		return false
	}
	return bytes.Equal(f[0:6], []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}) &&
		bytes.Equal(f[6:12], src) &&
		binary.BigEndian.Uint16(f[12:14]) == 0x0806 &&
		binary.BigEndian.Uint16(f[20:22]) == 1 && // request
		bytes.Equal(f[22:28], src) &&
		bytes.Equal(f[28:32], senderIP.To4()) &&
		bytes.Equal(f[38:42], target.To4())
}

// arpReply builds an Ethernet ARP reply "ip is at mac" addressed to dst.
func arpReply(mac net.HardwareAddr, ip net.IP, dst net.HardwareAddr, dstIP net.IP) []byte {
	f := make([]byte, 0, 60)
	f = append(f, dst...)
	f = append(f, mac...)
	f = append(f, 0x08, 0x06, 0, 1, 0x08, 0x00, 6, 4, 0, 2)
	f = append(f, mac...)
	f = append(f, ip.To4()...)
	f = append(f, dst...)
	f = append(f, dstIP.To4()...)
	return append(f, make([]byte, 60-len(f))...)
}

// hub is a tiny test-only stand-in for the switch: every datagram a guest
// sends to its remote socket is forwarded to every other guest's local
// socket. With two guests it is a plain relay.
func hub(t *testing.T, remotes []*net.UnixConn, locals []string) {
	for i, c := range remotes {
		go func() {
			buf := make([]byte, 65536)
			for {
				n, _, err := c.ReadFromUnix(buf)
				if err != nil {
					return
				}
				for j, l := range locals {
					if j != i {
						// Fails harmlessly until that guest is up.
						c.WriteToUnix(buf[:n], &net.UnixAddr{Name: l, Net: "unixgram"})
					}
				}
			}
		}()
	}
}

// startHub boots n guests at once (as the switch tests will), joined by
// hub, and stops them when the test ends.
func startHub(t *testing.T, a Assets, initrd string, n int) ([]*Guest, []Config) {
	t.Helper()
	dir := t.TempDir()
	var cfgs []Config
	var remotes []*net.UnixConn
	var locals []string
	for i := 0; i < n; i++ {
		name := fmt.Sprintf("g%c", 'a'+i)
		cfg := Config{
			Name:       name,
			MAC:        fmt.Sprintf("52:54:00:00:00:%02x", 0x0a+i),
			IP:         fmt.Sprintf("198.18.0.%d/24", 10+i),
			LocalPath:  filepath.Join(dir, name+".sock"),
			RemotePath: filepath.Join(dir, "r"+name+".sock"),
		}
		cfgs = append(cfgs, cfg)
		remotes = append(remotes, listen(t, cfg.RemotePath))
		locals = append(locals, cfg.LocalPath)
	}
	hub(t, remotes, locals)

	guests := make([]*Guest, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	t0 := time.Now()
	for i, cfg := range cfgs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			guests[i], errs[i] = Start(context.Background(), a, initrd, cfg)
		}()
	}
	wg.Wait()
	for i, g := range guests {
		if g != nil {
			t.Cleanup(func() {
				if t.Failed() {
					t.Logf("console log of %s:\n%s", g.Name(), g.ConsoleLog())
				}
				g.Close()
			})
			t.Logf("guest %s booted in %v (accel %s)", g.Name(), g.BootDuration().Round(time.Millisecond), g.Accel())
		}
		if errs[i] != nil {
			t.Fatal(errs[i])
		}
	}
	t.Logf("%d guests ready %v after the first Start", n, time.Since(t0).Round(time.Millisecond))
	return guests, cfgs
}

// TestGuestsPing boots three guests at once, joined by hub, and has each
// ping the next.
func TestGuestsPing(t *testing.T) {
	a := needAssets(t)
	const n = 3
	guests, cfgs := startHub(t, a, buildInitramfs(t, a), n)
	for i, g := range guests {
		peer := cfgs[(i+1)%n]
		peerIP, _, _ := strings.Cut(peer.IP, "/")
		out, code := run(t, g, "ping -c2 -W2 "+peerIP)
		if code != 0 {
			t.Fatalf("%s ping %s: exit %d:\n%s", g.Name(), peer.Name, code, out)
		}
		if i == 0 {
			t.Logf("%s ping %s:\n%s", g.Name(), peer.Name, out)
		}
		out, _ = run(t, g, "ip neigh show "+peerIP)
		if !strings.Contains(out, peer.MAC) {
			t.Errorf("%s's neighbour entry for %s: %q, want MAC %s", g.Name(), peer.Name, out, peer.MAC)
		}
	}
}

func TestStartErrors(t *testing.T) {
	a := Assets{QEMU: "/nonexistent/qemu", Kernel: "/nonexistent/vmlinuz"}
	dir := t.TempDir()
	base := Config{Name: "bad", MAC: "52:54:00:00:00:01", LocalPath: filepath.Join(dir, "l.sock"), RemotePath: filepath.Join(dir, "r.sock")}
	for name, mod := range map[string]func(*Config){
		"bad MAC":      func(c *Config) { c.MAC = "zz" },
		"bad IP":       func(c *Config) { c.IP = "198.18.0.1" },
		"no local":     func(c *Config) { c.LocalPath = "" },
		"long path":    func(c *Config) { c.RemotePath = "/" + strings.Repeat("x", 120) },
		"comma":        func(c *Config) { c.RemotePath = dir + "/a,b" },
		"local exists": func(c *Config) { c.LocalPath = dir },
	} {
		cfg := base
		mod(&cfg)
		if _, err := Start(context.Background(), a, "/nonexistent/initrd", cfg); err == nil {
			t.Errorf("%s: Start succeeded", name)
		}
	}
	if _, err := Start(context.Background(), Assets{}, "", base); !errors.Is(err, ErrAssetsMissing) {
		t.Errorf("empty Assets: %v, want ErrAssetsMissing", err)
	}
}

func TestBuildInitramfs(t *testing.T) {
	a := needAssets(t)
	p := buildInitramfs(t, a)
	data, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	files := parseNewc(t, data)
	for _, want := range []string{"init", "bin/busybox", "bin/sh", "dev/console", "etc/l2f-modules"} {
		if _, ok := files[want]; !ok {
			t.Errorf("initramfs lacks %s", want)
		}
	}
	if string(files["init"]) != string(initScript) {
		t.Errorf("init differs from init.sh")
	}
	var order []string
	for _, l := range strings.Fields(string(files["etc/l2f-modules"])) {
		if _, ok := files[strings.TrimPrefix(l, "/")]; !ok {
			t.Errorf("module %s listed but not in the archive", l)
		}
		order = append(order, modName(l))
	}
	pos := map[string]int{}
	for i, m := range order {
		pos[m] = i
	}
	for _, pair := range [][2]string{{"virtio", "virtio_net"}, {"virtio_ring", "virtio_net"}, {"failover", "net_failover"}, {"net_failover", "virtio_net"}, {"virtio", "virtio_mmio"}} {
		before, okb := pos[pair[0]]
		after, oka := pos[pair[1]]
		if oka && okb && before > after {
			t.Errorf("module order %v loads %s before its dependency %s", order, pair[1], pair[0])
		}
	}
	if _, ok := pos["virtio_net"]; !ok {
		t.Errorf("virtio_net not in module list %v", order)
	}
	t.Logf("initramfs %d bytes, %d entries, modules %v", len(data), len(files), order)
}

// parseNewc reads a newc archive back: name -> data (symlink targets for
// symlinks).
func parseNewc(t *testing.T, b []byte) map[string][]byte {
	t.Helper()
	files := map[string][]byte{}
	off := 0
	hex := func(s []byte) int {
		var v int
		for _, c := range s {
			v <<= 4
			switch {
			case c >= '0' && c <= '9':
				v |= int(c - '0')
			case c >= 'A' && c <= 'F':
				v |= int(c-'A') + 10
			default:
				t.Fatalf("bad hex %q at %d", s, off)
			}
		}
		return v
	}
	align := func(n int) int { return (n + 3) &^ 3 }
	for {
		if off+110 > len(b) || string(b[off:off+6]) != "070701" {
			t.Fatalf("bad newc header at %d", off)
		}
		h := b[off : off+110]
		size := hex(h[54:62])
		nameLen := hex(h[94:102])
		name := string(b[off+110 : off+110+nameLen-1])
		dataOff := align(off + 110 + nameLen)
		if name == "TRAILER!!!" {
			return files
		}
		files[name] = b[dataOff : dataOff+size]
		off = align(dataOff + size)
	}
}

// TestHostBinaries puts iperf3 and tcpdump (dynamically linked) into the
// initramfs and runs them between two guests.
func TestHostBinaries(t *testing.T) {
	a := needAssets(t)
	initrd, err := BuildInitramfsWith(a, t.TempDir(), InitramfsOptions{Binaries: []string{"iperf3", "tcpdump"}})
	if err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(initrd); err == nil {
		t.Logf("initramfs with iperf3 and tcpdump: %d bytes", fi.Size())
	}
	guests, _ := startHub(t, a, initrd, 2)
	ga, gb := guests[0], guests[1]

	if out, code := run(t, ga, "tcpdump --version"); code != 0 {
		t.Errorf("tcpdump --version: exit %d: %s", code, out)
	}
	// tcpdump sees the ARP and ICMP of a ping from the other guest.
	if out, code := run(t, ga, "tcpdump -i eth0 -n -c 2 -w /tmp/cap.pcap >/tmp/tcpdump.log 2>&1 & sleep 1"); code != 0 {
		t.Fatalf("start tcpdump: exit %d: %s", code, out)
	}
	if out, code := run(t, gb, "ping -c2 -W2 198.18.0.10"); code != 0 {
		t.Fatalf("ping: exit %d: %s", code, out)
	}
	out, code := run(t, ga, "sleep 1; cat /tmp/tcpdump.log; tcpdump -n -r /tmp/cap.pcap")
	if code != 0 || !strings.Contains(out, "2 packets captured") {
		t.Errorf("tcpdump capture: exit %d:\n%s", code, out)
	}

	if out, code := run(t, ga, "iperf3 -s -D -1"); code != 0 {
		t.Fatalf("iperf3 -s: exit %d: %s", code, out)
	}
	out, code = run(t, gb, "iperf3 -c 198.18.0.10 -t 1")
	if code != 0 || !strings.Contains(out, "receiver") {
		t.Fatalf("iperf3 -c: exit %d:\n%s", code, out)
	}
	t.Logf("iperf3 through the test hub:\n%s", out)
}
