package linkwatch_test

import (
	"testing"
	"time"

	"github.com/l2fabric/l2fabric/backends/internal/linkwatch"
	"github.com/l2fabric/l2fabric/backends/internal/nstest"
)

// TestSystemEvents follows interfaces through rtnetlink in a network
// namespace of its own: creation, flags, bridge membership (whose
// AF_BRIDGE RTM_DELLINK is not a deletion), deletion, re-creation under a
// new index, and a rename away.
func TestSystemEvents(t *testing.T) {
	if !nstest.InNetns(t) {
		return
	}
	src, err := linkwatch.System()
	if err != nil {
		t.Fatal(err)
	}
	evs := make(chan linkwatch.Event, 256)
	w, err := linkwatch.Watch(src, []string{"d0", "br0"}, nil, func(ev linkwatch.Event) { evs <- ev })
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	// await returns the first event that match accepts, skipping others.
	await := func(what string, match func(linkwatch.Event) bool) linkwatch.Event {
		t.Helper()
		timeout := time.After(nstest.Timeout)
		for {
			select {
			case ev := <-evs:
				if match(ev) {
					return ev
				}
				if ev.Gone && ev.Link.Name == "d0" && what != "d0 gone" && what != "d0 renamed away" {
					t.Fatalf("waiting for %s: unexpected %+v", what, ev)
				}
			case <-timeout:
				t.Fatalf("no event: %s", what)
			}
		}
	}
	nstest.IP(t, "link", "add", "d0", "type", "veth", "peer", "name", "p0")
	first := await("d0 created", func(ev linkwatch.Event) bool { return !ev.Gone && ev.Link.Name == "d0" })
	nstest.IP(t, "link", "set", "d0", "up")
	nstest.IP(t, "link", "set", "p0", "up")
	await("d0 up", func(ev linkwatch.Event) bool { return ev.Link.Name == "d0" && ev.Link.Up && ev.Link.Running })
	nstest.IP(t, "link", "add", "br0", "type", "bridge")
	br := await("br0 created", func(ev linkwatch.Event) bool { return !ev.Gone && ev.Link.Name == "br0" })
	nstest.IP(t, "link", "set", "d0", "master", "br0")
	await("d0 in br0", func(ev linkwatch.Event) bool { return ev.Link.Name == "d0" && ev.Link.Master == br.Link.Index })
	nstest.IP(t, "link", "set", "d0", "nomaster")
	await("d0 out of br0", func(ev linkwatch.Event) bool { return ev.Link.Name == "d0" && !ev.Gone && ev.Link.Master == 0 })
	nstest.IP(t, "link", "del", "d0")
	gone := await("d0 gone", func(ev linkwatch.Event) bool { return ev.Gone && ev.Link.Name == "d0" })
	if gone.Link.Index != first.Link.Index {
		t.Errorf("gone %+v, created %+v", gone.Link, first.Link)
	}
	nstest.IP(t, "link", "add", "d0", "type", "veth", "peer", "name", "p0")
	again := await("d0 again", func(ev linkwatch.Event) bool { return !ev.Gone && ev.Link.Name == "d0" })
	if again.Link.Index == first.Link.Index {
		t.Logf("d0 re-created with its old index %d", again.Link.Index)
	}
	nstest.IP(t, "link", "set", "d0", "name", "d1")
	await("d0 renamed away", func(ev linkwatch.Event) bool { return ev.Gone && ev.Link.Name == "d0" })
	if l, ok, err := src.Lookup("d1"); err != nil || !ok || l.Index != again.Link.Index {
		t.Errorf("Lookup(d1) = %+v, %v, %v", l, ok, err)
	}
	if _, ok, err := src.Lookup("d0"); err != nil || ok {
		t.Errorf("Lookup(d0) = %v, %v after the rename", ok, err)
	}
}
