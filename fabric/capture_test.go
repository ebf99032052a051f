package fabric_test

import (
	"bytes"
	"testing"
	"time"

	"github.com/l2fabric/l2fabric/fabric"
)

// captured reads n records from c, failing the test after wait.
func captured(t *testing.T, c *fabric.Capture, n int) []fabric.CapturedFrame {
	t.Helper()
	var out []fabric.CapturedFrame
	timeout := time.After(wait)
	for len(out) < n {
		select {
		case r := <-c.Frames():
			cp := *r
			cp.Data = bytes.Clone(r.Data)
			out = append(out, cp)
			c.Release(r)
		case <-timeout:
			t.Fatalf("captured %d frames, want %d", len(out), n)
		}
	}
	return out
}

// noMore checks that c holds no further record.
func noMore(t *testing.T, c *fabric.Capture) {
	t.Helper()
	select {
	case r := <-c.Frames():
		t.Fatalf("unexpected capture record: %s %s %x", r.Port, r.Dir, r.Data)
	default:
	}
}

func TestCaptureInboundAndOutboundWithTags(t *testing.T) {
	tf := newTestFabric(t, fabric.Config{})
	tf.attach(fabric.PortConfig{Name: "acc", VLAN: 10})
	tf.attach(fabric.PortConfig{Name: "trunk", Trunk: []uint16{10}})
	c, err := tf.f.StartCapture(fabric.CaptureFilter{})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	f := eth("ff:ff:ff:ff:ff:ff", "02:00:00:00:00:01", 50)
	tf.ports["acc"].Inject(f)
	if _, err := tf.ports["trunk"].WaitWritten(1, wait); err != nil {
		t.Fatal(err)
	}
	got := captured(t, c, 2)
	in, out := got[0], got[1]
	if in.Port != "acc" || in.Dir != fabric.Inbound || !bytes.Equal(in.Data, f) {
		t.Errorf("inbound record: %s %s %x, want acc in %x", in.Port, in.Dir, in.Data, f)
	}
	// The trunk sends VLAN 10 tagged: the capture shows the tag.
	if want := tagged(f, 10); out.Port != "trunk" || out.Dir != fabric.Outbound || !bytes.Equal(out.Data, want) {
		t.Errorf("outbound record: %s %s %x, want trunk out %x", out.Port, out.Dir, out.Data, want)
	}
	if in.Time.IsZero() || out.Time.Before(in.Time) {
		t.Errorf("times: in %v, out %v", in.Time, out.Time)
	}
	if c.Copied() != 2 || c.Dropped() != 0 {
		t.Errorf("copied %d dropped %d, want 2 and 0", c.Copied(), c.Dropped())
	}
}

func TestCaptureFiltersByPortAndVLAN(t *testing.T) {
	tf := newTestFabric(t, fabric.Config{})
	tf.attach(fabric.PortConfig{Name: "t1", Trunk: []uint16{10, 20}})
	tf.attach(fabric.PortConfig{Name: "t2", Trunk: []uint16{10, 20}})
	byPort, err := tf.f.StartCapture(fabric.CaptureFilter{Ports: []string{"t2", "later"}})
	if err != nil {
		t.Fatal(err)
	}
	defer byPort.Close()
	byVLAN, err := tf.f.StartCapture(fabric.CaptureFilter{VLAN: 20})
	if err != nil {
		t.Fatal(err)
	}
	defer byVLAN.Close()

	f10 := tagged(eth("ff:ff:ff:ff:ff:ff", "02:00:00:00:00:01", 50), 10)
	f20 := tagged(eth("ff:ff:ff:ff:ff:ff", "02:00:00:00:00:01", 50), 20)
	tf.ports["t1"].Inject(f10, f20)
	if _, err := tf.ports["t2"].WaitWritten(2, wait); err != nil {
		t.Fatal(err)
	}
	// The port filter sees t2's two outbound frames, not t1's inbound.
	for _, r := range captured(t, byPort, 2) {
		if r.Port != "t2" || r.Dir != fabric.Outbound {
			t.Errorf("port filter let through %s %s", r.Port, r.Dir)
		}
	}
	// The VLAN filter sees VLAN 20 in and out, not VLAN 10.
	for _, r := range captured(t, byVLAN, 2) {
		if !bytes.Equal(r.Data, f20) {
			t.Errorf("VLAN filter let through %s %s %x", r.Port, r.Dir, r.Data)
		}
	}

	// A port attached while the capture runs is included when named.
	tf.attach(fabric.PortConfig{Name: "later", Trunk: []uint16{10, 20}})
	tf.ports["t1"].Inject(f20)
	if _, err := tf.ports["later"].WaitWritten(1, wait); err != nil {
		t.Fatal(err)
	}
	if _, err := tf.ports["t2"].WaitWritten(3, wait); err != nil {
		t.Fatal(err)
	}
	got := captured(t, byPort, 2)
	ports := map[string]bool{got[0].Port: true, got[1].Port: true}
	if !ports["later"] || !ports["t2"] {
		t.Errorf("after attaching later, captured %s and %s", got[0].Port, got[1].Port)
	}
	noMore(t, byPort)
}

func TestCaptureSlowReaderLosesFramesNotForwarding(t *testing.T) {
	tf := newTestFabric(t, fabric.Config{})
	tf.attach(fabric.PortConfig{Name: "a"})
	tf.attach(fabric.PortConfig{Name: "b"})
	c, err := tf.f.StartCapture(fabric.CaptureFilter{Ports: []string{"a"}, Buffer: 4})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	const n = 20
	for i := 0; i < n; i++ {
		tf.ports["a"].Inject(eth("ff:ff:ff:ff:ff:ff", "02:00:00:00:00:01", 50+i))
	}
	// Nobody reads the capture: forwarding carries on regardless.
	if _, err := tf.ports["b"].WaitWritten(n, wait); err != nil {
		t.Fatal(err)
	}
	if c.Copied() != 4 || c.Dropped() != n-4 {
		t.Errorf("copied %d, dropped %d; want 4 and %d", c.Copied(), c.Dropped(), n-4)
	}
	got := captured(t, c, 4)
	for i, r := range got {
		if len(r.Data) != 14+50+i {
			t.Errorf("record %d is %d bytes, want the first frames in order", i, len(r.Data))
		}
	}
}

func TestCaptureClosedStopsCopying(t *testing.T) {
	tf := newTestFabric(t, fabric.Config{})
	tf.attach(fabric.PortConfig{Name: "a"})
	tf.attach(fabric.PortConfig{Name: "b"})
	c, err := tf.f.StartCapture(fabric.CaptureFilter{})
	if err != nil {
		t.Fatal(err)
	}
	c.Close()
	tf.ports["a"].Inject(eth("ff:ff:ff:ff:ff:ff", "02:00:00:00:00:01", 50))
	if _, err := tf.ports["b"].WaitWritten(1, wait); err != nil {
		t.Fatal(err)
	}
	if c.Copied() != 0 {
		t.Errorf("a closed capture copied %d frames", c.Copied())
	}
	if _, err := tf.f.StartCapture(fabric.CaptureFilter{Buffer: fabric.MaxCaptureBuffer + 1}); err == nil {
		t.Error("a buffer beyond MaxCaptureBuffer was accepted")
	}
}
