package linkwatch

import (
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/l2fabric/l2fabric/fabric"
)

// handle is a test handle: the index it was opened on, and whether it was
// closed.
type handle struct {
	index  int
	mu     sync.Mutex
	closed bool
}

func (h *handle) isClosed() bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.closed
}

// opener opens handles on the feed's interfaces, counting them.
type opener struct {
	feed *Feed
	mu   sync.Mutex
	all  []*handle
	fail error
}

func (o *opener) open(l Link) (*handle, Link, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.fail != nil {
		return nil, Link{}, o.fail
	}
	if l.Index == 0 {
		return nil, Link{}, fmt.Errorf("%w: %s", ErrNotFound, l.Name)
	}
	h := &handle{index: l.Index}
	o.all = append(o.all, h)
	return h, l, nil
}

func (o *opener) close(h *handle) {
	h.mu.Lock()
	h.closed = true
	h.mu.Unlock()
}

func (o *opener) opened() int {
	o.mu.Lock()
	defer o.mu.Unlock()
	return len(o.all)
}

func (o *opener) setFail(err error) {
	o.mu.Lock()
	o.fail = err
	o.mu.Unlock()
}

func newTestSupervisor(t *testing.T, feed *Feed, cfg Config[handle]) (*Supervisor[handle], *opener) {
	t.Helper()
	o := &opener{feed: feed}
	cfg.Source = feed
	if cfg.Name == "" {
		cfg.Name = "eth0"
	}
	cfg.Open, cfg.Close = o.open, o.close
	s, err := NewSupervisor(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	return s, o
}

func next(t *testing.T, s *Supervisor[handle]) fabric.LinkEvent {
	t.Helper()
	select {
	case ev := <-s.LinkEvents():
		return ev
	case <-time.After(5 * time.Second):
		t.Fatal("no link event")
		return fabric.LinkEvent{}
	}
}

func expect(t *testing.T, s *Supervisor[handle], up bool, reason string) {
	t.Helper()
	if ev := next(t, s); ev.Up != up || ev.Reason != reason {
		t.Fatalf("link event %+v, want up=%v %q", ev, up, reason)
	}
}

var eth0 = Link{Index: 2, Name: "eth0", Up: true, Running: true}

// TestSupervisorDeletedAndBack: the interface deleted and re-created
// with a new index, then with its index recycled (as xnu does): each time
// the link goes down and up, and the handle is closed and reopened.
func TestSupervisorDeletedAndBack(t *testing.T) {
	feed := NewFeed(eth0)
	s, o := newTestSupervisor(t, feed, Config[handle]{NeedCarrier: true})
	first := s.Current()
	if first == nil || first.index != 2 {
		t.Fatalf("first handle %+v", first)
	}
	_, changed := s.Handle()
	feed.Delete(2)
	expect(t, s, false, "interface eth0 deleted")
	<-changed
	if !first.isClosed() || s.Current() != nil {
		t.Error("the handle on the deleted interface is still open")
	}
	feed.Set(Link{Index: 5, Name: "eth0", Up: true, Running: true})
	expect(t, s, true, "interface eth0 back")
	if h := s.Current(); h == nil || h.index != 5 {
		t.Fatalf("handle %+v after the interface came back", h)
	}
	// Deleted and back with the same index, before the supervisor
	// looked: still down, then up.
	feed.Delete(5)
	feed.Set(Link{Index: 5, Name: "eth0", Up: true, Running: true})
	expect(t, s, false, "interface eth0 deleted")
	expect(t, s, true, "interface eth0 back")
	if o.opened() != 3 {
		t.Errorf("%d handles opened, want 3", o.opened())
	}
}

func TestSupervisorDownNoCarrierUp(t *testing.T) {
	feed := NewFeed(eth0)
	s, o := newTestSupervisor(t, feed, Config[handle]{NeedCarrier: true})
	feed.Set(Link{Index: 2, Name: "eth0"})
	expect(t, s, false, "interface eth0 set down")
	feed.Set(Link{Index: 2, Name: "eth0", Up: true})
	expect(t, s, false, "interface eth0 has no carrier")
	feed.Set(eth0)
	expect(t, s, true, "interface eth0 up")
	if o.opened() != 1 || s.Current().isClosed() {
		t.Error("a down interface reopened the handle")
	}
}

// TestSupervisorIgnoresCarrier: without NeedCarrier (a TAP), an
// interface without carrier is up.
func TestSupervisorIgnoresCarrier(t *testing.T) {
	feed := NewFeed(Link{Index: 2, Name: "tap0", Up: true})
	s, _ := newTestSupervisor(t, feed, Config[handle]{Name: "tap0"})
	feed.Set(Link{Index: 2, Name: "tap0"})
	expect(t, s, false, "interface tap0 set down")
	feed.Set(Link{Index: 2, Name: "tap0", Up: true})
	expect(t, s, true, "interface tap0 up")
}

func TestSupervisorCreate(t *testing.T) {
	feed := NewFeed()
	o := &opener{feed: feed}
	next := 10
	s, err := NewSupervisor(Config[handle]{
		Name: "tap0", Source: feed, Create: true, Close: o.close,
		Open: func(l Link) (*handle, Link, error) {
			if l.Index == 0 { // create it, as a TAP's open does
				l = Link{Index: next, Name: "tap0", Up: true}
				next++
				feed.Set(l)
			}
			return o.open(l)
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if h := s.Current(); h == nil || h.index != 10 {
		t.Fatalf("handle %+v", h)
	}
	feed.Delete(10)
	ev := <-s.LinkEvents()
	if ev.Up || ev.Reason != "interface tap0 deleted" {
		t.Errorf("event %+v", ev)
	}
	ev = <-s.LinkEvents()
	if !ev.Up || ev.Reason != "interface tap0 re-created" {
		t.Errorf("event %+v", ev)
	}
	if h := s.Current(); h == nil || h.index != 11 {
		t.Fatalf("handle %+v after re-creating", h)
	}
}

func TestSupervisorReopenFails(t *testing.T) {
	feed := NewFeed(eth0)
	s, o := newTestSupervisor(t, feed, Config[handle]{})
	o.setFail(errors.New("permission denied"))
	feed.Delete(2)
	expect(t, s, false, "interface eth0 deleted")
	feed.Set(Link{Index: 3, Name: "eth0", Up: true})
	expect(t, s, false, "cannot reopen eth0: permission denied")
	o.setFail(nil)
	feed.Set(Link{Index: 3, Name: "eth0", Up: true, Running: true})
	expect(t, s, true, "interface eth0 back")
}

// TestSupervisorDead: a handle its user found dead is replaced on the
// same interface, without a link event.
func TestSupervisorDead(t *testing.T) {
	feed := NewFeed(eth0)
	s, o := newTestSupervisor(t, feed, Config[handle]{})
	h, changed := s.Handle()
	s.Dead(h)
	select {
	case <-changed:
	case <-time.After(5 * time.Second):
		t.Fatal("the dead handle was not replaced")
	}
	// Wait for the new handle (changed closes once for the removal).
	deadline := time.Now().Add(5 * time.Second)
	for o.opened() < 2 || s.Current() == nil {
		if time.Now().After(deadline) {
			t.Fatal("no new handle")
		}
		time.Sleep(time.Millisecond)
	}
	if !h.isClosed() || s.Current() == h {
		t.Error("the dead handle is still in use")
	}
	select {
	case ev := <-s.LinkEvents():
		t.Errorf("link event %+v for a replaced handle", ev)
	default:
	}
	s.Dead(&handle{}) // not the current one: ignored
}

// TestSupervisorCheck: Check sees the other interfaces and decides.
func TestSupervisorCheck(t *testing.T) {
	feed := NewFeed(Link{Index: 2, Name: "tap0", Up: true}, Link{Index: 3, Name: "br0", Up: true})
	var joined atomic.Bool // Check runs on the supervisor's goroutine
	check := func(dev Link, lookup func(string) (Link, bool)) (string, error) {
		br, ok := lookup("br0")
		if !ok {
			return "", errors.New("bridge br0 deleted")
		}
		if dev.Master != br.Index {
			joined.Store(true)
			feed.Set(Link{Index: dev.Index, Name: dev.Name, Up: dev.Up, Master: br.Index})
			return "joined br0", nil
		}
		return "", nil
	}
	s, _ := newTestSupervisor(t, feed, Config[handle]{Name: "tap0", Also: []string{"br0"}, Check: check})
	if !joined.Load() {
		t.Error("Check did not run at once")
	}
	feed.Delete(3)
	expect(t, s, false, "bridge br0 deleted")
	feed.Set(Link{Index: 4, Name: "br0", Up: true})
	expect(t, s, true, "joined br0")
}

// TestSupervisorEventsLost: when the kernel drops events, what happened
// meanwhile is unknown: the handle is reopened, the link reported down
// and up.
func TestSupervisorEventsLost(t *testing.T) {
	feed := NewFeed(eth0)
	s, o := newTestSupervisor(t, feed, Config[handle]{})
	feed.FailSubscribe(errors.New("no buffer space"))
	feed.Drop()
	expect(t, s, false, "interface eth0 deleted")
	feed.FailSubscribe(nil)
	expect(t, s, true, "interface eth0 back")
	if o.opened() != 2 {
		t.Errorf("%d handles opened, want 2", o.opened())
	}
}

func TestSupervisorErrors(t *testing.T) {
	feed := NewFeed()
	o := &opener{feed: feed}
	_, err := NewSupervisor(Config[handle]{Name: "eth9", Source: feed, Open: o.open, Close: o.close})
	if !errors.Is(err, ErrNotFound) {
		t.Errorf("missing interface: %v", err)
	}
	feed.Set(eth0)
	o.setFail(errors.New("boom"))
	if _, err := NewSupervisor(Config[handle]{Name: "eth0", Source: feed, Open: o.open, Close: o.close}); err == nil {
		t.Error("an open failure was ignored")
	}
	o.setFail(nil)
	_, err = NewSupervisor(Config[handle]{Name: "eth0", Source: feed, Open: o.open, Close: o.close,
		Check: func(Link, func(string) (Link, bool)) (string, error) { return "", errors.New("no bridge") }})
	if err == nil || !o.all[len(o.all)-1].isClosed() {
		t.Errorf("a failing first Check: %v, the handle left open", err)
	}
}

func TestSupervisorClose(t *testing.T) {
	feed := NewFeed(eth0)
	s, _ := newTestSupervisor(t, feed, Config[handle]{})
	h, changed := s.Handle()
	s.Close()
	<-changed
	<-s.Done()
	if !h.isClosed() || s.Current() != nil {
		t.Error("Close left the handle open")
	}
	if _, ok := <-s.LinkEvents(); ok {
		t.Error("link events still open")
	}
	feed.Delete(2) // no one listens: nothing happens
	s.Close()
}
