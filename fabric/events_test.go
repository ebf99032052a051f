package fabric_test

import (
	"sync/atomic"
	"testing"
	"time"

	"github.com/l2fabric/l2fabric/fabric"
	"github.com/l2fabric/l2fabric/fdb"
)

// nextEvent returns the next event of s that is not of a type in skip.
func nextEvent(t *testing.T, s *fabric.Subscription, skip ...fabric.EventType) fabric.Event {
	t.Helper()
	timeout := time.After(wait)
	for {
		select {
		case ev := <-s.Events():
			skipped := false
			for _, k := range skip {
				skipped = skipped || ev.Type == k
			}
			if !skipped {
				return ev
			}
		case <-timeout:
			t.Fatal("no event")
		}
	}
}

func TestEventsOfLearningAndPorts(t *testing.T) {
	tf := newTestFabric(t, fabric.Config{})
	s := tf.f.Subscribe(0)
	defer s.Close()
	tf.attach(fabric.PortConfig{Name: "a"})
	tf.attach(fabric.PortConfig{Name: "b"})
	for _, want := range []string{"a", "b"} {
		if ev := nextEvent(t, s); ev.Type != fabric.EventPortAttached || ev.Port != want {
			t.Fatalf("event %+v, want port_attached %s", ev, want)
		}
	}
	m := "02:00:00:00:00:01"
	tf.ports["a"].Inject(eth("ff:ff:ff:ff:ff:ff", m, 50))
	if ev := nextEvent(t, s); ev.Type != fabric.EventLearned || ev.Port != "a" || ev.MAC != mac(m) || ev.VLAN != 1 {
		t.Fatalf("event %+v, want fdb_learned %s on a", ev, m)
	}
	tf.ports["b"].Inject(eth("ff:ff:ff:ff:ff:ff", m, 50))
	if ev := nextEvent(t, s); ev.Type != fabric.EventMoved || ev.Port != "b" || ev.From != "a" || ev.MAC != mac(m) {
		t.Fatalf("event %+v, want fdb_moved %s from a to b", ev, m)
	}
	// Seen again on the same port: a refresh, no event.
	tf.ports["b"].Inject(eth("ff:ff:ff:ff:ff:ff", m, 50))
	tf.barrier("b", m, 1, false, "a")

	if err := tf.f.AddStatic(fabric.Static{MAC: mac("02:00:00:00:00:09"), Port: "a"}, false); err != nil {
		t.Fatal(err)
	}
	if ev := nextEvent(t, s); ev.Type != fabric.EventStaticAdded || ev.Port != "a" {
		t.Fatalf("event %+v, want static_added on a", ev)
	}
	if err := tf.f.DeleteEntry(1, mac("02:00:00:00:00:09")); err != nil {
		t.Fatal(err)
	}
	if ev := nextEvent(t, s); ev.Type != fabric.EventStaticRemoved || ev.Port != "a" {
		t.Fatalf("event %+v, want static_removed on a", ev)
	}
	if _, err := tf.f.Flush("b"); err != nil {
		t.Fatal(err)
	}
	if ev := nextEvent(t, s); ev.Type != fabric.EventFlushed || ev.Port != "b" || ev.Count != 1 {
		t.Fatalf("event %+v, want fdb_flushed of b's 1 entry", ev)
	}
	tf.ports["a"].SetLink(false, "carrier lost")
	if ev := nextEvent(t, s); ev.Type != fabric.EventPortDown || ev.Port != "a" || ev.Reason != "carrier lost" {
		t.Fatalf("event %+v, want port_down a", ev)
	}
	tf.ports["a"].SetLink(true, "carrier back")
	if ev := nextEvent(t, s); ev.Type != fabric.EventPortUp || ev.Port != "a" {
		t.Fatalf("event %+v, want port_up a", ev)
	}
	if err := tf.f.Detach("b"); err != nil {
		t.Fatal(err)
	}
	if ev := nextEvent(t, s); ev.Type != fabric.EventPortDetached || ev.Port != "b" {
		t.Fatalf("event %+v, want port_detached b", ev)
	}
}

func TestEventsOfExpiryAndEviction(t *testing.T) {
	var now atomic.Int64 // the fake clock, in seconds
	now.Store(1000)
	clock := func() time.Time { return time.Unix(now.Load(), 0) }
	tf := newTestFabric(t, fabric.Config{FDB: fdb.Config{MaxEntries: 1, Aging: 10 * time.Second, Clock: clock}})
	tf.attach(fabric.PortConfig{Name: "a"})
	tf.attach(fabric.PortConfig{Name: "b"})
	s := tf.f.Subscribe(0)
	defer s.Close()
	tf.ports["a"].Inject(eth("ff:ff:ff:ff:ff:ff", "02:00:00:00:00:01", 50))
	if ev := nextEvent(t, s); ev.Type != fabric.EventLearned {
		t.Fatalf("event %+v, want fdb_learned", ev)
	}
	tf.ports["a"].Inject(eth("ff:ff:ff:ff:ff:ff", "02:00:00:00:00:02", 50))
	if ev := nextEvent(t, s); ev.Type != fabric.EventEvicted || ev.MAC != mac("02:00:00:00:00:01") || ev.Port != "a" {
		t.Fatalf("event %+v, want fdb_evicted of 02:00:00:00:00:01", ev)
	}
	if ev := nextEvent(t, s); ev.Type != fabric.EventLearned || ev.MAC != mac("02:00:00:00:00:02") {
		t.Fatalf("event %+v, want fdb_learned 02:00:00:00:00:02", ev)
	}
	tf.barrier("a", "02:00:00:00:00:02", 1, false, "b")
	now.Add(60) // Run's next aging pass expires the entry
	if ev := nextEvent(t, s); ev.Type != fabric.EventExpired || ev.MAC != mac("02:00:00:00:00:02") {
		t.Fatalf("event %+v, want fdb_expired of 02:00:00:00:00:02", ev)
	}
}

func TestEventsBehindSubscriberIsToldHowManyWereSuppressed(t *testing.T) {
	tf := newTestFabric(t, fabric.Config{})
	s := tf.f.Subscribe(2)
	defer s.Close()
	for _, n := range []string{"a", "b", "c", "d", "e"} {
		tf.attach(fabric.PortConfig{Name: n})
	}
	if got := s.TakeSuppressed(); got != 3 {
		t.Errorf("suppressed %d, want 3 (5 events, room for 2)", got)
	}
	if got := s.TakeSuppressed(); got != 0 {
		t.Errorf("suppressed %d after taking the count, want 0", got)
	}
	if ev := nextEvent(t, s); ev.Port != "a" {
		t.Errorf("first event %+v, want a's attach", ev)
	}
}
