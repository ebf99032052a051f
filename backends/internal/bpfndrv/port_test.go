package bpfndrv

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"golang.org/x/net/bpf"

	"github.com/l2fabric/l2fabric/backends/internal/linkwatch"
	"github.com/l2fabric/l2fabric/fabric"
	"github.com/l2fabric/l2fabric/frames"
)

// fakeDevice is a device whose reads come from a channel and whose
// writes are recorded.
type fakeDevice struct {
	blen     int
	reads    chan []byte // each one BPF read
	readErrs chan error
	done     chan struct{}
	once     sync.Once
	prog0    []bpf.RawInstruction // the filter it was opened with

	mu      sync.Mutex
	written [][]byte
	filters [][]bpf.RawInstruction
	writeFn func([]byte) error
	drops   uint32
}

func newFakeDevice(prog []bpf.RawInstruction) *fakeDevice {
	return &fakeDevice{blen: 64 << 10, reads: make(chan []byte, 16), readErrs: make(chan error, 4), done: make(chan struct{}), prog0: prog}
}

func (d *fakeDevice) bufLen() int { return d.blen }

func (d *fakeDevice) read(buf []byte) (int, error) {
	if len(buf) != d.blen {
		return 0, fmt.Errorf("read of %d bytes, want %d", len(buf), d.blen)
	}
	select {
	case <-d.done:
		return 0, errClosed
	default:
	}
	select {
	case b := <-d.reads:
		return copy(buf, b), nil
	case err := <-d.readErrs:
		return 0, err
	case <-d.done:
		return 0, errClosed
	}
}

func (d *fakeDevice) write(f []byte) error {
	select {
	case <-d.done:
		return errClosed
	default:
	}
	d.mu.Lock()
	fn := d.writeFn
	d.mu.Unlock()
	if fn != nil {
		if err := fn(f); err != nil {
			return err
		}
	}
	d.mu.Lock()
	d.written = append(d.written, slices.Clone(f))
	d.mu.Unlock()
	return nil
}

func (d *fakeDevice) setFilter(prog []bpf.RawInstruction) error {
	if err := validateProgram(prog); err != nil {
		return err
	}
	d.mu.Lock()
	d.filters = append(d.filters, prog)
	d.mu.Unlock()
	return nil
}

func (d *fakeDevice) kernelDrops() (uint32, error) {
	select {
	case <-d.done:
		return 0, errClosed
	default:
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.drops, nil
}

func (d *fakeDevice) close() error {
	d.once.Do(func() { close(d.done) })
	return nil
}

func (d *fakeDevice) isClosed() bool {
	select {
	case <-d.done:
		return true
	default:
		return false
	}
}

func (d *fakeDevice) setDrops(n uint32) {
	d.mu.Lock()
	d.drops = n
	d.mu.Unlock()
}

// filter returns the filter the device has now.
func (d *fakeDevice) filter() []bpf.RawInstruction {
	d.mu.Lock()
	defer d.mu.Unlock()
	if n := len(d.filters); n > 0 {
		return d.filters[n-1]
	}
	return d.prog0
}

// fakeSystem is a system whose devices are fakeDevices and whose
// interfaces are a linkwatch.Feed the tests change.
type fakeSystem struct {
	feed *linkwatch.Feed

	mu      sync.Mutex
	openErr error
	devs    []*fakeDevice
}

func (s *fakeSystem) links() (linkwatch.Source, error) { return s.feed, nil }

func (s *fakeSystem) open(_ string, _ Config, prog []bpf.RawInstruction) (device, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.openErr != nil {
		return nil, s.openErr
	}
	d := newFakeDevice(prog)
	s.devs = append(s.devs, d)
	return d, nil
}

func (s *fakeSystem) setOpenErr(err error) {
	s.mu.Lock()
	s.openErr = err
	s.mu.Unlock()
}

func (s *fakeSystem) dev(i int) *fakeDevice {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.devs[i]
}

func (s *fakeSystem) opened() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.devs)
}

// waitOpened waits until n devices were opened.
func (s *fakeSystem) waitOpened(t *testing.T, n int) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for s.opened() < n {
		if time.Now().After(deadline) {
			t.Fatalf("%d devices opened, want %d", s.opened(), n)
		}
		time.Sleep(time.Millisecond)
	}
}

// en7 is the interface the tests' ports are on.
func en7(index int, up, running bool) linkwatch.Link {
	return linkwatch.Link{Index: index, Name: "en7", Up: up, Running: running}
}

// testTiming keeps waits short.
var testTiming = timing{sendTimeout: 20 * time.Millisecond, sendBackoff: 50 * time.Microsecond}

// logBuf is a goroutine-safe log sink.
type logBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuf) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuf) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func newTestPort(t *testing.T, tm timing) (*Port, *fakeSystem, *logBuf) {
	t.Helper()
	sys := &fakeSystem{feed: linkwatch.NewFeed(en7(7, true, true))}
	logs := &logBuf{}
	p, err := newPort("en7", Config{Promisc: true, Logger: hclog.New(&hclog.LoggerOptions{Output: logs})}, sys, tm)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	return p, sys, logs
}

func makeBufs(n, size int) ([][]byte, []int) {
	bufs := make([][]byte, n)
	for i := range bufs {
		bufs[i] = make([]byte, size)
	}
	return bufs, make([]int, n)
}

func nextEvent(t *testing.T, p *Port) fabric.LinkEvent {
	t.Helper()
	select {
	case ev := <-p.LinkEvents():
		return ev
	case <-time.After(5 * time.Second):
		t.Fatal("no link event")
		return fabric.LinkEvent{}
	}
}

func noEvent(t *testing.T, p *Port) {
	t.Helper()
	select {
	case ev := <-p.LinkEvents():
		t.Fatalf("unexpected link event %+v", ev)
	default:
	}
}

func TestPortReadsBatchesAcrossCalls(t *testing.T) {
	p, sys, _ := newTestPort(t, testTiming)
	var buf []byte
	var want [][]byte
	for i := range 100 {
		f := frame(60+i%7, byte(i))
		want = append(want, f)
		buf = appendRecord(buf, 18, f, len(f))
	}
	sys.dev(0).reads <- buf
	bufs, sizes := makeBufs(64, 1600)
	var got [][]byte
	for len(got) < 100 {
		n, err := p.Read(bufs, sizes)
		if err != nil {
			t.Fatal(err)
		}
		if len(got) == 0 && n != 64 {
			t.Errorf("first Read returned %d frames, want a full batch of 64", n)
		}
		for i := range n {
			got = append(got, slices.Clone(bufs[i][:sizes[i]]))
		}
	}
	for i := range want {
		if !bytes.Equal(got[i], want[i]) {
			t.Fatalf("frame %d differs", i)
		}
	}
	if p.BatchSize() != batchSize {
		t.Errorf("BatchSize = %d", p.BatchSize())
	}
}

func TestPortReadOversizeTruncatedMalformed(t *testing.T) {
	p, sys, _ := newTestPort(t, testTiming)
	buf := appendRecord(nil, 18, frame(60, 1), 60)
	buf = appendRecord(buf, 18, frame(2000, 2), 2000)                  // longer than the caller's buffers
	buf = appendRecord(buf, 18, frame(100, 3), 5000)                   // cut short by the kernel
	buf = appendRecord(buf, 18, nil, 60)                               // nothing captured
	buf = appendRecord(buf, 18, frame(61, 4), 61)                      // fine
	buf = append(buf, appendRecord(nil, 18, frame(80, 5), 80)[:40]...) // malformed tail
	sys.dev(0).reads <- buf
	bufs, sizes := makeBufs(8, 1518)
	n, err := p.Read(bufs, sizes)
	if err != nil {
		t.Fatal(err)
	}
	if n != 3 {
		t.Fatalf("Read returned %d frames, want 3", n)
	}
	if sizes[0] != 60 || sizes[1] != 1519 || sizes[2] != 61 {
		t.Errorf("sizes %v, want 60, 1519 (oversize), 61", sizes[:3])
	}
	if !bytes.Equal(bufs[2][:61], frame(61, 4)) {
		t.Error("frame after the drops differs")
	}
	if d := p.RxDropped(); d != 3 {
		t.Errorf("RxDropped = %d, want 3 (truncated, empty, malformed)", d)
	}
}

func TestPortReadBlocksAndCloseUnblocks(t *testing.T) {
	p, _, _ := newTestPort(t, testTiming)
	errc := make(chan error, 1)
	go func() {
		bufs, sizes := makeBufs(4, 1518)
		_, err := p.Read(bufs, sizes)
		errc <- err
	}()
	select {
	case err := <-errc:
		t.Fatalf("Read returned %v with nothing to read", err)
	case <-time.After(50 * time.Millisecond):
	}
	start := time.Now()
	p.Close()
	select {
	case err := <-errc:
		if !errors.Is(err, net.ErrClosed) {
			t.Errorf("Read after Close: %v, want net.ErrClosed", err)
		}
		if d := time.Since(start); d > time.Second {
			t.Errorf("Read took %v to return after Close", d)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Close did not unblock Read")
	}
	if _, ok := <-p.LinkEvents(); ok {
		t.Error("link events not closed")
	}
	if err := p.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	bufs, sizes := makeBufs(1, 100)
	if _, err := p.Read(bufs, sizes); !errors.Is(err, net.ErrClosed) {
		t.Errorf("Read on a closed port: %v", err)
	}
	if _, err := p.Write([][]byte{frame(60, 0)}); !errors.Is(err, fabric.ErrLinkDown) {
		t.Errorf("Write on a closed port: %v", err)
	}
}

func TestPortWrite(t *testing.T) {
	// A bounded wait long enough that five short back-offs fit in it on a
	// loaded machine under the race detector: the test is about which
	// frames are sent, not about speed.
	tm := timing{sendTimeout: time.Second, sendBackoff: 50 * time.Microsecond}
	p, sys, _ := newTestPort(t, tm)
	d := sys.dev(0)
	frs := [][]byte{frame(60, 1), frame(61, 2), frame(62, 3)}
	if n, err := p.Write(frs); n != 3 || err != nil {
		t.Fatalf("Write = %d, %v", n, err)
	}

	// A full queue for a moment: retried, all sent.
	var fails atomic.Int32
	fails.Store(5)
	d.mu.Lock()
	d.writeFn = func([]byte) error {
		if fails.Add(-1) >= 0 {
			return fmt.Errorf("%w: ENOBUFS", errAgain)
		}
		return nil
	}
	d.mu.Unlock()
	if n, err := p.Write(frs); n != 3 || err != nil {
		t.Fatalf("Write with a briefly full queue = %d, %v", n, err)
	}

	// A queue that stays full: ErrTxFull after the bounded wait.
	d.mu.Lock()
	d.writeFn = func(f []byte) error {
		if f[0] == 2 {
			return fmt.Errorf("%w: ENOBUFS", errAgain)
		}
		return nil
	}
	d.mu.Unlock()
	start := time.Now()
	n, err := p.Write(frs)
	if n != 1 || !errors.Is(err, fabric.ErrTxFull) {
		t.Fatalf("Write with a full queue = %d, %v, want 1, ErrTxFull", n, err)
	}
	if el := time.Since(start); el < tm.sendTimeout {
		t.Errorf("gave up after %v, before the bounded wait of %v", el, tm.sendTimeout)
	}

	// Another error: counted for that frame.
	d.mu.Lock()
	d.writeFn = func(f []byte) error {
		if f[0] == 3 {
			return errors.New("message too long")
		}
		return nil
	}
	d.mu.Unlock()
	if n, err := p.Write(frs); n != 2 || err == nil || errors.Is(err, fabric.ErrTxFull) || errors.Is(err, fabric.ErrLinkDown) {
		t.Fatalf("Write with a bad frame = %d, %v", n, err)
	}

	// Interface down: link down, the device stays.
	d.mu.Lock()
	d.writeFn = func([]byte) error { return fmt.Errorf("%w: ENETDOWN", errDown) }
	d.mu.Unlock()
	if n, err := p.Write(frs); n != 0 || !errors.Is(err, fabric.ErrLinkDown) {
		t.Fatalf("Write on a down interface = %d, %v", n, err)
	}
	if p.sup.Current() == nil || d.isClosed() {
		t.Error("a down interface closed the device")
	}

	// Interface gone: link down, the device is dead.
	d.mu.Lock()
	d.writeFn = func([]byte) error { return fmt.Errorf("%w: EPIPE", errGone) }
	d.mu.Unlock()
	if n, err := p.Write(frs); n != 0 || !errors.Is(err, fabric.ErrLinkDown) {
		t.Fatalf("Write on a gone interface = %d, %v", n, err)
	}
	sys.waitOpened(t, 2) // the dead device is replaced
}

func TestPortSetRemoteMACs(t *testing.T) {
	p, sys, _ := newTestPort(t, testTiming)
	d := sys.dev(0)
	a := frames.MAC{0x02, 0, 0, 0, 0, 1}
	b := frames.MAC{0x02, 0, 0, 0, 0, 2}
	if empty, _ := FilterProgram(nil); !slices.Equal(d.prog0, empty) {
		t.Error("the device was not opened with the broadcast/multicast-only filter")
	}
	p.SetRemoteMACs([]frames.MAC{a, b})
	if len(d.filters) != 1 {
		t.Fatalf("%d filters applied, want 1", len(d.filters))
	}
	v := vm(t, d.filter())
	if !admits(t, v, a) || !admits(t, v, b) || admits(t, v, frames.MAC{0x02, 0, 0, 0, 0, 3}) {
		t.Error("the applied filter does not admit exactly the set")
	}
	p.SetRemoteMACs([]frames.MAC{b, a})
	if len(d.filters) != 1 {
		t.Error("the same set was applied again")
	}
	p.SetRemoteMACs([]frames.MAC{a})
	if len(d.filters) != 2 || admits(t, vm(t, d.filter()), b) {
		t.Error("a changed set was not applied")
	}
}

func TestPortTooManyMACsLogsOnce(t *testing.T) {
	p, sys, logs := newTestPort(t, testTiming)
	prefixless := func(n int, salt byte) []frames.MAC {
		var out []frames.MAC
		for i := range n {
			out = append(out, frames.MAC{0x02, byte(i), salt, 0, byte(i >> 8), byte(i)})
		}
		return out
	}
	p.SetRemoteMACs(prefixless(250, 1))
	p.SetRemoteMACs(prefixless(251, 1))
	if n := strings.Count(logs.String(), "too many MACs"); n != 1 {
		t.Errorf("warned %d times, want once:\n%s", n, logs.String())
	}
	if v := vm(t, sys.dev(0).filter()); !admits(t, v, frames.MAC{0x02, 0xaa, 0xbb, 0xcc, 0xdd, 0xee}) {
		t.Error("the fallback filter does not admit everything")
	}
	p.SetRemoteMACs(prefixless(3, 1))
	if !strings.Contains(logs.String(), "exactly") {
		t.Error("no note that the filter is exact again")
	}
}

// TestPortInterfaceGoneAndBack deletes the interface and creates it again
// with a new index, then with the same index (xnu recycles them): the link
// goes down and comes back, a new device is opened with the current
// filter, and reading carries on from it.
func TestPortInterfaceGoneAndBack(t *testing.T) {
	p, sys, _ := newTestPort(t, testTiming)
	old := sys.dev(0)
	mac := frames.MAC{0x02, 0, 0, 0, 0, 0x42}
	p.SetRemoteMACs([]frames.MAC{mac})

	readc := make(chan []byte, 1)
	go func() {
		bufs, sizes := makeBufs(4, 1518)
		n, err := p.Read(bufs, sizes)
		if err != nil || n < 1 {
			readc <- nil
			return
		}
		readc <- slices.Clone(bufs[0][:sizes[0]])
	}()

	sys.feed.Delete(7)
	if ev := nextEvent(t, p); ev.Up || ev.Reason != "interface en7 deleted" {
		t.Errorf("event %+v, want down: interface en7 deleted", ev)
	}
	if !old.isClosed() {
		t.Error("the old device is still open")
	}
	if _, err := p.Write([][]byte{frame(60, 1)}); !errors.Is(err, fabric.ErrLinkDown) {
		t.Errorf("Write while gone: %v", err)
	}

	sys.feed.Set(en7(9, true, true))
	if ev := nextEvent(t, p); !ev.Up || ev.Reason != "interface en7 back" {
		t.Errorf("event %+v, want up: interface en7 back", ev)
	}
	if sys.opened() != 2 {
		t.Fatalf("%d devices opened, want 2", sys.opened())
	}
	nd := sys.dev(1)
	if v := vm(t, nd.filter()); !admits(t, v, mac) {
		t.Error("the new device does not have the current filter")
	}
	f := frame(70, 9)
	nd.reads <- appendRecord(nil, 18, f, len(f))
	select {
	case got := <-readc:
		if !bytes.Equal(got, f) {
			t.Error("Read did not carry on from the new device")
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Read stuck after the interface came back")
	}
	if n, err := p.Write([][]byte{f}); n != 1 || err != nil {
		t.Errorf("Write after the interface came back: %d, %v", n, err)
	}

	// Destroyed and re-created with the same index before the port
	// looked: still down then up, and a new device.
	sys.feed.Delete(9)
	sys.feed.Set(en7(9, true, true))
	if ev := nextEvent(t, p); ev.Up {
		t.Errorf("event %+v, want down", ev)
	}
	if ev := nextEvent(t, p); !ev.Up {
		t.Errorf("event %+v, want up", ev)
	}
	if sys.opened() != 3 || !nd.isClosed() {
		t.Errorf("%d devices opened, the previous one closed: %v", sys.opened(), nd.isClosed())
	}
}

// TestPortDeadDeviceReopened: a read that fails because the interface was
// detached marks the device dead, and the supervisor reopens it even
// though the interface looks the same.
func TestPortDeadDeviceReopened(t *testing.T) {
	p, sys, _ := newTestPort(t, testTiming)
	readc := make(chan error, 1)
	go func() {
		bufs, sizes := makeBufs(4, 1518)
		_, err := p.Read(bufs, sizes)
		readc <- err
	}()
	sys.dev(0).readErrs <- fmt.Errorf("%w: ENXIO", errGone)
	sys.waitOpened(t, 2)
	noEvent(t, p)
	if !sys.dev(0).isClosed() {
		t.Fatal("the dead device is still open")
	}
	f := frame(64, 3)
	sys.dev(1).reads <- appendRecord(nil, 18, f, len(f))
	select {
	case err := <-readc:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Read stuck on the dead device")
	}
}

func TestPortReopenFails(t *testing.T) {
	p, sys, logs := newTestPort(t, testTiming)
	sys.setOpenErr(fmt.Errorf("%w: opening /dev/bpf0: permission denied", ErrNeedRoot))
	sys.feed.Set(en7(8, true, true)) // re-created: a new index
	if ev := nextEvent(t, p); ev.Up || ev.Reason != "interface en7 deleted" {
		t.Errorf("event %+v, want down: the old interface deleted", ev)
	}
	ev := nextEvent(t, p)
	if ev.Up || !strings.Contains(ev.Reason, "cannot reopen") {
		t.Errorf("event %+v, want down: cannot reopen", ev)
	}
	if !sys.dev(0).isClosed() {
		t.Error("the device on the old interface is still open")
	}
	time.Sleep(200 * time.Millisecond) // a few retries fail
	if n := strings.Count(logs.String(), "cannot reopen"); n != 1 {
		t.Errorf("logged %d times, want once", n)
	}
	sys.setOpenErr(nil)
	if ev := nextEvent(t, p); !ev.Up || ev.Reason != "interface en7 back" {
		t.Errorf("event %+v, want up: interface en7 back", ev)
	}
}

func TestPortDownAndUp(t *testing.T) {
	p, sys, _ := newTestPort(t, testTiming)
	sys.feed.Set(en7(7, false, false))
	if ev := nextEvent(t, p); ev.Up || ev.Reason != "interface en7 set down" {
		t.Errorf("event %+v", ev)
	}
	sys.feed.Set(en7(7, true, false))
	if ev := nextEvent(t, p); ev.Up || ev.Reason != "interface en7 has no carrier" {
		t.Errorf("event %+v", ev)
	}
	if sys.opened() != 1 || sys.dev(0).isClosed() {
		t.Error("a down interface closed or reopened the device")
	}
	sys.feed.Set(en7(7, true, true))
	if ev := nextEvent(t, p); !ev.Up || ev.Reason != "interface en7 up" {
		t.Errorf("event %+v", ev)
	}
}

func TestPortRxDroppedAddsKernelDrops(t *testing.T) {
	p, sys, _ := newTestPort(t, testTiming)
	sys.dev(0).setDrops(5)
	if d := p.RxDropped(); d != 5 {
		t.Errorf("RxDropped = %d, want 5", d)
	}
	sys.dev(0).setDrops(7)
	sys.feed.Set(en7(8, true, true)) // re-created: a new device
	sys.waitOpened(t, 2)
	nextEvent(t, p) // down, then up: the device is in place
	nextEvent(t, p)
	sys.dev(1).setDrops(3)
	if d := p.RxDropped(); d != 10 {
		t.Errorf("RxDropped = %d, want 7 from the old device + 3", d)
	}
	// bs_drop is 32 bits wide: a wrap is a small step, not a huge one.
	sys.dev(1).setDrops(0xfffffff0)
	p.RxDropped()
	sys.dev(1).setDrops(0x10)
	if d := p.RxDropped(); d != 10+0xfffffff0-3+0x20 {
		t.Errorf("RxDropped = %#x after a wrap", d)
	}
}

// TestPortFilterChangedWhileReopening: a SetRemoteMACs between opening a
// new device and putting it in place still reaches the new device.
func TestPortFilterChangedWhileReopening(t *testing.T) {
	p, sys, _ := newTestPort(t, testTiming)
	if _, _, err := p.openHandle(en7(8, true, true)); err != nil {
		t.Fatal(err)
	}
	mac := frames.MAC{0x02, 1, 2, 3, 4, 5}
	p.SetRemoteMACs([]frames.MAC{mac}) // reaches the device in place
	p.refilter(linkwatch.Link{}, nil)  // what the supervisor does once the new one is
	if v := vm(t, sys.dev(1).filter()); !admits(t, v, mac) {
		t.Error("the new device kept the filter it was opened with")
	}
}

// TestPortCloseWithEventsUnread closes the port while link events are
// unread: every device is closed.
func TestPortCloseWithEventsUnread(t *testing.T) {
	p, sys, _ := newTestPort(t, testTiming)
	sys.feed.Delete(7)
	sys.feed.Set(en7(3, true, true))
	sys.waitOpened(t, 2)
	sys.feed.Delete(3)
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	for i := range sys.opened() {
		if !sys.dev(i).isClosed() {
			t.Errorf("device %d left open", i)
		}
	}
}

// TestPortConcurrent runs Read, Write, SetRemoteMACs, RxDropped and the
// monitor together, then Close, for the race detector.
func TestPortConcurrent(t *testing.T) {
	p, sys, _ := newTestPort(t, testTiming)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(4)
	go func() { // reader
		defer wg.Done()
		bufs, sizes := makeBufs(8, 1518)
		for {
			if _, err := p.Read(bufs, sizes); err != nil {
				return
			}
		}
	}()
	go func() { // writer
		defer wg.Done()
		for {
			select {
			case <-stop:
				return
			default:
			}
			p.Write([][]byte{frame(60, 1)})
		}
	}()
	go func() { // the fabric's address updates and counters
		defer wg.Done()
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			p.SetRemoteMACs([]frames.MAC{{0x02, 0, 0, 0, 0, byte(i)}})
			p.RxDropped()
		}
	}()
	go func() { // events
		defer wg.Done()
		for range p.LinkEvents() {
		}
	}()
	for i := range 50 {
		if i%3 == 0 {
			sys.feed.Delete(i/2 + 1)
		} else {
			sys.feed.Set(en7(i/2+1, true, true))
		}
		if n := sys.opened(); n > 0 {
			select {
			case sys.dev(n - 1).reads <- appendRecord(nil, 18, frame(60, byte(i)), 60):
			default:
			}
		}
		time.Sleep(time.Millisecond)
	}
	close(stop)
	p.Close()
	wg.Wait()
}

func TestNewPortErrors(t *testing.T) {
	sys := &fakeSystem{feed: linkwatch.NewFeed()}
	if _, err := newPort("en9", Config{}, sys, testTiming); err == nil || !strings.Contains(err.Error(), "no interface") {
		t.Errorf("missing interface: %v", err)
	}
	sys.feed.Set(linkwatch.Link{Index: 1, Name: "en9"})
	sys.setOpenErr(fmt.Errorf("%w: socket(PF_NDRV): operation not permitted", ErrNeedRoot))
	if _, err := newPort("en9", Config{}, sys, testTiming); !errors.Is(err, ErrNeedRoot) {
		t.Errorf("open failure: %v", err)
	}
	if _, err := newPort("a-name-far-too-long", Config{}, sys, testTiming); err == nil {
		t.Error("a long name was accepted")
	}
	if _, err := newPort("en9", Config{BufferSize: -1}, sys, testTiming); err == nil {
		t.Error("a negative buffer size was accepted")
	}
}

func TestPortReadErrors(t *testing.T) {
	p, sys, _ := newTestPort(t, testTiming)
	d := sys.dev(0)
	d.readErrs <- fmt.Errorf("%w: ENETDOWN", errDown)
	f := frame(60, 1)
	d.reads <- appendRecord(nil, 18, f, len(f))
	bufs, sizes := makeBufs(2, 1518)
	if n, err := p.Read(bufs, sizes); n != 1 || err != nil {
		t.Fatalf("Read after a down interface = %d, %v", n, err)
	}
	d.readErrs <- errors.New("EINVAL")
	if _, err := p.Read(bufs, sizes); err == nil || !strings.Contains(err.Error(), "receiving on en7") {
		t.Errorf("Read with an unknown error: %v", err)
	}
	if n, err := p.Read(nil, nil); n != 0 || err != nil {
		t.Errorf("Read of no buffers = %d, %v", n, err)
	}
}

// TestPortWriteFollowsReplacement: a Write that meets a device the
// monitor replaced under it carries on with the new one.
func TestPortWriteFollowsReplacement(t *testing.T) {
	p, sys, _ := newTestPort(t, testTiming)
	od := sys.dev(0)
	od.mu.Lock()
	od.writeFn = func([]byte) error {
		// The interface re-created under the write: the supervisor
		// replaces the device (and closes this one) before it returns.
		sys.feed.Set(en7(8, true, true))
		deadline := time.Now().Add(5 * time.Second)
		for sys.opened() < 2 || p.sup.Current() == nil || p.sup.Current().dev == od {
			if time.Now().After(deadline) {
				return errors.New("not replaced")
			}
			time.Sleep(time.Millisecond)
		}
		return errClosed
	}
	od.mu.Unlock()
	if n, err := p.Write([][]byte{frame(60, 1), frame(60, 2)}); n != 2 || err != nil {
		t.Fatalf("Write = %d, %v", n, err)
	}
	nd := sys.dev(1)
	nd.mu.Lock()
	got := len(nd.written)
	nd.mu.Unlock()
	if got != 2 {
		t.Errorf("the new device sent %d frames, want 2", got)
	}
}
