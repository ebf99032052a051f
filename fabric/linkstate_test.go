package fabric

import "testing"

func TestLinkState(t *testing.T) {
	l := NewLinkState()
	if !l.Up() {
		t.Fatal("a new link is not up")
	}
	l.Set(true, "still up", false) // no change: nothing sent
	l.Set(false, "cable", false)
	l.Set(false, "bridge deleted", true)
	if ev := <-l.LinkEvents(); ev != (LinkEvent{Up: false, Reason: "cable"}) {
		t.Errorf("first event %+v", ev)
	}
	if ev := <-l.LinkEvents(); ev != (LinkEvent{Up: false, Reason: "bridge deleted"}) {
		t.Errorf("second event %+v", ev)
	}
	// Never blocks, and the latest state survives a full channel.
	for i := 0; i < 100; i++ {
		l.Set(i%2 == 0, "flap", false)
	}
	var last LinkEvent
	for len(l.LinkEvents()) > 0 {
		last = <-l.LinkEvents()
	}
	if last.Up != l.Up() {
		t.Errorf("last event up=%v, state up=%v", last.Up, l.Up())
	}
	l.Close()
	l.Close()
	l.Set(true, "after close", true)
	if _, ok := <-l.LinkEvents(); ok {
		t.Error("event after Close")
	}
}
