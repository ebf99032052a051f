package control_test

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"slices"
	"testing"
	"time"

	"github.com/l2fabric/l2fabric/fabric"
	"github.com/l2fabric/l2fabric/fabric/control"
	"github.com/l2fabric/l2fabric/fabric/fabrictest"
)

func broadcast(src byte, n int) []byte {
	f := make([]byte, 14+n)
	copy(f, []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 2, 0, 0, 0, 0, src, 0x08, 0x00})
	return f
}

func TestCaptureStream(t *testing.T) {
	f, path := serve(t)
	a, b := fabrictest.New(8), fabrictest.New(8)
	if err := f.Attach(a, fabric.PortConfig{Name: "a"}); err != nil {
		t.Fatal(err)
	}
	c, err := control.Dial(path)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	s, err := c.Stream("capture", control.CaptureArgs{Count: 4})
	if err != nil {
		t.Fatal(err)
	}
	// b attaches after the capture started: it is included.
	if err := f.Attach(b, fabric.PortConfig{Name: "b"}); err != nil {
		t.Fatal(err)
	}
	fa, fb := broadcast(1, 50), broadcast(2, 60)
	a.Inject(fa)
	if _, err := b.WaitWritten(1, 5*time.Second); err != nil {
		t.Fatal(err)
	}
	b.Inject(fb)
	rr := control.NewRecordReader(s)
	ports := map[uint16]string{}
	var got []string
	var rec control.Record
	for {
		if err := rr.Read(&rec); err != nil {
			t.Fatalf("after %v: %v", got, err)
		}
		if rec.Type == control.RecordPort {
			ports[rec.PortID] = rec.Port
		}
		if rec.Type == control.RecordFrame {
			want := fa
			if len(rec.Frame) == len(fb) {
				want = fb
			}
			if !bytes.Equal(rec.Frame, want) || time.Since(rec.Time) > time.Minute {
				t.Errorf("frame record %x at %v", rec.Frame, rec.Time)
			}
			got = append(got, ports[rec.PortID]+" "+rec.Dir.String())
		}
		if rec.Type == control.RecordEnd {
			break
		}
	}
	// b's reader may publish fb before b's writer has published fa.
	slices.Sort(got)
	want := []string{"a in", "a out", "b in", "b out"}
	if !slices.Equal(got, want) {
		t.Errorf("captured %v, want %v", got, want)
	}
	if rec.Captured != 4 || rec.Dropped != 0 {
		t.Errorf("end record: %d captured, %d dropped; want 4, 0", rec.Captured, rec.Dropped)
	}
	if err := rr.Read(&rec); !errors.Is(err, io.EOF) {
		t.Errorf("after the end record: %v, want EOF", err)
	}
}

func TestMonitorStream(t *testing.T) {
	f, path := serve(t)
	c, err := control.Dial(path)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	s, err := c.Stream("monitor", nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Attach(fabrictest.New(8), fabric.PortConfig{Name: "a"}); err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(s)
	if !sc.Scan() {
		t.Fatal(sc.Err())
	}
	var ev fabric.Event
	if err := json.Unmarshal(sc.Bytes(), &ev); err != nil || ev.Type != fabric.EventPortAttached || ev.Port != "a" {
		t.Fatalf("%s: %+v %v", sc.Bytes(), ev, err)
	}
	if err := s.Stop(5 * time.Second); err != nil {
		t.Fatal(err)
	}
	for sc.Scan() {
	}
	if sc.Err() != nil {
		t.Errorf("stopping: %v", sc.Err())
	}
}

// A MAC flood learns far more addresses than a monitor's buffer holds:
// the monitor is told of every one, as an event or in a suppressed count.
func TestMonitorAccountsForEveryEventOfAFlood(t *testing.T) {
	f, path := serve(t)
	a, b := fabrictest.New(64), fabrictest.New(64)
	for name, p := range map[string]*fabrictest.Port{"a": a, "b": b} {
		if err := f.Attach(p, fabric.PortConfig{Name: name}); err != nil {
			t.Fatal(err)
		}
	}
	c, err := control.Dial(path)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	s, err := c.Stream("monitor", nil)
	if err != nil {
		t.Fatal(err)
	}
	const n = 20000 // more than the table's 8192: evictions too
	for i := 0; i < n; i++ {
		fr := broadcast(0, 46)
		fr[8], fr[9], fr[10], fr[11] = byte(i>>24), byte(i>>16), byte(i>>8), byte(i)
		a.Inject(fr)
	}
	deadline := time.Now().Add(10 * time.Second)
	for f.Stats().FDB.Learned < n && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	st := f.Stats().FDB
	if st.Learned != n {
		t.Fatalf("learned %d of %d", st.Learned, n)
	}
	if err := s.Stop(5 * time.Second); err != nil {
		t.Fatal(err)
	}
	counts := map[fabric.EventType]int{}
	sc := bufio.NewScanner(s)
	for sc.Scan() {
		var ev fabric.Event
		if err := json.Unmarshal(sc.Bytes(), &ev); err != nil {
			t.Fatalf("%s: %v", sc.Bytes(), err)
		}
		if ev.Type == fabric.EventSuppressed {
			counts[ev.Type] += ev.Count
		} else {
			counts[ev.Type]++
		}
	}
	if sc.Err() != nil {
		t.Fatal(sc.Err())
	}
	t.Logf("events: %v", counts)
	got := counts[fabric.EventLearned] + counts[fabric.EventEvicted] + counts[fabric.EventSuppressed]
	if want := int(st.Learned + st.Evicted); got != want {
		t.Errorf("events %v account for %d learned and evicted entries, want %d", counts, got, want)
	}
}

func TestStreamBadArgs(t *testing.T) {
	_, path := serve(t)
	c, err := control.Dial(path)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.Stream("capture", map[string]any{"vlan": 5000}); err == nil {
		t.Error("vlan 5000 accepted")
	}
	c2, _ := control.Dial(path)
	defer c2.Close()
	if _, err := c2.Stream("capture", map[string]any{"port": "x"}); err == nil {
		t.Error("unknown key accepted")
	}
}

func TestRecordReaderRefusesGarbage(t *testing.T) {
	for _, in := range [][]byte{
		{0, 0, 0, 0},
		{0xff, 0xff, 0xff, 0xff},
		{0, 0, 0, 1, 'X'},
		{0, 0, 0, 2, 'F', 0},
		{0, 0, 0, 3, 'S', 0, 0},
		{0, 0, 0, 9, 'F'},
	} {
		var rec control.Record
		if err := control.NewRecordReader(bytes.NewReader(in)).Read(&rec); err == nil {
			t.Errorf("%x read as %+v", in, rec)
		}
	}
}
