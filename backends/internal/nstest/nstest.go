//go:build linux

// Package nstest is the test kit of the Linux interface backends (host,
// tap, feth, linkwatch), kept out of the packages it tests as
// wireguard-go keeps its tun test helpers: running each test in a network namespace of its own, and a
// peer on the fabric that exchanges real traffic with the kernel.
//
// # Namespaces
//
// A test that creates interfaces starts with
//
//	if !nstest.InNetns(t) {
//		return
//	}
//
// InNetns re-runs the test binary for just that test
// (-test.run=^TestName$) in a child process cloned into a new network
// namespace (CLONE_NEWNET), and reports the child's result as the test's.
// In the child it returns true and the test runs. Because the whole
// process, every thread and every `ip` command it starts, lives in the
// namespace, nothing the test does can touch the host's interfaces, and
// the namespace and whatever is left in it vanish when the child exits,
// even if it crashes. (Unsharing one locked OS thread instead would leave
// the fabric's goroutines on other threads, in the host's namespace.)
//
// Tests need root. Without it they skip, unless the CI environment
// variable is set, when they fail.
package nstest

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/l2fabric/l2fabric/backends/internal/netif"
	"github.com/l2fabric/l2fabric/fabric"
	"github.com/l2fabric/l2fabric/fabric/fabrictest"
)

// childEnv marks the child process InNetns starts, holding the test's
// name.
const childEnv = "L2FABRIC_NETNS_TEST"

// Timeout bounds every wait in these tests.
const Timeout = 5 * time.Second

// Addresses the namespace tests give the host and the fabric's peer.
const (
	HostIP = "198.18.0.1"
	PeerIP = "198.18.0.2"
)

// Link returns the interface called name, failing the test if it is not
// there.
func Link(t *testing.T, name string) netif.Link {
	t.Helper()
	l, err := netif.LinkByName(name)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// Gone fails the test if an interface called name still exists.
func Gone(t *testing.T, name string) {
	t.Helper()
	if l, err := netif.LinkByName(name); !errors.Is(err, netif.ErrNotFound) {
		t.Fatalf("%s still there (%+v, %v)", name, l, err)
	}
}

// NeedRoot skips t unless the process is root; with CI set in the
// environment it fails t instead, so that CI cannot pass by skipping.
func NeedRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() == 0 {
		return
	}
	if os.Getenv("CI") != "" {
		t.Fatal("this test needs root (CAP_NET_ADMIN) and CI is set: run the tests as root")
	}
	t.Skip("needs root (CAP_NET_ADMIN) to create interfaces in a network namespace")
}

// InNetns reports whether t is running in its own network namespace. If
// not, it runs t again in a child process in a new one, reports the
// child's result, and returns false: the caller returns at once.
func InNetns(t *testing.T) bool {
	t.Helper()
	NeedRoot(t)
	if os.Getenv(childEnv) == t.Name() {
		return true
	}
	args := []string{"-test.run=^" + regexp.QuoteMeta(t.Name()) + "$", "-test.count=1", "-test.timeout=2m", "-test.v"}
	cmd := exec.Command(os.Args[0], args...)
	cmd.Env = append(os.Environ(), childEnv+"="+t.Name())
	if os.Getenv("GORACE") == "" {
		// The race detector otherwise waits a second at exit.
		cmd.Env = append(cmd.Env, "GORACE=atexit_sleep_ms=0")
	}
	cmd.SysProcAttr = &syscall.SysProcAttr{Cloneflags: syscall.CLONE_NEWNET, Pdeathsig: syscall.SIGKILL}
	out, err := cmd.CombinedOutput()
	switch {
	case err != nil:
		t.Fatalf("in a new network namespace: %v\n%s", err, out)
	case !bytes.Contains(out, []byte("--- PASS: "+t.Name())):
		t.Fatalf("in a new network namespace, the test did not pass:\n%s", out)
	case testing.Verbose():
		t.Logf("in a new network namespace:\n%s", out)
	}
	return false
}

// IP runs ip(8) with args and fails t if it fails.
func IP(t *testing.T, args ...string) {
	t.Helper()
	if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
		t.Fatalf("ip %s: %v\n%s", strings.Join(args, " "), err, out)
	}
}

// WaitFor polls cond until it holds, failing t after Timeout.
func WaitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(Timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", Timeout, what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// NewFabric returns a running fabric with kinds; it stops when t ends.
func NewFabric(t *testing.T, kinds ...fabric.Kind) *fabric.Fabric {
	t.Helper()
	log := hclog.New(&hclog.LoggerOptions{Name: "l2fabric", Output: testWriter{t}, Level: hclog.Debug})
	f, err := fabric.New(fabric.Config{Kinds: kinds, Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { f.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	return f
}

// testWriter sends the fabric's logs to the test's.
type testWriter struct{ t *testing.T }

func (w testWriter) Write(b []byte) (int, error) {
	w.t.Log(strings.TrimSuffix(string(b), "\n"))
	return len(b), nil
}

// Port returns the port called name, and whether it is attached.
func Port(f *fabric.Fabric, name string) (fabric.PortInfo, bool) {
	for _, p := range f.Ports() {
		if p.Name == name {
			return p, true
		}
	}
	return fabric.PortInfo{}, false
}

// WaitState waits until the port called name is in a state starting with
// prefix ("up", "down").
func WaitState(t *testing.T, f *fabric.Fabric, name, prefix string) fabric.PortInfo {
	t.Helper()
	var p fabric.PortInfo
	WaitFor(t, "port "+name+" "+prefix, func() bool {
		var ok bool
		p, ok = Port(f, name)
		return ok && strings.HasPrefix(p.State, prefix)
	})
	return p
}

// Peer is a VM on the fabric: an in-memory port with a MAC and an IPv4
// address, which answers the kernel's ARP and exchanges UDP and ICMP
// with it.
type Peer struct {
	// Port is the peer's port on the fabric.
	Port *fabrictest.Port
	// MAC is the peer's address, the source of what it sends.
	MAC [6]byte
	// IP is the peer's IPv4 address.
	IP   netip.Addr
	seen int // frames of Port.Written already looked at
}

// NewPeer attaches a peer port called name, with mtu, to f.
func NewPeer(t *testing.T, f *fabric.Fabric, name string, mtu int, ip string) *Peer {
	t.Helper()
	p := &Peer{Port: fabrictest.New(32), MAC: [6]byte{0x02, 0x18, 0, 0, 0, 2}, IP: netip.MustParseAddr(ip)}
	if err := f.Attach(p.Port, fabric.PortConfig{Name: name, Kind: "test", MTU: mtu}); err != nil {
		t.Fatal(err)
	}
	return p
}

// next returns the frames written to the peer since the last call.
func (p *Peer) next() [][]byte {
	all := p.Port.Written()
	out := all[min(p.seen, len(all)):]
	p.seen = len(all)
	return out
}

// Await waits for a frame written to the peer that match accepts,
// looking only at frames not seen before, and returns it.
func (p *Peer) Await(t *testing.T, what string, match func([]byte) bool) []byte {
	t.Helper()
	deadline := time.Now().Add(Timeout)
	for time.Now().Before(deadline) {
		for _, fr := range p.next() {
			if match(fr) {
				return fr
			}
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Fatalf("peer %s: no %s within %v", p.IP, what, Timeout)
	return nil
}

// Exchange checks that the host, at hostIP on the TAP or bridge, and the
// peer reach each other with UDP datagrams of size bytes and an ICMP echo:
// the kernel resolves the peer with ARP (answered by the peer), sends it a
// datagram, receives one from it and answers its ping. It returns the
// host's MAC address.
func (p *Peer) Exchange(t *testing.T, hostIP string, size int) [6]byte {
	t.Helper()
	host := netip.MustParseAddr(hostIP)
	ln, err := net.ListenUDP("udp4", net.UDPAddrFromAddrPort(netip.AddrPortFrom(host, 0)))
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	hostMAC := p.FromHost(t, hostIP, size)

	// Peer to host: a datagram the kernel delivers to the listener.
	lport := uint16(ln.LocalAddr().(*net.UDPAddr).Port)
	reply := payload(size)
	ln.SetReadDeadline(time.Now().Add(Timeout))
	p.Port.Inject(UDPFrame(hostMAC, p.MAC, p.IP, host, 7777, lport, reply))
	buf := make([]byte, 70000)
	n, from, err := ln.ReadFromUDPAddrPort(buf)
	if err != nil {
		t.Fatalf("the host received nothing from the peer: %v", err)
	}
	if !bytes.Equal(buf[:n], reply) || from.Addr() != p.IP {
		t.Fatalf("the host received %d bytes from %v, want the peer's %d", n, from, len(reply))
	}

	// Peer pings the host.
	id := uint16(time.Now().UnixNano())
	p.Port.Inject(EchoRequest(hostMAC, p.MAC, p.IP, host, id, 1))
	p.Await(t, "echo reply", func(fr []byte) bool { return IsEchoReply(fr, host, p.IP, id, 1) })
	return hostMAC
}

// FromHost sends the peer a UDP datagram of size bytes from hostIP,
// answering the kernel's ARP, until one arrives whole. It returns the
// host's MAC address.
func (p *Peer) FromHost(t *testing.T, hostIP string, size int) [6]byte {
	t.Helper()
	conn := p.dial(t, hostIP)
	defer conn.Close()
	token := payload(size)
	deadline := time.Now().Add(Timeout)
	for time.Now().Before(deadline) {
		if _, err := conn.Write(token); err != nil {
			t.Fatalf("sending to the peer: %v", err)
		}
		retry := time.Now().Add(250 * time.Millisecond)
		for time.Now().Before(retry) {
			for _, fr := range p.next() {
				if sha, spa, ok := ParseARPRequest(fr, p.IP); ok {
					p.Port.Inject(ARPReply(p.MAC, p.IP, sha, spa))
				}
				if src, _, pl, ok := ParseUDP(fr, p.IP); ok && bytes.Equal(pl, token) {
					return src
				}
			}
			time.Sleep(2 * time.Millisecond)
		}
	}
	t.Fatalf("no %d-byte datagram from the host %s reached the peer %s within %v", size, hostIP, p.IP, Timeout)
	return [6]byte{}
}

// SendFromHost sends the peer one UDP datagram of size bytes from hostIP,
// without waiting for it.
func (p *Peer) SendFromHost(t *testing.T, hostIP string, size int) {
	t.Helper()
	conn := p.dial(t, hostIP)
	defer conn.Close()
	if _, err := conn.Write(payload(size)); err != nil {
		t.Fatalf("sending to the peer: %v", err)
	}
}

func (p *Peer) dial(t *testing.T, hostIP string) *net.UDPConn {
	t.Helper()
	host := netip.MustParseAddr(hostIP)
	conn, err := net.DialUDP("udp4", net.UDPAddrFromAddrPort(netip.AddrPortFrom(host, 0)), net.UDPAddrFromAddrPort(netip.AddrPortFrom(p.IP, 9)))
	if err != nil {
		t.Fatal(err)
	}
	return conn
}

func payload(n int) []byte {
	b := make([]byte, n)
	rand.Read(b)
	copy(b, "l2fabric-"+hex.EncodeToString(b[:4]))
	return b[:n]
}

// Frame crafting and parsing: Ethernet, ARP, IPv4, UDP, ICMP.

const (
	etherARP  = 0x0806
	etherIPv4 = 0x0800
)

func ether(dst, src [6]byte, etype uint16, body []byte) []byte {
	f := make([]byte, 14, 14+len(body))
	copy(f[0:], dst[:])
	copy(f[6:], src[:])
	binary.BigEndian.PutUint16(f[12:], etype)
	return append(f, body...)
}

// ARPReply is an ARP reply telling tha/tpa that spa is at sha.
func ARPReply(sha [6]byte, spa netip.Addr, tha [6]byte, tpa netip.Addr) []byte {
	b := make([]byte, 28)
	binary.BigEndian.PutUint16(b[0:], 1)         // Ethernet
	binary.BigEndian.PutUint16(b[2:], etherIPv4) // IPv4
	b[4], b[5] = 6, 4
	binary.BigEndian.PutUint16(b[6:], 2) // reply
	copy(b[8:], sha[:])
	copy(b[14:], spa.AsSlice())
	copy(b[18:], tha[:])
	copy(b[24:], tpa.AsSlice())
	return ether(tha, sha, etherARP, b)
}

// ParseARPRequest reports whether fr is an ARP request for target, and
// returns the sender's hardware and protocol addresses.
func ParseARPRequest(fr []byte, target netip.Addr) (sha [6]byte, spa netip.Addr, ok bool) {
	if len(fr) < 42 || binary.BigEndian.Uint16(fr[12:]) != etherARP {
		return sha, spa, false
	}
	a := fr[14:]
	if binary.BigEndian.Uint16(a[6:]) != 1 || netip.AddrFrom4([4]byte(a[24:28])) != target {
		return sha, spa, false
	}
	copy(sha[:], a[8:14])
	return sha, netip.AddrFrom4([4]byte(a[14:18])), true
}

func checksum(b []byte) uint16 {
	var s uint32
	for i := 0; i+1 < len(b); i += 2 {
		s += uint32(binary.BigEndian.Uint16(b[i:]))
	}
	if len(b)%2 == 1 {
		s += uint32(b[len(b)-1]) << 8
	}
	for s > 0xffff {
		s = s>>16 + s&0xffff
	}
	return ^uint16(s)
}

func ipv4(src, dst netip.Addr, proto byte, body []byte) []byte {
	h := make([]byte, 20, 20+len(body))
	h[0] = 0x45
	binary.BigEndian.PutUint16(h[2:], uint16(20+len(body)))
	binary.BigEndian.PutUint16(h[4:], uint16(time.Now().UnixNano()))
	h[6] = 0x40 // DF
	h[8] = 64
	h[9] = proto
	copy(h[12:], src.AsSlice())
	copy(h[16:], dst.AsSlice())
	binary.BigEndian.PutUint16(h[10:], checksum(h))
	return append(h, body...)
}

// UDPFrame is an IPv4 UDP datagram (checksum 0: none) in an Ethernet
// frame.
func UDPFrame(dstMAC, srcMAC [6]byte, src, dst netip.Addr, sport, dport uint16, data []byte) []byte {
	u := make([]byte, 8, 8+len(data))
	binary.BigEndian.PutUint16(u[0:], sport)
	binary.BigEndian.PutUint16(u[2:], dport)
	binary.BigEndian.PutUint16(u[4:], uint16(8+len(data)))
	u = append(u, data...)
	return ether(dstMAC, srcMAC, etherIPv4, ipv4(src, dst, 17, u))
}

// parseIPv4 returns the source, destination, protocol and body of an
// unfragmented IPv4 packet in an Ethernet frame.
func parseIPv4(fr []byte) (src, dst netip.Addr, proto byte, body []byte, ok bool) {
	if len(fr) < 34 || binary.BigEndian.Uint16(fr[12:]) != etherIPv4 {
		return src, dst, 0, nil, false
	}
	ip := fr[14:]
	ihl := int(ip[0]&0x0f) * 4
	total := int(binary.BigEndian.Uint16(ip[2:]))
	if ip[0]>>4 != 4 || ihl < 20 || total < ihl || total > len(ip) {
		return src, dst, 0, nil, false
	}
	if binary.BigEndian.Uint16(ip[6:])&0x3fff != 0 { // a fragment
		return src, dst, 0, nil, false
	}
	return netip.AddrFrom4([4]byte(ip[12:16])), netip.AddrFrom4([4]byte(ip[16:20])), ip[9], ip[ihl:total], true
}

// ParseUDP reports whether fr is a UDP datagram to dst, returning the
// frame's source MAC, the IP source and the payload.
func ParseUDP(fr []byte, dst netip.Addr) (srcMAC [6]byte, src netip.Addr, data []byte, ok bool) {
	s, d, proto, body, ok := parseIPv4(fr)
	if !ok || proto != 17 || d != dst || len(body) < 8 {
		return srcMAC, src, nil, false
	}
	copy(srcMAC[:], fr[6:12])
	return srcMAC, s, body[8:], true
}

func icmpEcho(typ byte, id, seq uint16) []byte {
	b := make([]byte, 8, 8+32)
	b[0] = typ
	binary.BigEndian.PutUint16(b[4:], id)
	binary.BigEndian.PutUint16(b[6:], seq)
	b = append(b, "l2fabric echo l2fabric echo 0123"...)
	binary.BigEndian.PutUint16(b[2:], checksum(b))
	return b
}

// EchoRequest is an ICMP echo request in an Ethernet frame.
func EchoRequest(dstMAC, srcMAC [6]byte, src, dst netip.Addr, id, seq uint16) []byte {
	return ether(dstMAC, srcMAC, etherIPv4, ipv4(src, dst, 1, icmpEcho(8, id, seq)))
}

// IsEchoReply reports whether fr is an ICMP echo reply from src to dst
// with id and seq.
func IsEchoReply(fr []byte, src, dst netip.Addr, id, seq uint16) bool {
	s, d, proto, body, ok := parseIPv4(fr)
	return ok && proto == 1 && s == src && d == dst && len(body) >= 8 && body[0] == 0 &&
		binary.BigEndian.Uint16(body[4:]) == id && binary.BigEndian.Uint16(body[6:]) == seq
}
