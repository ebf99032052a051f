package fabric_test

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/l2fabric/l2fabric/fabric"
)

// loopBound is the time within which a loop must be broken; asserted
// generously (the fabric probes every 500 ms), as a correctness bound.
const loopBound = 2 * time.Second

// state returns the state of the port called name.
func (tf *testFabric) state(name string) string {
	tf.t.Helper()
	for _, p := range tf.f.Ports() {
		if p.Name == name {
			return p.State
		}
	}
	tf.t.Fatalf("no port %s", name)
	return ""
}

// waitState waits up to within for the port's state to satisfy ok.
func (tf *testFabric) waitState(name string, within time.Duration, what string, ok func(string) bool) {
	tf.t.Helper()
	deadline := time.Now().Add(within)
	for {
		s := tf.state(name)
		if ok(s) {
			return
		}
		if time.Now().After(deadline) {
			tf.t.Fatalf("port %s: state %q, want %s within %v", name, s, what, within)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func isBlockedWith(peer string) func(string) bool {
	return func(s string) bool { return s == "blocked (loop with "+peer+")" }
}

func isUp(s string) bool { return s == "up" }

// checkBooks asserts that every frame read is accounted for.
func (tf *testFabric) checkBooks() {
	tf.t.Helper()
	s := tf.f.Stats()
	if u := s.Unaccounted(); u != 0 {
		tf.t.Errorf("books do not balance: %d frames read unaccounted for; stats %+v", u, s)
	}
}

// TestLoopProbesBlockOnePortAndUnblockWhenGone: two ports with probes
// cabled to each other (one LAN reached twice) loop a broadcast for ever;
// the fabric blocks the one attached last within the bound, the VM port
// keeps its path through the other, and once the cable is pulled the
// blocked port is unblocked after the hold-down.
func TestLoopProbesBlockOnePortAndUnblockWhenGone(t *testing.T) {
	tf := newTestFabric(t, fabric.Config{})
	fabric.SetLoopHoldDown(tf.f, 300*time.Millisecond)
	vm := tf.attach(fabric.PortConfig{Name: "vm"})
	a := tf.attach(fabric.PortConfig{Name: "a", LoopProbes: true})
	b := tf.attach(fabric.PortConfig{Name: "b", LoopProbes: true})
	a.Cable(b)
	b.Cable(a)
	start := time.Now()
	vm.Inject(eth("ff:ff:ff:ff:ff:ff", macA, 46))
	tf.waitState("b", loopBound, "blocked", isBlockedWith("a"))
	t.Logf("loop broken after %v", time.Since(start).Round(time.Millisecond))
	if s := tf.state("a"); s != "up" {
		t.Errorf("port a: %q, want up", s)
	}
	// The VM still reaches the LAN through a, and hears from it.
	tf.barrier("vm", macA, 1, false, "a")
	a.Inject(eth(macA, macB, 46))
	if _, err := vm.WaitWritten(1, wait); err != nil {
		t.Fatalf("vm heard nothing from the LAN through a: %v", err)
	}
	// What b reads is dropped as loop, and nothing is forwarded to it.
	b.Cable()
	a.Cable()
	before := tf.counters("b")
	b.Inject(eth("ff:ff:ff:ff:ff:ff", macC, 46))
	tf.barrier("vm", macA, 1, false, "a")
	// The loop is gone: probes no longer return, b is unblocked.
	tf.waitState("b", loopBound+time.Second, "up again", isUp)
	after := tf.counters("b")
	if after.Loop <= before.Loop && after.RxFrames > before.RxFrames {
		// The injected frame may have been read after unblocking.
		t.Logf("b's frame was read after it was unblocked")
	}
	if after.TxLoop == 0 {
		t.Errorf("b counted no drop_tx_loop while blocked: %+v", after)
	}
	tf.checkBooks()
}

// TestUnblockByRequest: Unblock opens a blocked port at once; a loop
// still there blocks it again.
func TestUnblockByRequest(t *testing.T) {
	tf := newTestFabric(t, fabric.Config{})
	sub := tf.f.Subscribe(0)
	defer sub.Close()
	a := tf.attach(fabric.PortConfig{Name: "a", LoopProbes: true})
	b := tf.attach(fabric.PortConfig{Name: "b", LoopProbes: true})
	a.Cable(b)
	b.Cable(a)
	tf.waitState("b", loopBound, "blocked", isBlockedWith("a"))
	// The probes are ECTP (0x9000) loopback replies, broadcast, from a
	// locally administered unicast source.
	var probe []byte
	for _, f := range a.Written() {
		if len(f) >= 14 && f[12] == 0x90 && f[13] == 0x00 {
			probe = f
			break
		}
	}
	switch {
	case probe == nil:
		t.Error("no probe was written to a")
	case len(probe) != 60 || !bytes.Equal(probe[:6], []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}) ||
		probe[6]&3 != 2 || probe[16] != 1 || probe[17] != 0:
		t.Errorf("probe % x: want 60 bytes, broadcast, from a local unicast MAC, ECTP function 1 (reply)", probe)
	}
	if c := tf.counters("a"); c.ProbesTx == 0 {
		t.Errorf("a counted no probes sent: %+v", c)
	}
	if err := tf.f.Unblock("a"); err == nil || !strings.Contains(err.Error(), "not blocked") {
		t.Errorf("Unblock(a), not blocked: %v, want an error saying so", err)
	}
	if err := tf.f.Unblock("nope"); err == nil {
		t.Error("Unblock of a missing port succeeded")
	}
	if err := tf.f.Unblock("b"); err != nil {
		t.Fatal(err)
	}
	// Blocking and unblocking are events, naming the peer.
	var seen []string
	for len(seen) < 2 {
		select {
		case ev := <-sub.Events():
			if ev.Type == fabric.EventPortBlocked || ev.Type == fabric.EventPortUnblocked {
				seen = append(seen, string(ev.Type)+" "+ev.Port+": "+ev.Reason)
			}
		case <-time.After(wait):
			t.Fatalf("events: %q, want port_blocked and port_unblocked", seen)
		}
	}
	if !strings.HasPrefix(seen[0], "port_blocked b: loop with a, detected by") || !strings.HasPrefix(seen[1], "port_unblocked b: loop with a gone: unblocked by request") {
		t.Errorf("events: %q", seen)
	}
	if s := tf.state("b"); s != "up" {
		t.Errorf("after Unblock: %q, want up", s)
	}
	tf.waitState("b", loopBound, "blocked again", isBlockedWith("a"))
}

// TestLoopPriorityAndOff: the lower loop= priority is blocked, whatever
// the attach order; a loop=off port is never blocked, and sends no probes.
func TestLoopPriorityAndOff(t *testing.T) {
	for _, tc := range []struct {
		name    string
		a, b    fabric.PortConfig
		blocked string
	}{
		{"priority", fabric.PortConfig{Name: "a", LoopProbes: true, LoopPriority: 10}, fabric.PortConfig{Name: "b", LoopProbes: true, LoopPriority: 200}, "a"},
		{"off", fabric.PortConfig{Name: "a", LoopProbes: true}, fabric.PortConfig{Name: "b", LoopProbes: true, NoLoopDetect: true}, "a"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tf := newTestFabric(t, fabric.Config{})
			a := tf.attach(tc.a)
			b := tf.attach(tc.b)
			a.Cable(b)
			b.Cable(a)
			open := "b"
			if tc.blocked == "b" {
				open = "a"
			}
			tf.waitState(tc.blocked, loopBound, "blocked", isBlockedWith(open))
			if s := tf.state(open); s != "up" {
				t.Errorf("%s: %q, want up", open, s)
			}
			if tc.b.NoLoopDetect && tf.counters("b").ProbesTx != 0 {
				t.Errorf("loop=off port b sent probes")
			}
		})
	}
}

// TestMACFlappingBlocks: ports without probes (VM NICs bridged by a
// guest) are blocked when the same MAC moves back and forth between them.
func TestMACFlappingBlocks(t *testing.T) {
	tf := newTestFabric(t, fabric.Config{})
	a := tf.attach(fabric.PortConfig{Name: "a"})
	b := tf.attach(fabric.PortConfig{Name: "b"})
	tf.attach(fabric.PortConfig{Name: "c"})
	for i := 0; i < 20 && !strings.HasPrefix(tf.state("b"), "blocked"); i++ {
		a.Inject(eth("ff:ff:ff:ff:ff:ff", macA, 46))
		tf.waitEntry(macA, "a")
		b.Inject(eth("ff:ff:ff:ff:ff:ff", macA, 46))
		tf.waitEntry(macA, "b")
	}
	if s := tf.state("b"); s != "blocked (loop with a)" {
		t.Fatalf("b: %q after macA flapped between a and b, want blocked (loop with a)", s)
	}
	tf.checkBooks()
}

// TestLoopDetectOff: with loop protection off nothing is probed or
// blocked.
func TestLoopDetectOff(t *testing.T) {
	tf := newTestFabric(t, fabric.Config{NoLoopDetect: true})
	a := tf.attach(fabric.PortConfig{Name: "a", LoopProbes: true})
	b := tf.attach(fabric.PortConfig{Name: "b", LoopProbes: true})
	tf.attach(fabric.PortConfig{Name: "c"})
	for i := 0; i < 20; i++ {
		a.Inject(eth("ff:ff:ff:ff:ff:ff", macA, 46))
		tf.waitEntry(macA, "a")
		b.Inject(eth("ff:ff:ff:ff:ff:ff", macA, 46))
		tf.waitEntry(macA, "b")
	}
	for _, p := range tf.f.Ports() {
		if p.State != "up" || p.Counters.ProbesTx != 0 || p.Loop != "off" {
			t.Errorf("port %s: state %q, %d probes sent, loop %q; want up, 0, off", p.Name, p.State, p.Counters.ProbesTx, p.Loop)
		}
	}
}

// TestStormControl: broadcast beyond storm= is dropped and counted as
// storm; known unicast from the same port is never limited.
func TestStormControl(t *testing.T) {
	tf := newTestFabric(t, fabric.Config{})
	a := tf.attach(fabric.PortConfig{Name: "a", Storm: 10})
	tf.attach(fabric.PortConfig{Name: "b"})
	tf.barrier("b", macB, 1, false, "a") // learn macB
	const n = 500
	for i := 0; i < n; i++ {
		a.Inject(eth("ff:ff:ff:ff:ff:ff", macA, 46))
	}
	for i := 0; i < n; i++ {
		a.Inject(eth(macB, macA, 46))
	}
	// A unicast marker, never limited, orders what b received.
	m := eth(macB, macA, 46)
	m[12], m[13] = markerType>>8, markerType&0xff
	a.Inject(m)
	deadline := time.Now().Add(wait)
	got := tf.ports["b"].Written()
	for !containsMarker(got) {
		if time.Now().After(deadline) {
			t.Fatal("the unicast marker never reached b")
		}
		time.Sleep(time.Millisecond)
		got = tf.ports["b"].Written()
	}
	c := tf.counters("a")
	var bc, uc int
	for _, f := range got {
		switch {
		case f[0] == 0xff:
			bc++
		case f[12] != markerType>>8 || f[13] != markerType&0xff:
			uc++
		}
	}
	if uc != n {
		t.Errorf("known unicast: %d of %d reached b, want all", uc, n)
	}
	// The burst (8 frames for 10/s), and what refilled while the test
	// ran (10 a second).
	if bc < 8 || uint64(bc)+c.Storm != n {
		t.Errorf("broadcast: %d of %d reached b, %d counted as storm; want the burst of 8 or a few more through, the rest storm", bc, n, c.Storm)
	}
	tf.checkBooks()
}

// TestBooksBalanceAcrossDetach: the fabric's totals keep a detached
// port's counters, and what it read is accounted for.
func TestBooksBalanceAcrossDetach(t *testing.T) {
	tf := threePorts(t)
	for i := 0; i < 100; i++ {
		tf.ports["c"].Inject(eth("ff:ff:ff:ff:ff:ff", macC, 46), eth(macA, macC, 46), []byte{1, 2, 3})
	}
	tf.barrier("c", macC, 1, false, "a")
	before := tf.f.Stats().Totals.RxFrames
	if err := tf.f.Detach("c"); err != nil {
		t.Fatal(err)
	}
	s := tf.f.Stats()
	if s.Totals.RxFrames != before || s.Detached != 1 || s.Totals.Runt != 100 {
		t.Errorf("after detaching c: totals rx %d (before %d), %d detached, %d runts; want them kept", s.Totals.RxFrames, before, s.Detached, s.Totals.Runt)
	}
	tf.checkBooks()
}

// containsMarker reports whether a frame of fs has the marker EtherType.
func containsMarker(fs [][]byte) bool {
	for _, f := range fs {
		if f[12] == markerType>>8 && f[13] == markerType&0xff {
			return true
		}
	}
	return false
}

// waitEntry waits until the fabric has learned mac on port.
func (tf *testFabric) waitEntry(m, port string) {
	tf.t.Helper()
	deadline := time.Now().Add(wait)
	for {
		for _, e := range tf.f.Entries() {
			if e.MAC.String() == m && e.Port == port {
				return
			}
		}
		if strings.HasPrefix(tf.state(port), "blocked") {
			return // a blocked port learns nothing
		}
		if time.Now().After(deadline) {
			tf.t.Fatalf("%s never learned on %s: %v", m, port, tf.f.Entries())
		}
		time.Sleep(time.Millisecond)
	}
}
