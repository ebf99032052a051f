package host

import (
	"net"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/l2fabric/l2fabric/backends/internal/nstest"
	"github.com/l2fabric/l2fabric/fabric"
	"github.com/l2fabric/l2fabric/frames/offload"
)

// TestPortFollowsInterface deletes the interface behind a host port and
// creates it again (a new index), in a network namespace: the link goes
// down and up from rtnetlink's events, and the new socket receives.
func TestPortFollowsInterface(t *testing.T) {
	if !nstest.InNetns(t) {
		return
	}
	veth := func() {
		nstest.IP(t, "link", "add", "h0", "type", "veth", "peer", "name", "h1")
		nstest.IP(t, "link", "set", "h0", "up")
		nstest.IP(t, "link", "set", "h1", "up")
	}
	veth()
	p, err := newPort(options{ifname: "h0", promisc: true}, hclog.NewNullLogger())
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	next := func(up bool, reason string) {
		t.Helper()
		for {
			select {
			case ev := <-p.LinkEvents():
				if ev.Up == up && ev.Reason == reason {
					return
				}
				t.Logf("link event %+v", ev)
			case <-time.After(nstest.Timeout):
				t.Fatalf("no link event up=%v %q", up, reason)
			}
		}
	}
	if _, err := p.Read(nil, nil); err == nil {
		t.Error("Read on a GSO port did not refuse")
	}
	old := nstest.Link(t, "h0").Index
	nstest.IP(t, "link", "del", "h0")
	next(false, "interface h0 deleted")
	if _, err := p.Write([][]byte{make([]byte, 60)}); err == nil {
		t.Error("Write while the interface is gone succeeded")
	}
	veth()
	next(true, "interface h0 back")
	if s := p.sup.Current(); s == nil || s.ifindex == old || s.ifindex != nstest.Link(t, "h0").Index {
		t.Fatalf("socket %+v on the re-created h0 (old index %d)", s, old)
	}

	// The new socket receives what the peer end sends.
	got := make(chan int, 1)
	go func() {
		bufs := [][]byte{make([]byte, 2048)}
		sizes := make([]int, 1)
		hdrs := make([]offload.Header, 1)
		for {
			n, err := p.ReadGSO(bufs, sizes, hdrs)
			if err != nil {
				close(got)
				return
			}
			if n > 0 && sizes[0] == 99 {
				got <- sizes[0]
				return
			}
		}
	}()
	ifi, err := net.InterfaceByName("h1")
	if err != nil {
		t.Fatal(err)
	}
	s, err := openSocket("h1", ifi.Index, false)
	if err != nil {
		t.Fatal(err)
	}
	defer s.f.Close()
	frame := make([]byte, 99)
	copy(frame, []byte{0x02, 0, 0, 0, 0, 1, 0x02, 0, 0, 0, 0, 2, 0x88, 0xb5})
	tx := txState{}
	tx.init(1)
	deadline := time.After(nstest.Timeout)
	for {
		s.rc.Write(func(fd uintptr) bool {
			tx.send(int(fd), [][]byte{frame}, nil)
			return true
		})
		select {
		case n, ok := <-got:
			if !ok || n != 99 {
				t.Fatalf("read %d, %v", n, ok)
			}
			return
		case <-deadline:
			t.Fatal("the port's new socket received nothing")
		case <-time.After(50 * time.Millisecond):
		}
	}
}

var _ fabric.GSOPort = (*port)(nil)
