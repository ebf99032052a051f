package fabric_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/l2fabric/l2fabric/fabric"
	"github.com/l2fabric/l2fabric/fabric/fabrictest"
	"github.com/l2fabric/l2fabric/fdb"
	"github.com/l2fabric/l2fabric/frames"
)

const wait = 5 * time.Second

// testFabric is a running fabric with in-memory ports.
type testFabric struct {
	t     *testing.T
	f     *fabric.Fabric
	ports map[string]*fabrictest.Port
	seq   uint32
}

func newTestFabric(t *testing.T, cfg fabric.Config) *testFabric {
	t.Helper()
	f, err := fabric.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { f.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	return &testFabric{t: t, f: f, ports: map[string]*fabrictest.Port{}}
}

func (tf *testFabric) attach(cfg fabric.PortConfig) *fabrictest.Port {
	tf.t.Helper()
	p := fabrictest.New(8)
	if err := tf.f.Attach(p, cfg); err != nil {
		tf.t.Fatalf("attach %s: %v", cfg.Name, err)
	}
	tf.ports[cfg.Name] = p
	return p
}

func mac(s string) frames.MAC {
	m, err := frames.ParseMAC(s)
	if err != nil {
		panic(err)
	}
	return m
}

// eth builds an untagged frame with a payload of n bytes.
func eth(dst, src string, n int) []byte {
	f := make([]byte, frames.HeaderLen+n)
	d, s := mac(dst), mac(src)
	copy(f[0:6], d[:])
	copy(f[6:12], s[:])
	binary.BigEndian.PutUint16(f[12:14], 0x0800)
	for i := frames.HeaderLen; i < len(f); i++ {
		f[i] = byte(i)
	}
	return f
}

// tagged returns f with an 802.1Q tag for vlan.
func tagged(f []byte, vlan uint16) []byte { return frames.AppendTagged(nil, f, vlan) }

const markerType = 0x88b5 // IEEE local experimental EtherType

// marker is a broadcast frame from src carrying a sequence number, used as
// a barrier: frames sent before it from the same port reach every egress
// queue before it does.
func (tf *testFabric) marker(src string, vlan uint16, tag bool) ([]byte, uint32) {
	tf.seq++
	f := eth("ff:ff:ff:ff:ff:ff", src, 46)
	binary.BigEndian.PutUint16(f[12:14], markerType)
	binary.BigEndian.PutUint32(f[14:18], tf.seq)
	if tag {
		f = tagged(f, vlan)
	}
	return f, tf.seq
}

func isMarker(f []byte, seq uint32) bool {
	fr := frames.Frame(f)
	if fr.Tagged() {
		return fr.InnerEtherType() == markerType && binary.BigEndian.Uint32(f[18:22]) == seq
	}
	return fr.EtherType() == markerType && binary.BigEndian.Uint32(f[14:18]) == seq
}

// barrier sends a marker from the port called from (source address src,
// VLAN vlan, tagged if tag) and waits until port to has received it. It
// returns the frames to received before the marker, excluding markers.
func (tf *testFabric) barrier(from, src string, vlan uint16, tag bool, to string) [][]byte {
	tf.t.Helper()
	m, seq := tf.marker(src, vlan, tag)
	tf.ports[from].Inject(m)
	out := tf.ports[to]
	deadline := time.Now().Add(wait)
	for {
		got := out.Written()
		for i, f := range got {
			if isMarker(f, seq) {
				var before [][]byte
				for _, g := range got[:i] {
					if fr := frames.Frame(g); fr.EtherType() != markerType && !(fr.Tagged() && fr.InnerEtherType() == markerType) {
						before = append(before, g)
					}
				}
				return before
			}
		}
		if time.Now().After(deadline) {
			tf.t.Fatalf("marker from %s never reached %s", from, to)
		}
		time.Sleep(time.Millisecond)
	}
}

func contains(fs [][]byte, f []byte) bool {
	for _, g := range fs {
		if bytes.Equal(g, f) {
			return true
		}
	}
	return false
}

func (tf *testFabric) counters(name string) fabric.Counters {
	for _, p := range tf.f.Ports() {
		if p.Name == name {
			return p.Counters
		}
	}
	tf.t.Fatalf("no port %s", name)
	return fabric.Counters{}
}

const (
	macA = "02:00:00:00:00:0a"
	macB = "02:00:00:00:00:0b"
	macC = "02:00:00:00:00:0c"
	macD = "02:00:00:00:00:0d"
)

// threePorts attaches access ports a, b, c in VLAN 1 and teaches the
// fabric where macA, macB and macC live.
func threePorts(t *testing.T) *testFabric {
	tf := newTestFabric(t, fabric.Config{})
	for _, n := range []string{"a", "b", "c"} {
		tf.attach(fabric.PortConfig{Name: n})
	}
	for _, p := range []struct{ port, src string }{{"a", macA}, {"b", macB}, {"c", macC}} {
		for _, other := range []string{"a", "b", "c"} {
			if other != p.port {
				tf.barrier(p.port, p.src, 1, false, other)
			}
		}
	}
	return tf
}

func TestKnownUnicastReachesExactlyOnePort(t *testing.T) {
	tf := threePorts(t)
	f := eth(macB, macA, 100)
	tf.ports["a"].Inject(f)
	gotB := tf.barrier("a", macA, 1, false, "b")
	gotC := tf.barrier("a", macA, 1, false, "c")
	if !contains(gotB, f) {
		t.Error("unicast to B did not reach b")
	}
	if contains(gotC, f) {
		t.Error("unicast to B also reached c")
	}
	if contains(tf.ports["a"].Written(), f) {
		t.Error("unicast came back to its sender")
	}
	if s := tf.f.Stats(); s.Fabric.Forwarded == 0 {
		t.Errorf("forwarded counter not incremented: %+v", s.Fabric)
	}
}

func TestFloodingReachesEveryOtherPortNeverTheSender(t *testing.T) {
	for _, tc := range []struct{ name, dst string }{
		{"broadcast", "ff:ff:ff:ff:ff:ff"},
		{"multicast", "01:00:5e:00:00:fb"},
		{"ipv6 multicast", "33:33:00:00:00:01"},
		{"unknown unicast", macD},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tf := threePorts(t)
			f := eth(tc.dst, macA, 60)
			tf.ports["a"].Inject(f)
			for _, to := range []string{"b", "c"} {
				if !contains(tf.barrier("a", macA, 1, false, to), f) {
					t.Errorf("%s not flooded to %s", tc.name, to)
				}
			}
			if contains(tf.ports["a"].Written(), f) {
				t.Errorf("%s came back to its sender", tc.name)
			}
		})
	}
}

func TestDestinationOnIngressPortIsFiltered(t *testing.T) {
	tf := threePorts(t)
	// A second station behind port a.
	tf.barrier("a", "02:00:00:00:00:aa", 1, false, "b")
	f := eth("02:00:00:00:00:aa", macA, 60)
	tf.ports["a"].Inject(f)
	if contains(tf.barrier("a", macA, 1, false, "b"), f) || contains(tf.barrier("a", macA, 1, false, "c"), f) {
		t.Error("frame for a station behind the ingress port was forwarded")
	}
	if tf.f.Stats().Fabric.Filtered == 0 {
		t.Error("filtered counter not incremented")
	}
}

func TestLinkLocalNeverForwarded(t *testing.T) {
	tf := threePorts(t)
	for _, dst := range []string{"01:80:c2:00:00:00", "01:80:c2:00:00:01", "01:80:c2:00:00:0e", "01:80:c2:00:00:0f"} {
		f := eth(dst, macA, 60)
		tf.ports["a"].Inject(f)
		if contains(tf.barrier("a", macA, 1, false, "b"), f) {
			t.Errorf("frame to %s was forwarded", dst)
		}
	}
	if got := tf.counters("a").LinkLocal; got != 4 {
		t.Errorf("link-local drops = %d, want 4", got)
	}
	// 01:80:c2:00:00:10 is an ordinary multicast address.
	f := eth("01:80:c2:00:00:10", macA, 60)
	tf.ports["a"].Inject(f)
	if !contains(tf.barrier("a", macA, 1, false, "b"), f) {
		t.Error("01:80:c2:00:00:10 was not flooded")
	}
}

func TestRuntAndOversizeCountedPortKeepsForwarding(t *testing.T) {
	tf := newTestFabric(t, fabric.Config{})
	tf.attach(fabric.PortConfig{Name: "a", MTU: 1500})
	tf.attach(fabric.PortConfig{Name: "b"})
	maxFrame := eth(macB, macA, 1500)
	tf.ports["a"].Inject([]byte{1, 2, 3}, make([]byte, 13), eth(macB, macA, 1501), maxFrame)
	got := tf.barrier("a", macA, 1, false, "b")
	if len(got) != 1 || !bytes.Equal(got[0], maxFrame) {
		t.Errorf("b got %d frames, want only the 1514-byte one", len(got))
	}
	c := tf.counters("a")
	if c.Runt != 2 || c.Oversize != 1 {
		t.Errorf("runt=%d oversize=%d, want 2 and 1", c.Runt, c.Oversize)
	}
	if c.RxFrames != 5 { // four frames and the marker
		t.Errorf("rx_frames = %d, want 5", c.RxFrames)
	}
}

func TestFrameLargerThanReadBufferIsOversize(t *testing.T) {
	tf := newTestFabric(t, fabric.Config{})
	tf.attach(fabric.PortConfig{Name: "a"})
	tf.attach(fabric.PortConfig{Name: "b"})
	tf.ports["a"].Inject(eth(macB, macA, 9000))
	tf.barrier("a", macA, 1, false, "b")
	if c := tf.counters("a"); c.Oversize != 1 {
		t.Errorf("oversize = %d, want 1", c.Oversize)
	}
}

func TestEgressMTUDropsTooLargeFrames(t *testing.T) {
	tf := newTestFabric(t, fabric.Config{})
	tf.attach(fabric.PortConfig{Name: "jumbo", MTU: 9000})
	tf.attach(fabric.PortConfig{Name: "small", MTU: 1500})
	big := eth("ff:ff:ff:ff:ff:ff", macA, 4000)
	tf.ports["jumbo"].Inject(big)
	if contains(tf.barrier("jumbo", macA, 1, false, "small"), big) {
		t.Error("4000-byte payload sent to a port with MTU 1500")
	}
	if c := tf.counters("small"); c.TxOversize != 1 {
		t.Errorf("tx_oversize = %d, want 1", c.TxOversize)
	}
}

func TestVLANIsolation(t *testing.T) {
	tf := newTestFabric(t, fabric.Config{})
	tf.attach(fabric.PortConfig{Name: "a10", VLAN: 10})
	tf.attach(fabric.PortConfig{Name: "b10", VLAN: 10})
	tf.attach(fabric.PortConfig{Name: "c20", VLAN: 20})
	tf.attach(fabric.PortConfig{Name: "d20", VLAN: 20})
	bcast := eth("ff:ff:ff:ff:ff:ff", macA, 60)
	tf.ports["a10"].Inject(bcast)
	if !contains(tf.barrier("a10", macA, 10, false, "b10"), bcast) {
		t.Error("broadcast did not reach its own VLAN")
	}
	if contains(tf.barrier("d20", macD, 20, false, "c20"), bcast) {
		t.Error("broadcast crossed from VLAN 10 to VLAN 20")
	}
	// The same MAC may live in two VLANs, on different ports.
	tf.barrier("c20", macA, 20, false, "d20")
	ents := tf.f.Entries()
	n := 0
	for _, e := range ents {
		if e.MAC == mac(macA) {
			n++
		}
	}
	if n != 2 {
		t.Errorf("MAC A has %d entries, want one per VLAN: %+v", n, ents)
	}
	// Unicast to A from VLAN 20 goes to c20, not a10.
	f := eth(macA, macD, 60)
	tf.ports["d20"].Inject(f)
	if !contains(tf.barrier("d20", macD, 20, false, "c20"), f) {
		t.Error("unicast in VLAN 20 did not reach A's VLAN 20 port")
	}
	if contains(tf.barrier("b10", macB, 10, false, "a10"), f) {
		t.Error("unicast in VLAN 20 reached A's VLAN 10 port")
	}
}

func TestTrunkTagsAndAccessUntags(t *testing.T) {
	tf := newTestFabric(t, fabric.Config{})
	tf.attach(fabric.PortConfig{Name: "trunk", Trunk: []uint16{10, 20}})
	tf.attach(fabric.PortConfig{Name: "a10", VLAN: 10})
	tf.attach(fabric.PortConfig{Name: "b20", VLAN: 20})
	// Untagged in on an access port, tagged out on the trunk.
	f := eth("ff:ff:ff:ff:ff:ff", macA, 60)
	tf.ports["a10"].Inject(f)
	if !contains(tf.barrier("a10", macA, 10, false, "trunk"), tagged(f, 10)) {
		t.Error("frame from access VLAN 10 did not leave the trunk tagged 10")
	}
	// Tagged in on the trunk, untagged out on the access port of its VLAN only.
	g := eth("ff:ff:ff:ff:ff:ff", macC, 60)
	tf.ports["trunk"].Inject(tagged(g, 20))
	if !contains(tf.barrier("trunk", macC, 20, true, "b20"), g) {
		t.Error("tagged 20 frame did not reach VLAN 20's access port untagged")
	}
	if contains(tf.barrier("trunk", macC, 10, true, "a10"), g) || contains(tf.a10Written(), tagged(g, 20)) {
		t.Error("tagged 20 frame reached VLAN 10")
	}
	// A VLAN the trunk does not carry is dropped and counted.
	tf.ports["trunk"].Inject(tagged(eth("ff:ff:ff:ff:ff:ff", macC, 60), 30))
	tf.barrier("trunk", macC, 20, true, "b20")
	// Untagged on a trunk without a native VLAN is dropped and counted.
	tf.ports["trunk"].Inject(eth("ff:ff:ff:ff:ff:ff", macC, 60))
	tf.barrier("trunk", macC, 20, true, "b20")
	if c := tf.counters("trunk"); c.VLAN != 2 {
		t.Errorf("trunk drop_vlan = %d, want 2", c.VLAN)
	}
}

func (tf *testFabric) a10Written() [][]byte { return tf.ports["a10"].Written() }

func TestTaggedFrameOnAccessPortDropped(t *testing.T) {
	tf := newTestFabric(t, fabric.Config{})
	tf.attach(fabric.PortConfig{Name: "a"})
	tf.attach(fabric.PortConfig{Name: "b"})
	f := tagged(eth("ff:ff:ff:ff:ff:ff", macA, 60), 1)
	tf.ports["a"].Inject(f)
	if got := tf.barrier("a", macA, 1, false, "b"); len(got) != 0 {
		t.Errorf("tagged frame on an access port was forwarded: %d frames", len(got))
	}
	if c := tf.counters("a"); c.TaggedOnAccess != 1 {
		t.Errorf("drop_tagged_on_access = %d, want 1", c.TaggedOnAccess)
	}
}

func TestTrunkNativeVLAN(t *testing.T) {
	tf := newTestFabric(t, fabric.Config{})
	tf.attach(fabric.PortConfig{Name: "trunk", VLAN: 5, Trunk: []uint16{10}})
	tf.attach(fabric.PortConfig{Name: "a5", VLAN: 5})
	tf.attach(fabric.PortConfig{Name: "a10", VLAN: 10})
	f := eth("ff:ff:ff:ff:ff:ff", macA, 60)
	tf.ports["trunk"].Inject(f)
	if !contains(tf.barrier("trunk", macA, 5, false, "a5"), f) {
		t.Error("untagged frame on the trunk did not reach its native VLAN")
	}
	g := eth("ff:ff:ff:ff:ff:ff", macB, 60)
	tf.ports["a5"].Inject(g)
	if !contains(tf.barrier("a5", macB, 5, false, "trunk"), g) {
		t.Error("native VLAN frame did not leave the trunk untagged")
	}
	// A priority tag (VID 0) means the native VLAN.
	h := eth("ff:ff:ff:ff:ff:ff", macA, 61)
	tf.ports["trunk"].Inject(tagged(h, 0))
	if !contains(tf.barrier("trunk", macA, 5, false, "a5"), h) {
		t.Error("priority-tagged frame did not reach the native VLAN untagged")
	}
}

func TestSpoofedAndBadSourcesDropped(t *testing.T) {
	tf := newTestFabric(t, fabric.Config{})
	tf.attach(fabric.PortConfig{Name: "vm", MAC: mac(macA)})
	tf.attach(fabric.PortConfig{Name: "b"})
	spoof := eth("ff:ff:ff:ff:ff:ff", macC, 60)
	good := eth("ff:ff:ff:ff:ff:ff", macA, 60)
	tf.ports["vm"].Inject(spoof, good)
	got := tf.barrier("vm", macA, 1, false, "b")
	if contains(got, spoof) || !contains(got, good) {
		t.Errorf("mac= filter: spoofed forwarded=%v, good forwarded=%v", contains(got, spoof), contains(got, good))
	}
	if c := tf.counters("vm"); c.Spoofed != 1 {
		t.Errorf("drop_spoofed = %d, want 1", c.Spoofed)
	}
	for _, src := range []string{"ff:ff:ff:ff:ff:ff", "01:00:5e:00:00:01", "00:00:00:00:00:00"} {
		tf.ports["b"].Inject(eth("ff:ff:ff:ff:ff:ff", src, 60))
	}
	tf.barrier("b", macB, 1, false, "vm")
	if c := tf.counters("b"); c.BadSource != 3 {
		t.Errorf("drop_bad_source = %d, want 3", c.BadSource)
	}
	for _, e := range tf.f.Entries() {
		if !e.MAC.IsUnicast() || e.MAC == mac(macC) {
			t.Errorf("learned %s from a dropped frame", e.MAC)
		}
	}
}

func TestLearningOff(t *testing.T) {
	tf := newTestFabric(t, fabric.Config{})
	tf.attach(fabric.PortConfig{Name: "quiet", NoLearning: true})
	tf.attach(fabric.PortConfig{Name: "b"})
	tf.attach(fabric.PortConfig{Name: "c"})
	tf.barrier("quiet", macA, 1, false, "b")
	for _, e := range tf.f.Entries() {
		if e.Port == "quiet" {
			t.Fatalf("learned %s on a learning=off port", e.MAC)
		}
	}
	// So unicast to A is unknown and floods.
	f := eth(macA, macB, 60)
	tf.ports["b"].Inject(f)
	if !contains(tf.barrier("b", macB, 1, false, "c"), f) {
		t.Error("unicast to an unlearned MAC was not flooded")
	}
}

func TestFloodOffStopsUnknownUnicastOnly(t *testing.T) {
	tf := newTestFabric(t, fabric.Config{})
	tf.attach(fabric.PortConfig{Name: "a"})
	tf.attach(fabric.PortConfig{Name: "noflood", NoFlood: true})
	unknown := eth(macD, macA, 60)
	bcast := eth("ff:ff:ff:ff:ff:ff", macA, 61)
	tf.ports["a"].Inject(unknown, bcast)
	got := tf.barrier("a", macA, 1, false, "noflood")
	if contains(got, unknown) {
		t.Error("unknown unicast flooded to a flood=off port")
	}
	if !contains(got, bcast) {
		t.Error("broadcast did not reach a flood=off port")
	}
}

func TestMoveIsImmediateAndCounted(t *testing.T) {
	tf := threePorts(t)
	// A appears on port c (a VM migrated, or a cable moved).
	tf.barrier("c", macA, 1, false, "b")
	f := eth(macA, macB, 60)
	tf.ports["b"].Inject(f)
	if !contains(tf.barrier("b", macB, 1, false, "c"), f) {
		t.Error("frame to a moved MAC did not follow it to its new port")
	}
	if s := tf.f.Stats(); s.FDB.Moved != 1 {
		t.Errorf("moved = %d, want 1", s.FDB.Moved)
	}
}

func TestStaticEntries(t *testing.T) {
	tf := newTestFabric(t, fabric.Config{})
	// Configured before its port exists, as --static allows.
	if err := tf.f.AddStatic(fabric.Static{MAC: mac(macD), Port: "router"}, true); err != nil {
		t.Fatal(err)
	}
	tf.attach(fabric.PortConfig{Name: "a"})
	tf.attach(fabric.PortConfig{Name: "router"})
	f := eth(macD, macA, 60)
	tf.ports["a"].Inject(f)
	if !contains(tf.barrier("a", macA, 1, false, "router"), f) {
		t.Error("frame to a static MAC did not reach its port")
	}
	// A static entry never moves.
	tf.barrier("a", macD, 1, false, "router")
	for _, e := range tf.f.Entries() {
		if e.MAC == mac(macD) && (e.Port != "router" || !e.Static) {
			t.Errorf("static entry moved: %+v", e)
		}
	}
	if err := tf.f.AddStatic(fabric.Static{MAC: mac(macC), Port: "nope"}, false); err == nil {
		t.Error("static entry for a missing port accepted at run time")
	}
	if err := tf.f.AddStatic(fabric.Static{MAC: mac("01:00:5e:00:00:01"), Port: "a"}, false); err == nil {
		t.Error("multicast static entry accepted")
	}
	if err := tf.f.DeleteEntry(1, mac(macD)); err != nil {
		t.Fatal(err)
	}
	if err := tf.f.DeleteEntry(1, mac(macD)); err == nil {
		t.Error("deleting a missing entry succeeded")
	}
}

func TestStaticEntryNeverLeaksAcrossVLANs(t *testing.T) {
	tf := newTestFabric(t, fabric.Config{})
	// The entry says D lives on "other" in VLAN 20, but "other" is an
	// access port of VLAN 10: it must not be installed.
	if err := tf.f.AddStatic(fabric.Static{VLAN: 20, MAC: mac(macD), Port: "other"}, true); err != nil {
		t.Fatal(err)
	}
	tf.attach(fabric.PortConfig{Name: "a20", VLAN: 20})
	tf.attach(fabric.PortConfig{Name: "b20", VLAN: 20})
	tf.attach(fabric.PortConfig{Name: "other", VLAN: 10})
	for _, e := range tf.f.Entries() {
		if e.Static {
			t.Errorf("static entry installed on a port outside its VLAN: %+v", e)
		}
	}
	f := eth(macD, macA, 60)
	tf.ports["a20"].Inject(f)
	tf.barrier("a20", macA, 20, false, "b20")
	if contains(tf.ports["other"].Written(), f) {
		t.Error("VLAN 20 frame leaked to a VLAN 10 port through a static entry")
	}
	if err := tf.f.AddStatic(fabric.Static{VLAN: 20, MAC: mac(macD), Port: "other"}, false); err == nil {
		t.Error("run-time static entry on a port outside its VLAN accepted")
	}
}

func TestSlowPortDoesNotStallOthers(t *testing.T) {
	tf := newTestFabric(t, fabric.Config{})
	tf.attach(fabric.PortConfig{Name: "a"})
	tf.attach(fabric.PortConfig{Name: "b"})
	slow := tf.attach(fabric.PortConfig{Name: "slow", TxQueueLen: 16})
	slow.Block()
	defer slow.Unblock()
	const n = 200
	for i := 0; i < n; i++ {
		f := eth("ff:ff:ff:ff:ff:ff", macA, 60)
		binary.BigEndian.PutUint32(f[14:], uint32(i))
		tf.ports["a"].Inject(f)
	}
	if _, err := tf.ports["b"].WaitWritten(n, wait); err != nil {
		t.Fatalf("b starved by a blocked port: %v", err)
	}
	tf.barrier("a", macA, 1, false, "b")
	c := tf.counters("slow")
	if c.TxQueueFull == 0 {
		t.Errorf("blocked port counted no tx_queue_full drops: %+v", c)
	}
}

// busyPortTraffic sends n known-unicast frames from a to a port that
// keeps sending but more slowly than they come (a queue of 8, 200 µs per
// write of up to 8), and returns the busy port's frames and counters.
func busyPortTraffic(t *testing.T, flow fabric.FlowControl, n int) ([][]byte, fabric.Counters) {
	tf := newTestFabric(t, fabric.Config{FlowControl: flow})
	a := tf.attach(fabric.PortConfig{Name: "a"})
	busy := tf.attach(fabric.PortConfig{Name: "busy", TxQueueLen: 8})
	tf.attach(fabric.PortConfig{Name: "c"})
	busy.Inject(eth(macA, macB, 60)) // learn macB on busy
	tf.barrier("busy", macB, 1, false, "a")
	busy.Pace(200 * time.Microsecond)
	for i := 0; i < n; i++ {
		f := eth(macB, macA, 60)
		binary.BigEndian.PutUint32(f[14:], uint32(i))
		a.Inject(f)
	}
	// Once the marker reaches c, every frame before it was queued for
	// busy or dropped; then wait for busy to send what was queued (the
	// marker too, or its drop).
	tf.barrier("a", macA, 1, false, "c")
	deadline := time.Now().Add(wait)
	c := tf.counters("busy")
	for c.TxFrames+c.TxQueueFull < uint64(n)+1 {
		if time.Now().After(deadline) {
			t.Fatalf("busy port neither sent nor dropped all %d frames: %+v", n+1, c)
		}
		time.Sleep(time.Millisecond)
		c = tf.counters("busy")
	}
	var got [][]byte
	for _, f := range busy.Written() {
		if frames.Frame(f).EtherType() != markerType {
			got = append(got, f)
		}
	}
	return got, c
}

func TestBusyPortPushesBackInsteadOfDropping(t *testing.T) {
	const n = 400
	// Generous bounds: this test is about waiting while the port makes
	// progress, not about how fast a loaded machine schedules it.
	got, c := busyPortTraffic(t, fabric.FlowControl{MaxHold: time.Second, StallAfter: time.Second}, n)
	if len(got) != n || c.TxQueueFull != 0 {
		t.Fatalf("busy port got %d of %d frames, %d dropped as tx_queue_full; want all, none dropped", len(got), n, c.TxQueueFull)
	}
	for i, f := range got {
		if seq := binary.BigEndian.Uint32(f[14:]); seq != uint32(i) {
			t.Fatalf("frame %d carries sequence %d: reordered", i, seq)
		}
	}
	if c.TxWaits == 0 {
		t.Errorf("no tx_waits counted on the busy port: %+v", c)
	}
}

func TestFlowControlDisabledDropsAtOnce(t *testing.T) {
	const n = 400
	got, c := busyPortTraffic(t, fabric.FlowControl{NoWait: true}, n)
	if c.TxQueueFull == 0 || len(got)+int(c.TxQueueFull) < n {
		t.Fatalf("busy port got %d of %d frames and counted %d tx_queue_full drops; want drops accounting for the rest", len(got), n, c.TxQueueFull)
	}
	if c.TxWaits != 0 {
		t.Errorf("tx_waits = %d with flow control off", c.TxWaits)
	}
}

func TestPeerGoneDetachesPortAndFlushesEntries(t *testing.T) {
	tf := threePorts(t)
	tf.ports["c"].FailWrites(fmt.Errorf("send: %w", fabric.ErrPeerGone))
	tf.ports["a"].Inject(eth("ff:ff:ff:ff:ff:ff", macA, 60))
	deadline := time.Now().Add(wait)
	for {
		gone := true
		for _, p := range tf.f.Ports() {
			if p.Name == "c" {
				gone = false
			}
		}
		if gone {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("port whose peer is gone was not detached")
		}
		time.Sleep(time.Millisecond)
	}
	if !tf.ports["c"].Closed() {
		t.Error("detached port was not closed")
	}
	for _, e := range tf.f.Entries() {
		if e.Port == "c" {
			t.Errorf("entry of detached port left behind: %+v", e)
		}
	}
	// The rest keep forwarding.
	f := eth(macB, macA, 60)
	tf.ports["a"].Inject(f)
	if !contains(tf.barrier("a", macA, 1, false, "b"), f) {
		t.Error("fabric stopped forwarding after a port went away")
	}
}

func TestLinkDownDropsAndFlushesLinkUpResumes(t *testing.T) {
	tf := threePorts(t)
	tf.ports["c"].SetLink(false, "interface deleted")
	eventually := func(what string, cond func() bool) {
		t.Helper()
		deadline := time.Now().Add(wait)
		for !cond() {
			if time.Now().After(deadline) {
				t.Fatalf("timed out waiting for %s", what)
			}
			time.Sleep(time.Millisecond)
		}
	}
	state := func() string {
		for _, p := range tf.f.Ports() {
			if p.Name == "c" {
				return p.State
			}
		}
		return "gone"
	}
	eventually("c down", func() bool { return state() == "down (interface deleted)" })
	for _, e := range tf.f.Entries() {
		if e.Port == "c" {
			t.Errorf("entry of a down port kept: %+v", e)
		}
	}
	// Frames for c are dropped and counted while it is down; the others
	// keep forwarding.
	before := len(tf.ports["c"].Written())
	f := eth("ff:ff:ff:ff:ff:ff", macA, 60)
	tf.ports["a"].Inject(f)
	if !contains(tf.barrier("a", macA, 1, false, "b"), f) {
		t.Error("b stopped receiving while c was down")
	}
	if got := len(tf.ports["c"].Written()); got != before {
		t.Errorf("a down port was sent %d frames", got-before)
	}
	if c := tf.counters("c"); c.LinkDown == 0 {
		t.Errorf("drop_link_down = 0 after flooding to a down port")
	}
	tf.ports["c"].SetLink(true, "interface back")
	eventually("c up", func() bool { return state() == "up" })
	// The marker reaching c proves it receives again (barrier fails the
	// test otherwise).
	tf.barrier("a", macA, 1, false, "c")
}

func TestDetachAndReattach(t *testing.T) {
	tf := threePorts(t)
	if err := tf.f.Detach("b"); err != nil {
		t.Fatal(err)
	}
	if !tf.ports["b"].Closed() {
		t.Error("detached port not closed")
	}
	for _, e := range tf.f.Entries() {
		if e.Port == "b" {
			t.Errorf("entry of detached port left behind: %+v", e)
		}
	}
	if err := tf.f.Detach("b"); err == nil {
		t.Error("detaching a missing port succeeded")
	}
	tf.attach(fabric.PortConfig{Name: "b"})
	f := eth(macB, macA, 60) // B is unknown again: flooded
	tf.ports["a"].Inject(f)
	if !contains(tf.barrier("a", macA, 1, false, "b"), f) {
		t.Error("reattached port does not receive")
	}
	if err := tf.f.Attach(fabrictest.New(1), fabric.PortConfig{Name: "b"}); err == nil {
		t.Error("two ports with one name")
	}
}

func TestAttachValidates(t *testing.T) {
	tf := newTestFabric(t, fabric.Config{})
	for _, cfg := range []fabric.PortConfig{
		{},
		{Name: "x", VLAN: 4095},
		{Name: "x", MTU: 20},
		{Name: "x", MTU: 70000},
		{Name: "x", Trunk: []uint16{0}},
		{Name: "x", MAC: mac("01:00:00:00:00:01")},
	} {
		if err := tf.f.Attach(fabrictest.New(1), cfg); err == nil {
			t.Errorf("Attach(%+v) succeeded", cfg)
		}
	}
}

func TestAgingExpiresEntries(t *testing.T) {
	now := time.Unix(1e9, 0)
	clock := func() time.Time { return now }
	tf := newTestFabric(t, fabric.Config{FDB: fdb.Config{Aging: 10 * time.Second, Clock: clock}})
	tf.attach(fabric.PortConfig{Name: "a"})
	tf.attach(fabric.PortConfig{Name: "b"})
	tf.barrier("a", macA, 1, false, "b")
	if len(tf.f.Entries()) == 0 {
		t.Fatal("nothing learned")
	}
	now = now.Add(11 * time.Second)
	if n := tf.f.Expire(); n != 1 {
		t.Errorf("expired %d entries, want 1", n)
	}
}

func TestShutdownClosesPorts(t *testing.T) {
	f, err := fabric.New(fabric.Config{})
	if err != nil {
		t.Fatal(err)
	}
	p := fabrictest.New(4)
	if err := f.Attach(p, fabric.PortConfig{Name: "a"}); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := f.Run(ctx); err != nil {
		t.Fatal(err)
	}
	if !p.Closed() {
		t.Error("port still open after Run returned")
	}
	if err := f.Attach(fabrictest.New(1), fabric.PortConfig{Name: "b"}); !errors.Is(err, fabric.ErrClosed) {
		t.Errorf("Attach after stop = %v, want ErrClosed", err)
	}
}
