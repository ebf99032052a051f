package macnat

import (
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gopacket/gopacket/layers"
	"github.com/hashicorp/go-hclog"

	"github.com/l2fabric/l2fabric/frames"
)

func TestTableExpiryRefreshedByOutbound(t *testing.T) {
	c := newClock()
	tb := newTestTable(c, 0)
	if r := tb.Learn(vm1IP4, vm1MAC); r != Added {
		t.Fatalf("first Learn = %d, want Added", r)
	}
	c.advance(DefaultExpiry - time.Second)
	if r := tb.Learn(vm1IP4, vm1MAC); r != Refreshed {
		t.Fatalf("Learn again = %d, want Refreshed", r)
	}
	c.advance(DefaultExpiry - time.Second)
	wantOwner(t, tb, vm1IP4, vm1MAC, VM)
	if n := tb.Expire(); n != 0 {
		t.Errorf("Expire removed %d refreshed entries", n)
	}
	c.advance(time.Second)
	wantOwner(t, tb, vm1IP4, vm1MAC, Nobody)
	if n := tb.Expire(); n != 1 || tb.Len() != 0 {
		t.Errorf("Expire removed %d, %d left; want 1, 0", n, tb.Len())
	}
}

func TestTableHostEntriesPinned(t *testing.T) {
	c := newClock()
	tb := newTestTable(c, 1)
	tb.SetHost([]netip.Addr{hostIP4}, hostMAC)
	if r := tb.Learn(hostIP4, vm1MAC); r != HostOwned {
		t.Errorf("a VM claiming the host's address: %d, want HostOwned", r)
	}
	tb.Learn(vm1IP4, vm1MAC)
	if r := tb.Learn(vm2IP4, vm2MAC); r != Full {
		t.Errorf("Learn into a full table = %d, want Full", r)
	}
	c.advance(10 * DefaultExpiry)
	tb.Expire()
	wantOwner(t, tb, hostIP4, hostMAC, Host)
	// A host address a VM had is the host's from now on.
	tb.Learn(vm2IP4, vm2MAC)
	tb.SetHost([]netip.Addr{hostIP4, vm2IP4}, hostMAC)
	wantOwner(t, tb, vm2IP4, hostMAC, Host)
	if tb.Len() != 0 {
		t.Errorf("%d VM entries after the host took the address", tb.Len())
	}
	// And the host's addresses follow the interface.
	tb.SetHost([]netip.Addr{vm2IP4}, hostMAC)
	wantOwner(t, tb, hostIP4, zeroMAC, Nobody)
}

func TestTableFullMakesRoomFromExpired(t *testing.T) {
	c := newClock()
	tb := newTestTable(c, 2)
	tb.Learn(vm1IP4, vm1MAC)
	tb.Learn(vm1IP6, vm1MAC)
	if r := tb.Learn(vm2IP4, vm2MAC); r != Full {
		t.Fatalf("third address in a table of 2: %d, want Full", r)
	}
	c.advance(DefaultExpiry)
	if r := tb.Learn(vm2IP4, vm2MAC); r != Added {
		t.Fatalf("after expiry: %d, want Added", r)
	}
	if tb.Len() != 1 {
		t.Errorf("%d entries, want 1 (expired ones dropped)", tb.Len())
	}
}

func TestTableMove(t *testing.T) {
	tb := newTestTable(newClock(), 0)
	tb.Learn(vm1IP4, vm1MAC)
	if r := tb.Learn(vm1IP4, vm2MAC); r != Moved {
		t.Errorf("another VM claiming an address: %d, want Moved", r)
	}
	wantOwner(t, tb, vm1IP4, vm2MAC, VM)
	if tb.Len() != 1 {
		t.Errorf("%d entries after a move, want 1", tb.Len())
	}
}

// Two VMs fighting over an address: every move counts, the log says so
// at most once per moveLogEvery.
func TestTableMovesLoggedSparingly(t *testing.T) {
	c := newClock()
	var logged strings.Builder
	tb := NewTable(TableConfig{Now: c.now, Logger: hclog.New(&hclog.LoggerOptions{Output: &logged, Level: hclog.Info})})
	x := NewTranslator(tb, hostMAC)
	for i := 0; i < 100; i++ {
		from := []frames.MAC{vm1MAC, vm2MAC}[i%2]
		x.Outbound(ipv4Frame(t, from, lanMAC, vm1IP4, lanIP4, "mine"), offloadNone)
		c.advance(time.Millisecond)
	}
	if c := x.Counters(); c.Moves != 99 {
		t.Errorf("moves %d, want 99", c.Moves)
	}
	if n := strings.Count(logged.String(), "moved to another VM"); n != 1 {
		t.Errorf("%d move lines logged in 100 ms, want 1:\n%s", n, logged.String())
	}
}

func TestTableForget(t *testing.T) {
	tb := newTestTable(newClock(), 0)
	tb.SetHost([]netip.Addr{hostIP4}, hostMAC)
	tb.Learn(vm1IP4, vm1MAC)
	tb.Learn(vm1IP6, vm1MAC)
	tb.Learn(vm2IP4, vm2MAC)
	if n := tb.Forget([]frames.MAC{hostMAC, vm1MAC}); n != 2 {
		t.Errorf("Forget removed %d, want 2", n)
	}
	wantOwner(t, tb, vm2IP4, vm2MAC, VM)
	wantOwner(t, tb, hostIP4, hostMAC, Host)
	es := tb.Entries()
	if len(es) != 2 || !es[0].Host || es[1].IP != vm2IP4 {
		t.Errorf("Entries = %+v", es)
	}
}

// Lookups and refreshes race with inserts, moves and expiry: run under
// the race detector.
func TestTableConcurrent(t *testing.T) {
	tb := NewTable(TableConfig{MaxEntries: 64, Expiry: time.Millisecond})
	var wg sync.WaitGroup
	stop := make(chan struct{})
	for g := 0; g < 3; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				a := netip.AddrFrom4([4]byte{10, 0, byte(g), byte(i % 100)})
				switch g {
				case 0:
					tb.Learn(a, frames.MAC{2, 0, 0, 0, byte(g), byte(i)})
				case 1:
					tb.Lookup(a)
				default:
					tb.Expire()
					tb.Entries()
				}
			}
		}()
	}
	time.Sleep(50 * time.Millisecond)
	close(stop)
	wg.Wait()
	if n := tb.Len(); n > 64 {
		t.Errorf("%d entries in a table of 64", n)
	}
}

func TestTranslateDoesNotAllocate(t *testing.T) {
	x, _ := newTestTranslator(t)
	x.table.Learn(vm1IP4, vm1MAC)
	x.table.Learn(vm1IP6, vm1MAC)
	out := map[string][]byte{
		"IPv4": ipv4Frame(t, vm1MAC, lanMAC, vm1IP4, lanIP4, "x"),
		"ARP":  arpFrame(t, vm1MAC, lanMAC, 2, vm1MAC, vm1IP4, lanMAC, lanIP4),
		"DHCP": dhcpFrame(t, vm1MAC, vm1IP4, 3, 0),
		"NA": ndFrame(t, vm1MAC, lanMAC, vm1IP6, lanIP6, &layers.ICMPv6NeighborAdvertisement{TargetAddress: ip(vm1IP6),
			Options: layers.ICMPv6Options{llaOpt(layers.ICMPv6OptTargetAddress, vm1MAC)}}, layers.ICMPv6TypeNeighborAdvertisement),
		"DAD": ndFrame(t, vm1MAC, lanMAC, unspec6, lanIP6, &layers.ICMPv6NeighborSolicitation{TargetAddress: ip(vm1IP6)}, layers.ICMPv6TypeNeighborSolicitation),
	}
	for name, fr := range out {
		orig := append([]byte(nil), fr...)
		if n := testing.AllocsPerRun(100, func() {
			copy(fr, orig)
			x.Outbound(fr, offloadNone)
		}); n != 0 {
			t.Errorf("Outbound(%s): %v allocations", name, n)
		}
	}
	in := ipv4Frame(t, lanMAC, hostMAC, lanIP4, vm1IP4, "x")
	orig := append([]byte(nil), in...)
	if n := testing.AllocsPerRun(100, func() {
		copy(in, orig)
		x.Inbound(in)
	}); n != 0 {
		t.Errorf("Inbound: %v allocations", n)
	}
}

// BenchmarkTranslate measures the per-frame cost of the translation on
// each path, for a known VM.
func BenchmarkTranslate(b *testing.B) {
	x, _ := newTestTranslator(b)
	x.table.Learn(vm1IP4, vm1MAC)
	out := ipv4Frame(b, vm1MAC, lanMAC, vm1IP4, lanIP4, string(make([]byte, 1400)))
	in := ipv4Frame(b, lanMAC, hostMAC, lanIP4, vm1IP4, string(make([]byte, 1400)))
	outOrig, inOrig := append([]byte(nil), out...), append([]byte(nil), in...)
	b.Run("outbound", func(b *testing.B) {
		for b.Loop() {
			copy(out[6:12], outOrig[6:12])
			x.Outbound(out, offloadNone)
		}
	})
	b.Run("inbound", func(b *testing.B) {
		for b.Loop() {
			copy(in[0:6], inOrig[0:6])
			x.Inbound(in)
		}
	})
}
