package main

import (
	"bufio"
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/gopacket/gopacket/pcapgo"

	"github.com/l2fabric/l2fabric/fabric"
	"github.com/l2fabric/l2fabric/fabric/control"
)

// recordedStream is a capture stream already received whole.
type recordedStream struct{ *bytes.Reader }

func (s recordedStream) Buffered() int            { return 0 }
func (s recordedStream) Stop(time.Duration) error { return nil }
func newRecorded(b []byte) recordedStream         { return recordedStream{bytes.NewReader(b)} }
func frameOf(src byte, n int) []byte {
	return append([]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 2, 0, 0, 0, 0, src, 0x08, 0x06}, make([]byte, n)...)
}
func tcpdumpTime(sec, nsec int64) time.Time { return time.Unix(sec, nsec) }
func recordsOf(t *testing.T, w func(*control.RecordWriter)) []byte {
	t.Helper()
	var b bytes.Buffer
	rw := control.NewRecordWriter(&b)
	w(rw)
	if err := rw.Flush(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func TestCaptureWritesPcapngWithPortsDirectionsAndNanoseconds(t *testing.T) {
	t1, t2 := tcpdumpTime(1_700_000_000, 123456789), tcpdumpTime(1_700_000_001, 987654321)
	fa, fb := frameOf(1, 28), frameOf(2, 46)
	stream := recordsOf(t, func(rw *control.RecordWriter) {
		rw.Port(0, "vms/a.sock")
		rw.Frame(0, fabric.Inbound, t1, fa)
		rw.Port(1, "uplink")
		rw.Frame(1, fabric.Outbound, t2, fb)
		rw.Counts(control.RecordStats, 2, 5)
		rw.Counts(control.RecordEnd, 2, 7)
	})
	var out bytes.Buffer
	captured, dropped, err := copyCapture(context.Background(), newRecorded(stream), &pcapngSink{out: &out})
	if err != nil || captured != 2 || dropped != 7 {
		t.Fatalf("copyCapture: %d captured, %d dropped, %v; want 2, 7 (the end record's), nil", captured, dropped, err)
	}
	r, err := pcapgo.NewNgReader(&out, pcapgo.DefaultNgReaderOptions)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []struct {
		frame []byte
		t     time.Time
		port  string
		dir   pcapgo.NgEpbFlag
	}{
		{fa, t1, "vms/a.sock", pcapgo.NgEpbFlagDirectionInbound},
		{fb, t2, "uplink", pcapgo.NgEpbFlagDirectionOutbound},
	} {
		data, ci, opts, err := r.ReadPacketDataWithOptions()
		if err != nil {
			t.Fatal(err)
		}
		intf, err := r.Interface(ci.InterfaceIndex)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(data, want.frame) || !ci.Timestamp.Equal(want.t) || intf.Name != want.port {
			t.Errorf("packet on %q at %v: %x; want %q at %v: %x", intf.Name, ci.Timestamp, data, want.port, want.t, want.frame)
		}
		if opts.Flags == nil || opts.Flags.Direction != want.dir {
			t.Errorf("packet on %q: flags %+v, want direction %v", intf.Name, opts.Flags, want.dir)
		}
	}
	if r.NInterfaces() != 2 {
		t.Errorf("%d interfaces, want one per port", r.NInterfaces())
	}
}

func TestCaptureOfNothingIsAValidPcapng(t *testing.T) {
	stream := recordsOf(t, func(rw *control.RecordWriter) { rw.Counts(control.RecordEnd, 0, 0) })
	var out bytes.Buffer
	if _, _, err := copyCapture(context.Background(), newRecorded(stream), &pcapngSink{out: &out}); err != nil {
		t.Fatal(err)
	}
	r, err := pcapgo.NewNgReader(&out, pcapgo.DefaultNgReaderOptions)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := r.ReadPacketData(); err == nil {
		t.Error("an empty capture has a packet")
	}
}

func TestCaptureTextLines(t *testing.T) {
	tagged := []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 2, 0, 0, 0, 0, 1, 0x81, 0x00, 0x00, 0x0a, 0x08, 0x06}
	tagged = append(tagged, make([]byte, 28)...)
	stream := recordsOf(t, func(rw *control.RecordWriter) {
		rw.Port(0, "trunk")
		rw.Frame(0, fabric.Inbound, time.Date(2026, 1, 2, 3, 4, 5, 6, time.Local), tagged)
		rw.Counts(control.RecordEnd, 1, 0)
	})
	var out bytes.Buffer
	if _, _, err := copyCapture(context.Background(), newRecorded(stream), &textSink{w: bufio.NewWriter(&out)}); err != nil {
		t.Fatal(err)
	}
	want := "03:04:05.000000006 trunk in  02:00:00:00:00:01 > ff:ff:ff:ff:ff:ff, vlan 10, ARP, 46 bytes\n"
	if out.String() != want {
		t.Errorf("got  %q\nwant %q", out.String(), want)
	}
}

func TestCaptureRefusesAStreamCutShort(t *testing.T) {
	stream := recordsOf(t, func(rw *control.RecordWriter) {
		rw.Port(0, "a")
		rw.Frame(0, fabric.Inbound, time.Now(), frameOf(1, 46))
	})
	var out bytes.Buffer
	_, _, err := copyCapture(context.Background(), newRecorded(stream[:len(stream)-3]), &textSink{w: bufio.NewWriter(&out)})
	if err == nil || !strings.Contains(err.Error(), "capture") {
		t.Errorf("a stream cut short: %v", err)
	}
}

func TestEventLines(t *testing.T) {
	at := time.Date(2026, 1, 2, 3, 4, 5, 6e6, time.Local)
	m := [6]byte{2, 0, 0, 0, 0, 1}
	for _, c := range []struct {
		ev   fabric.Event
		want string
	}{
		{fabric.Event{Time: at, Type: fabric.EventLearned, Port: "a", VLAN: 1, MAC: m}, "03:04:05.006 fdb learned 02:00:00:00:00:01 vlan 1 on a"},
		{fabric.Event{Time: at, Type: fabric.EventMoved, Port: "b", From: "a", VLAN: 1, MAC: m}, "03:04:05.006 fdb moved 02:00:00:00:00:01 vlan 1 from a to b"},
		{fabric.Event{Time: at, Type: fabric.EventPortDown, Port: "eth0", Reason: "carrier lost", Count: 3}, "03:04:05.006 port down eth0 count 3: carrier lost"},
		{fabric.Event{Time: at, Type: fabric.EventPortAttached, Port: "x/a.sock", Kind: "dgram"}, "03:04:05.006 port attached x/a.sock (dgram)"},
		{fabric.Event{Time: at, Type: fabric.EventSuppressed, Count: 812}, "03:04:05.006 events suppressed count 812"},
	} {
		if got := eventLine(c.ev); got != c.want {
			t.Errorf("got  %q\nwant %q", got, c.want)
		}
	}
}
