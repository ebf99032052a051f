package vxlan

import (
	"bytes"
	"net"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"golang.org/x/sys/unix"

	"github.com/l2fabric/l2fabric/backends/internal/nstest"
	"github.com/l2fabric/l2fabric/fabric"
	"github.com/l2fabric/l2fabric/fabric/fabrictest"
	"github.com/l2fabric/l2fabric/fdb"
	"github.com/l2fabric/l2fabric/frames"
	"github.com/l2fabric/l2fabric/frames/offload"
)

// These tests run two fabrics joined by VXLAN over the loopback interface
// of a network namespace of their own: real sockets, real kernel, nothing
// shared with the machine.

// loopback brings lo up with 127.0.0.2 as well as 127.0.0.1, the two
// VTEPs.
func loopback(t *testing.T) {
	nstest.IP(t, "link", "set", "lo", "up")
	nstest.IP(t, "addr", "add", "127.0.0.2/8", "dev", "lo")
}

// fabricWith returns a running fabric with a vxlan port opened from spec
// and an in-memory port "host" of the given VLAN.
func fabricWith(t *testing.T, spec string, hosts map[string]uint16) (*fabric.Fabric, map[string]*fabrictest.Port) {
	t.Helper()
	f := nstest.NewFabric(t, Kind())
	if _, err := f.Open(spec); err != nil {
		t.Fatal(err)
	}
	ports := map[string]*fabrictest.Port{}
	for name, vlan := range hosts {
		p := fabrictest.New(64)
		if err := f.Attach(p, fabric.PortConfig{Name: name, VLAN: vlan}); err != nil {
			t.Fatal(err)
		}
		ports[name] = p
	}
	return f, ports
}

func frame(dst, src frames.MAC, size int) []byte {
	f := make([]byte, size)
	copy(f[0:6], dst[:])
	copy(f[6:12], src[:])
	f[12], f[13] = 0x88, 0xb5 // local experimental EtherType
	return f
}

var bcast = frames.MAC{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}

func wantFrames(t *testing.T, p *fabrictest.Port, n int, what string) [][]byte {
	t.Helper()
	got, err := p.WaitWritten(n, nstest.Timeout)
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
	return got
}

func entryVia(f *fabric.Fabric, port string, mac frames.MAC) (string, bool) {
	for _, e := range f.Entries() {
		if e.Port == port && e.MAC == mac {
			return e.Via, true
		}
	}
	return "", false
}

func backendDrops(t *testing.T, f *fabric.Fabric, port string) map[string]uint64 {
	t.Helper()
	pi, ok := nstest.Port(f, port)
	if !ok {
		t.Fatalf("no port %s", port)
	}
	return pi.BackendDrops
}

// TestTwoFabricsFloodLearnAndCountBadPackets: a broadcast crosses the
// tunnel, each side learns the other's MAC behind the other's VTEP, known
// unicast goes through, and malformed packets are counted by reason
// without disturbing the traffic.
func TestTwoFabricsFloodLearnAndCountBadPackets(t *testing.T) {
	if !nstest.InNetns(t) {
		return
	}
	loopback(t)
	fa, pa := fabricWith(t, "vxlan:127.0.0.2,vni=100,local=127.0.0.1,name=vx,mtu=1400", map[string]uint16{"a": 1})
	fb, pb := fabricWith(t, "vxlan:127.0.0.1,vni=100,local=127.0.0.2,name=vx", map[string]uint16{"b": 1})

	pa["a"].Inject(frame(bcast, macA, 60))
	if got := wantFrames(t, pb["b"], 1, "broadcast from a"); !bytes.Equal(got[0], frame(bcast, macA, 60)) {
		t.Fatalf("b got % x", got[0])
	}
	nstest.WaitFor(t, "b's fabric to learn a's MAC behind 127.0.0.1", func() bool {
		via, ok := entryVia(fb, "vx", macA)
		return ok && via == "127.0.0.1"
	})
	pb["b"].Inject(frame(macA, macB, 100))
	wantFrames(t, pa["a"], 1, "unicast from b")
	if via, ok := entryVia(fa, "vx", macB); !ok || via != "127.0.0.2" {
		t.Errorf("a's fabric has b's MAC via %q (%v), want 127.0.0.2", via, ok)
	}

	// Malformed packets to a's socket.
	c, err := net.Dial("udp", "127.0.0.1:4789")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	pkt := func(vni uint32, inner []byte) []byte {
		b := make([]byte, HeaderLen, HeaderLen+len(inner))
		Header(b).Encode(vni)
		return append(b, inner...)
	}
	badFlags := pkt(100, frame(macA, macB, 60))
	badFlags[0] |= 0x80
	reserved := pkt(100, frame(macA, macB, 60))
	reserved[7] = 1
	for _, b := range [][]byte{
		{0x08, 0, 0},       // truncated
		badFlags, reserved, // bad flags
		pkt(999, frame(macA, macB, 60)),   // unknown VNI
		pkt(100, []byte{1, 2, 3}),         // inner runt
		pkt(100, frame(macA, macB, 1500)), // bigger than mtu=1400
	} {
		if _, err := c.Write(b); err != nil {
			t.Fatal(err)
		}
	}
	want := map[string]uint64{"socket_truncated": 1, "socket_bad_flags": 2, "socket_unknown_vni": 1,
		"socket_inner_runt": 1, "rx_oversize": 1}
	nstest.WaitFor(t, "the bad packets to be counted", func() bool {
		got := backendDrops(t, fa, "vx")
		for k, v := range want {
			if got[k] != v {
				return false
			}
		}
		return true
	})
	// And the tunnel still works.
	pb["b"].Inject(frame(macA, macB, 200))
	wantFrames(t, pa["a"], 2, "unicast from b after the bad packets")
	if got := len(pa["a"].Written()); got != 2 {
		t.Errorf("a got %d frames, want 2 (no bad packet may get through)", got)
	}
}

// TestVNIsKeepVLANsApart: a vnis= port carries each VLAN in its own VNI,
// and frames never cross from one to the other.
func TestVNIsKeepVLANsApart(t *testing.T) {
	if !nstest.InNetns(t) {
		return
	}
	loopback(t)
	hosts := map[string]uint16{"ten": 10, "twenty": 20}
	_, pa := fabricWith(t, "vxlan:127.0.0.2,vnis=100:10+200:20,local=127.0.0.1,name=vx", hosts)
	_, pb := fabricWith(t, "vxlan:127.0.0.1,vnis=100:10+200:20,local=127.0.0.2,name=vx", hosts)
	pa["ten"].Inject(frame(bcast, macA, 60))
	pa["twenty"].Inject(frame(bcast, macB, 70))
	got10 := wantFrames(t, pb["ten"], 1, "VLAN 10's broadcast")
	got20 := wantFrames(t, pb["twenty"], 1, "VLAN 20's broadcast")
	time.Sleep(50 * time.Millisecond) // anything that leaked would have arrived by now
	got10, got20 = pb["ten"].Written(), pb["twenty"].Written()
	if len(got10) != 1 || !bytes.Equal(got10[0], frame(bcast, macA, 60)) {
		t.Errorf("VLAN 10 got %d frames, want only a's broadcast, untagged", len(got10))
	}
	if len(got20) != 1 || !bytes.Equal(got20[0], frame(bcast, macB, 70)) {
		t.Errorf("VLAN 20 got %d frames, want only b's broadcast, untagged", len(got20))
	}
}

// TestPortsShareASocketByVNI: two vxlan ports on one local address and
// port share its socket when their VNIs differ, and each gets its own
// VNI's frames; a third with a VNI already taken is refused, naming it.
func TestPortsShareASocketByVNI(t *testing.T) {
	if !nstest.InNetns(t) {
		return
	}
	loopback(t)
	fa := nstest.NewFabric(t, Kind())
	fb := nstest.NewFabric(t, Kind())
	var pa, pb []*fabrictest.Port
	for i, vni := range []string{"100", "200"} {
		if _, err := fa.Open("vxlan:127.0.0.2,local=127.0.0.1,vni=" + vni + ",vlan=" + vni); err != nil {
			t.Fatal(err)
		}
		if _, err := fb.Open("vxlan:127.0.0.1,local=127.0.0.2,vni=" + vni + ",vlan=" + vni); err != nil {
			t.Fatal(err)
		}
		vlan := uint16(100 * (i + 1))
		a, b := fabrictest.New(64), fabrictest.New(64)
		fa.Attach(a, fabric.PortConfig{Name: "a" + vni, VLAN: vlan})
		fb.Attach(b, fabric.PortConfig{Name: "b" + vni, VLAN: vlan})
		pa, pb = append(pa, a), append(pb, b)
	}
	_, err := fa.Open("vxlan:127.0.0.2,local=127.0.0.1,vni=200,vlan=300,name=dup")
	if err == nil || !bytes.Contains([]byte(err.Error()), []byte(`VNI 200`)) {
		t.Errorf("a second port for VNI 200: %v, want an error naming the VNI", err)
	}
	// A UDP port some other program holds: the error says what to do.
	busy, err := net.ListenPacket("udp4", "127.0.0.1:4790")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	_, err = fa.Open("vxlan:127.0.0.2,local=127.0.0.1,vni=300,vlan=300,port=4790,name=busy")
	if err == nil || !strings.Contains(err.Error(), "address already in use") || !strings.Contains(err.Error(), "port=") {
		t.Errorf("a vxlan port on a busy UDP port: %v, want an error saying it is in use and how to pick another", err)
	}

	pa[1].Inject(frame(bcast, macA, 60))
	wantFrames(t, pb[1], 1, "VNI 200's broadcast")
	time.Sleep(50 * time.Millisecond)
	if n := len(pb[0].Written()); n != 0 {
		t.Errorf("VNI 100's port got %d frames of VNI 200", n)
	}
}

// TestForwardingDoesNotAllocate: encapsulating and sending a batch, and
// receiving, decapsulating, learning and queueing a packet, allocate
// nothing per frame.
func TestForwardingDoesNotAllocate(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector allocates on its own")
	}
	if !nstest.InNetns(t) {
		return
	}
	loopback(t)
	o, cfg, err := parse(t, "vxlan:127.0.0.2+127.0.0.3,vnis=100:10+200:20,local=127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	cfg = o.portConfig(cfg, 1500, false)
	tbl, err := newTable(o, fdb.Config{})
	if err != nil {
		t.Fatal(err)
	}
	reg := newRegistry()
	p := newPort(o, cfg, tbl, fabric.FlowControl{})
	sh, err := reg.join(o, p, hclog.NewNullLogger(), fabric.FlowControl{})
	if err != nil {
		t.Fatal(err)
	}
	p.sh, p.reg = sh, reg
	go p.age()
	defer p.Close()

	// A batch: tagged frames (the tag is stripped), one TCP flow of
	// full-size frames (coalesced for GSO) and broadcasts (replicated).
	v, _ := tbl.intern(addr("127.0.0.2"))
	tbl.learn(time.Now(), 10, macB, v)
	bufs := make([][]byte, 64)
	orig := make([][]byte, 64)
	for i := range bufs {
		dst := macB
		if i%8 == 0 {
			dst = bcast
		}
		orig[i] = frames.AppendTagged(nil, frames.Frame(ethFrame(dst, macA, 40000, 5201, 1400)), 10)
		bufs[i] = make([]byte, len(orig[i]))
	}
	runtime.GC() // the first collection starts its workers, which allocates
	if n := testing.AllocsPerRun(50, func() {
		for i := range bufs {
			bufs[i] = bufs[i][:copy(bufs[i][:cap(bufs[i])], orig[i])]
		}
		p.Write(bufs)
	}); n != 0 {
		t.Errorf("Write: %v allocations per batch of %d frames, want 0 (drops %v)", n, len(bufs), p.BackendDrops())
	}

	// A super-frame, cut into segments on the way.
	super, h := superFrame(false, 40000, 20*1300, 1300, tcpACK)
	super = frames.AppendTagged(nil, frames.Frame(super), 10)
	h.CsumStart += frames.TagLen
	sbuf := make([]byte, len(super))
	runtime.GC() // the first collection starts its workers, which allocates
	if n := testing.AllocsPerRun(50, func() {
		copy(sbuf, super)
		p.WriteGSO([][]byte{sbuf}, []offload.Header{h})
	}); n != 0 {
		t.Errorf("WriteGSO: %v allocations per super-frame, want 0", n)
	}
	if d := p.BackendDrops(); len(d) != 0 {
		t.Errorf("drops sending: %v", d)
	}

	// Receiving.
	pkt := make([]byte, HeaderLen+1400)
	Header(pkt).Encode(200)
	copy(pkt[HeaderLen:], ethFrame(macA, macB, 5201, 40000, 1400))
	targets := *sh.targets.Load()
	from := addr("127.0.0.3")
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	out := make([][]byte, 32)
	hdrs := make([]offload.Header, 32)
	sizes := make([]int, 32)
	for i := range out {
		out[i] = make([]byte, 1600)
	}
	runtime.GC() // the first collection starts its workers, which allocates
	if n := testing.AllocsPerRun(50, func() {
		hold := time.Millisecond
		for i := 0; i < 32; i++ {
			if sh.deliver(targets, pkt, from, time.Now(), &hold, timer) == nil {
				t.Fatal("a valid packet was not delivered")
			}
		}
		if n, _ := p.ReadGSO(out, sizes, hdrs); n != 32 {
			t.Fatalf("popped %d frames, want 32", n)
		}
	}); n != 0 {
		t.Errorf("receive: %v allocations per 32 packets, want 0", n)
	}
	if a, ok := p.RemoteOf(20, macB); !ok || a != from {
		t.Errorf("receiving did not learn macB behind %v: %v, %v", from, a, ok)
	}
	if got := frames.Frame(out[0][:sizes[0]]); !got.Tagged() || got.VLAN() != 20 {
		t.Errorf("a trunk's frame from VNI 200 is not tagged VLAN 20: % x", out[0][:18])
	}
	if d := p.BackendDrops(); len(d) != 0 {
		t.Errorf("drops: %v", d)
	}
}

// TestSocketOptions: ttl= and df= reach the sockets that send, and ports
// sharing a socket must agree on them.
func TestSocketOptions(t *testing.T) {
	if !nstest.InNetns(t) {
		return
	}
	loopback(t)
	for _, c := range []struct {
		spec      string
		ttl, pmtu int
	}{
		{"vxlan:127.0.0.2,vni=1,local=127.0.0.1,ttl=7,df=on", 7, unix.IP_PMTUDISC_PROBE},
		{"vxlan:127.0.0.2,vni=1,local=127.0.0.1", 64, unix.IP_PMTUDISC_DONT},
	} {
		o, _, err := parse(t, c.spec)
		if err != nil {
			t.Fatal(err)
		}
		reg := newRegistry()
		sh, err := reg.join(o, &port{name: "p"}, hclog.NewNullLogger(), fabric.FlowControl{})
		if err != nil {
			t.Fatal(err)
		}
		for _, u := range append([]*udpSocket{sh.rx}, sh.pool...) {
			var ttl, pmtu int
			u.rc.Control(func(fd uintptr) {
				ttl, _ = unix.GetsockoptInt(int(fd), unix.IPPROTO_IP, unix.IP_TTL)
				pmtu, _ = unix.GetsockoptInt(int(fd), unix.IPPROTO_IP, unix.IP_MTU_DISCOVER)
			})
			if ttl != c.ttl || pmtu != c.pmtu {
				t.Errorf("%s: socket on port %d has TTL %d, PMTU discovery %d; want %d, %d", c.spec, u.port, ttl, pmtu, c.ttl, c.pmtu)
			}
			if u != sh.rx && (u.port < SourcePortMin || u.port > SourcePortMax) {
				t.Errorf("source port %d outside %d-%d", u.port, SourcePortMin, SourcePortMax)
			}
		}
		o2, _, _ := parse(t, "vxlan:127.0.0.2,vni=2,local=127.0.0.1,ttl=9")
		if _, err := reg.join(o2, &port{name: "q"}, hclog.NewNullLogger(), fabric.FlowControl{}); err == nil {
			t.Errorf("a port with other socket options joined %s's socket", c.spec)
		}
		sh.close()
	}
}
