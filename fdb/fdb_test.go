package fdb

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/l2fabric/l2fabric/frames"
)

// fakeClock is a clock tests move by hand; it is safe for concurrent use.
type fakeClock struct{ ns atomic.Int64 }

func (c *fakeClock) Now() time.Time           { return time.Unix(1_700_000_000, c.ns.Load()) }
func (c *fakeClock) Advance(d time.Duration)  { c.ns.Add(int64(d)) }
func newFake() (*fakeClock, func() time.Time) { c := &fakeClock{}; return c, c.Now }

// port stands in for the fabric's port handle (a pointer type).
type port struct{ name string }

var (
	pA = &port{"a"}
	pB = &port{"b"}
	pC = &port{"c"}
)

// mac returns a distinct locally administered unicast MAC for each i.
func mac(i int) frames.MAC {
	return frames.MAC{0x02, byte(i >> 32), byte(i >> 24), byte(i >> 16), byte(i >> 8), byte(i)}
}

func mustParse(t testing.TB, s string) frames.MAC {
	t.Helper()
	m, err := frames.ParseMAC(s)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func newTable(t testing.TB, cfg Config) (*Table[*port], *fakeClock) {
	t.Helper()
	clk, now := newFake()
	if cfg.Clock == nil {
		cfg.Clock = now
	}
	tb, err := New[*port](cfg)
	if err != nil {
		t.Fatal(err)
	}
	return tb, clk
}

// check verifies the table's internal invariants.
func (t *Table[P]) check(tb testing.TB) {
	tb.Helper()
	t.mu.Lock()
	defer t.mu.Unlock()
	ix := t.idx.Load()
	used, live := 0, 0
	for i := range ix.slots {
		e := ix.slots[i].Load()
		if e == nil {
			continue
		}
		used++
		if e == t.tomb {
			continue
		}
		live++
		if e.owner == nil {
			tb.Errorf("entry %x in index but not linked", e.key)
		}
		if t.find(e.key) != e {
			tb.Errorf("entry %x in slot %d not found by find", e.key, i)
		}
	}
	if used != t.used || live != t.live || live != t.count {
		tb.Errorf("index: used %d (recorded %d), live %d (recorded %d), count %d", used, t.used, live, t.live, t.count)
	}
	if used*2 > len(ix.slots) {
		tb.Errorf("index over half full: %d of %d", used, len(ix.slots))
	}
	if len(t.heap) != len(t.ports) {
		tb.Errorf("heap has %d ports, map %d", len(t.heap), len(t.ports))
	}
	for i := 1; i < len(t.heap); i++ {
		if t.heap[(i-1)/2].dyn.n < t.heap[i].dyn.n {
			tb.Errorf("heap property broken at %d", i)
		}
	}
	count, static := 0, 0
	for p, ps := range t.ports {
		if ps.port != p || ps.hi < 0 || ps.hi >= len(t.heap) || t.heap[ps.hi] != ps {
			tb.Errorf("port state for %v inconsistent", p)
		}
		if ps.dyn.n+ps.stat.n == 0 {
			tb.Errorf("empty port state for %v kept", p)
		}
		for _, l := range []*list[P]{&ps.dyn, &ps.stat} {
			n := 0
			var prev *entry[P]
			for e := l.head; e != nil; e = e.next {
				n++
				if e.prev != prev || e.owner != ps || e.port != p || e.static != (l == &ps.stat) {
					tb.Errorf("list entry %x inconsistent", e.key)
				}
				if l == &ps.dyn && prev != nil && prev.seen.Load() > e.seen.Load() {
					tb.Errorf("LRU list of %v out of order", p)
				}
				if j := t.slotOf(e.key); j < 0 || t.entryAt(j) != e {
					tb.Errorf("listed entry %x not in index", e.key)
				}
				prev = e
			}
			if l.tail != prev || l.n != n {
				tb.Errorf("list of %v: n %d, walked %d", p, l.n, n)
			}
			count += n
		}
		static += ps.stat.n
	}
	if count != t.count || static != t.static || count > t.max {
		tb.Errorf("count %d (recorded %d), static %d (recorded %d), max %d", count, t.count, static, t.static, t.max)
	}
}

func TestLearnLookup(t *testing.T) {
	m1, m2 := mustParse(t, "02:00:00:00:00:01"), mustParse(t, "02:00:00:00:00:02")
	type step struct {
		vlan    uint16
		mac     frames.MAC
		port    *port
		want    Outcome
		wantOld *port
	}
	steps := []step{
		{1, m1, pA, Learned, nil},
		{1, m1, pA, Refreshed, nil},
		{1, m2, pB, Learned, nil},
		{1, m1, pB, Moved, pA},
		{1, m1, pB, Refreshed, nil},
		{1, m1, pA, Moved, pB},
		{2, m1, pC, Learned, nil},
	}
	tb, _ := newTable(t, Config{})
	for i, s := range steps {
		got, old := tb.Learn(s.vlan, s.mac, s.port)
		if got != s.want || old != s.wantOld {
			t.Fatalf("step %d: Learn(%d, %v, %s) = %v, %v; want %v, %v", i, s.vlan, s.mac, s.port.name, got, old, s.want, s.wantOld)
		}
		if p, ok := tb.Lookup(s.vlan, s.mac); !ok || p != s.port {
			t.Fatalf("step %d: Lookup = %v, %v; want %s", i, p, ok, s.port.name)
		}
		tb.check(t)
	}
	for _, c := range []struct {
		vlan uint16
		mac  frames.MAC
		want *port
	}{{1, m1, pA}, {1, m2, pB}, {2, m1, pC}, {2, m2, nil}, {3, m1, nil}, {4096, m1, nil}, {0xffff, frames.MAC{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}, nil}} {
		p, ok := tb.Lookup(c.vlan, c.mac)
		if p != c.want || ok != (c.want != nil) {
			t.Errorf("Lookup(%d, %v) = %v, %v; want %v", c.vlan, c.mac, p, ok, c.want)
		}
	}
	if e, ok := tb.Get(2, m1); !ok || e.Port != pC || e.Static || e.Key() != (Key{2, m1}) {
		t.Errorf("Get(2, %v) = %+v, %v", m1, e, ok)
	}
	if _, ok := tb.Get(2, m2); ok {
		t.Errorf("Get of unknown key found something")
	}
	if n := tb.Len(); n != 3 {
		t.Errorf("Len = %d, want 3", n)
	}
}

func TestNotLearned(t *testing.T) {
	for _, c := range []struct {
		name string
		vlan uint16
		mac  string
	}{
		{"broadcast", 1, "ff:ff:ff:ff:ff:ff"},
		{"multicast", 1, "01:00:5e:00:00:01"},
		{"ipv6 multicast", 1, "33:33:00:00:00:01"},
		{"stp", 1, "01:80:c2:00:00:00"},
		{"zero", 1, "00:00:00:00:00:00"},
		{"vlan 4095 (reserved)", 4095, "02:00:00:00:00:01"},
		{"vlan out of range", 4096, "02:00:00:00:00:01"},
		{"vlan 0xffff", 0xffff, "02:00:00:00:00:01"},
	} {
		t.Run(c.name, func(t *testing.T) {
			tb, _ := newTable(t, Config{})
			m := mustParse(t, c.mac)
			if got, old := tb.Learn(c.vlan, m, pA); got != Ignored || old != nil {
				t.Errorf("Learn = %v, %v; want ignored", got, old)
			}
			if _, ok := tb.Lookup(c.vlan, m); ok {
				t.Errorf("Lookup found an entry")
			}
			if s := tb.Stats(); s != (Stats{Max: DefaultMaxEntries}) {
				t.Errorf("Stats = %+v, want nothing learned", s)
			}
			if err := tb.AddStatic(c.vlan, m, pA); err == nil {
				t.Errorf("AddStatic succeeded")
			}
			if tb.Delete(c.vlan, m) {
				t.Errorf("Delete found an entry")
			}
		})
	}
}

func ageOf(t *testing.T, tb *Table[*port], vlan uint16, m frames.MAC) time.Duration {
	t.Helper()
	for _, e := range tb.Entries() {
		if e.VLAN == vlan && e.MAC == m {
			return e.Age
		}
	}
	t.Fatalf("no entry for %v in VLAN %d", m, vlan)
	return 0
}

func TestRefreshAtMostOncePerSecond(t *testing.T) {
	tb, clk := newTable(t, Config{})
	m := mac(1)
	tb.Learn(0, m, pA)
	seen := tb.find(packKey(0, m)).seen.Load()

	clk.Advance(999 * time.Millisecond)
	if got, _ := tb.Learn(0, m, pA); got != Refreshed {
		t.Fatalf("Learn = %v, want refreshed", got)
	}
	if s := tb.find(packKey(0, m)).seen.Load(); s != seen {
		t.Errorf("last-seen written within 1s of the last refresh")
	}
	if age := ageOf(t, tb, 0, m); age != 999*time.Millisecond {
		t.Errorf("age = %v, want 999ms (not refreshed)", age)
	}

	clk.Advance(time.Millisecond)
	if got, _ := tb.Learn(0, m, pA); got != Refreshed {
		t.Fatalf("Learn = %v, want refreshed", got)
	}
	if age := ageOf(t, tb, 0, m); age != 0 {
		t.Errorf("age = %v, want 0 (refreshed after 1s)", age)
	}

	clk.Advance(1500 * time.Millisecond)
	if age := ageOf(t, tb, 0, m); age != 1500*time.Millisecond {
		t.Errorf("age = %v, want 1.5s", age)
	}
	tb.Learn(0, m, pA)
	if age := ageOf(t, tb, 0, m); age != 0 {
		t.Errorf("age = %v after refresh, want 0", age)
	}
	if s := tb.Stats(); s.Learned != 1 || s.Moved != 0 {
		t.Errorf("Stats = %+v", s)
	}
	tb.check(t)
}

func TestLearnAt(t *testing.T) {
	tb, clk := newTable(t, Config{})
	m := mac(1)
	if got, _ := tb.LearnAt(clk.Now(), 0, m, pA); got != Learned {
		t.Fatalf("LearnAt new = %v", got)
	}
	clk.Advance(999 * time.Millisecond)
	if got, _ := tb.LearnAt(clk.Now(), 0, m, pA); got != Refreshed {
		t.Fatalf("LearnAt = %v", got)
	}
	if age := ageOf(t, tb, 0, m); age != 999*time.Millisecond {
		t.Errorf("age = %v, want 999ms (not refreshed)", age)
	}
	clk.Advance(500 * time.Millisecond)
	// A batch time that lags the clock decides about refreshing...
	tb.LearnAt(clk.Now().Add(-time.Second), 0, m, pA)
	if age := ageOf(t, tb, 0, m); age != 1499*time.Millisecond {
		t.Errorf("age = %v, want 1.499s (not refreshed)", age)
	}
	// ...but the refresh itself uses the Clock.
	tb.LearnAt(clk.Now().Add(-10*time.Millisecond), 0, m, pA)
	if age := ageOf(t, tb, 0, m); age != 0 {
		t.Errorf("age = %v, want 0", age)
	}
	if got, old := tb.LearnAt(clk.Now(), 0, m, pB); got != Moved || old != pA {
		t.Errorf("LearnAt on another port = %v, %v", got, old)
	}
	if got, _ := tb.LearnAt(clk.Now(), 0, frames.MAC{1}, pB); got != Ignored {
		t.Errorf("LearnAt multicast = %v", got)
	}
	if got, _ := tb.LearnAt(clk.Now(), 4096, m, pB); got != Ignored {
		t.Errorf("LearnAt VLAN 4096 = %v", got)
	}
	tb.AddStatic(0, mac(2), pA)
	if got, _ := tb.LearnAt(clk.Now(), 0, mac(2), pA); got != Refreshed {
		t.Errorf("LearnAt static, same port = %v", got)
	}
	if got, _ := tb.LearnAt(clk.Now(), 0, mac(2), pB); got != Ignored {
		t.Errorf("LearnAt static, other port = %v", got)
	}
	if st := tb.Stats(); st.Learned != 1 || st.Moved != 1 || st.Current != 2 {
		t.Errorf("Stats = %+v", st)
	}
	tb.check(t)
}

func TestAging(t *testing.T) {
	tb, clk := newTable(t, Config{Aging: 10 * time.Second})
	if tb.Aging() != 10*time.Second {
		t.Fatalf("Aging = %v", tb.Aging())
	}
	tb.Learn(0, mac(1), pA) // t=0, never refreshed
	tb.Learn(0, mac(2), pA) // t=0, refreshed at t=8
	clk.Advance(5 * time.Second)
	tb.Learn(0, mac(3), pB) // t=5
	clk.Advance(3 * time.Second)
	tb.Learn(0, mac(2), pA) // t=8
	tb.check(t)

	clk.Advance(2 * time.Second) // t=10: nothing older than 10s yet
	if n := tb.Expire(); n != 0 {
		t.Fatalf("Expire at exactly the aging time removed %d", n)
	}
	clk.Advance(time.Nanosecond)
	if n := tb.Expire(); n != 1 {
		t.Fatalf("Expire removed %d, want 1", n)
	}
	if _, ok := tb.Lookup(0, mac(1)); ok {
		t.Errorf("mac 1 not expired")
	}
	for _, i := range []int{2, 3} {
		if _, ok := tb.Lookup(0, mac(i)); !ok {
			t.Errorf("mac %d expired early", i)
		}
	}
	clk.Advance(5 * time.Second) // t=15: mac 3 (seen at 5) goes
	if n := tb.Expire(); n != 1 {
		t.Fatalf("Expire removed %d, want 1", n)
	}
	clk.Advance(5 * time.Second) // t=20: mac 2 (seen at 8) goes
	if n := tb.Expire(); n != 1 {
		t.Fatalf("Expire removed %d, want 1", n)
	}
	if s := tb.Stats(); s.Current != 0 || s.Expired != 3 || s.Learned != 3 {
		t.Errorf("Stats = %+v", s)
	}
	// Relearning an expired MAC is a new entry.
	if got, _ := tb.Learn(0, mac(1), pA); got != Learned {
		t.Errorf("relearn = %v", got)
	}
	tb.check(t)
}

func TestExpireManyPorts(t *testing.T) {
	tb, clk := newTable(t, Config{Aging: time.Minute, MaxEntries: 100000})
	ports := make([]*port, 50)
	for i := range ports {
		ports[i] = &port{fmt.Sprint(i)}
	}
	for i := range 20000 {
		tb.Learn(uint16(i%7), mac(i), ports[i%len(ports)])
		if i%1000 == 999 {
			clk.Advance(time.Second)
		}
	}
	// The clock reads 20 s; entries learned in the first 10 s (seen at 0 s
	// to 9 s) are older than a minute at 69 s + 1 ns.
	clk.Advance(49*time.Second + time.Nanosecond)
	if n := tb.Expire(); n != 10000 {
		t.Errorf("Expire removed %d, want 10000", n)
	}
	tb.check(t)
	clk.Advance(time.Hour)
	if n := tb.Expire(); n != 10000 {
		t.Errorf("Expire removed %d, want 10000", n)
	}
	if n := len(tb.idx.Load().slots); n != minSlots {
		t.Errorf("index not shrunk: %d slots", n)
	}
	tb.check(t)
}

func TestStatic(t *testing.T) {
	tb, clk := newTable(t, Config{Aging: 10 * time.Second, MaxEntries: 4})
	s := mac(100)
	if err := tb.AddStatic(5, s, pA); err != nil {
		t.Fatal(err)
	}
	if got, _ := tb.Learn(5, s, pA); got != Refreshed {
		t.Errorf("Learn on the static port = %v, want refreshed", got)
	}
	if got, old := tb.Learn(5, s, pB); got != Ignored || old != nil {
		t.Errorf("Learn on another port = %v, %v; want ignored", got, old)
	}
	if p, _ := tb.Lookup(5, s); p != pA {
		t.Errorf("static entry moved to %v", p)
	}
	clk.Advance(time.Hour)
	if n := tb.Expire(); n != 0 {
		t.Errorf("Expire removed %d", n)
	}
	if n := tb.Flush(nil); n != 0 {
		t.Errorf("Flush(nil) removed %d", n)
	}
	if n := tb.Flush(func(Entry[*port]) bool { return true }); n != 0 {
		t.Errorf("Flush(all) removed %d", n)
	}
	es := tb.Entries()
	if len(es) != 1 || !es[0].Static || es[0].Age != 0 || es[0].Port != pA {
		t.Errorf("Entries = %+v", es)
	}
	if st := tb.Stats(); st.Current != 1 || st.Static != 1 || st.Learned != 0 {
		t.Errorf("Stats = %+v", st)
	}

	// Statics are never evicted; dynamic entries are, and a table full of
	// statics learns nothing and takes no more statics.
	tb.Learn(5, mac(1), pB)
	for i := 101; i <= 103; i++ {
		if err := tb.AddStatic(5, mac(i), pC); err != nil {
			t.Fatalf("AddStatic %d: %v", i, err)
		}
	}
	if _, ok := tb.Lookup(5, mac(1)); ok {
		t.Errorf("dynamic entry not evicted for a static one")
	}
	if got, _ := tb.Learn(5, mac(2), pB); got != Ignored {
		t.Errorf("Learn into a table full of statics = %v", got)
	}
	err := tb.AddStatic(5, mac(104), pC)
	if !errors.Is(err, ErrTableFull) {
		t.Errorf("AddStatic to a full table: %v", err)
	}
	// Replacing an existing key needs no room.
	if err := tb.AddStatic(5, mac(103), pB); err != nil {
		t.Errorf("replacing a static: %v", err)
	}
	if p, _ := tb.Lookup(5, mac(103)); p != pB {
		t.Errorf("static not replaced")
	}
	if st := tb.Stats(); st.Current != 4 || st.Static != 4 || st.Evicted != 1 {
		t.Errorf("Stats = %+v", st)
	}
	tb.check(t)

	if n := tb.RemovePort(pC); n != 2 {
		t.Errorf("RemovePort(c) = %d, want 2", n)
	}
	if !tb.Delete(5, s) || tb.Delete(5, s) {
		t.Errorf("Delete of static")
	}
	if n := tb.RemovePort(pC); n != 0 {
		t.Errorf("RemovePort of a port without entries = %d", n)
	}
	if st := tb.Stats(); st.Current != 1 || st.Static != 1 {
		t.Errorf("Stats = %+v", st)
	}
	tb.check(t)
}

func TestAddStaticReplacesDynamic(t *testing.T) {
	tb, clk := newTable(t, Config{Aging: 10 * time.Second})
	tb.Learn(0, mac(1), pA)
	if err := tb.AddStatic(0, mac(1), pB); err != nil {
		t.Fatal(err)
	}
	if e, _ := tb.Get(0, mac(1)); e.Port != pB || !e.Static {
		t.Errorf("Get = %+v", e)
	}
	clk.Advance(time.Minute)
	tb.Expire()
	if p, ok := tb.Lookup(0, mac(1)); !ok || p != pB {
		t.Errorf("static entry expired or moved")
	}
	if st := tb.Stats(); st.Current != 1 || st.Static != 1 {
		t.Errorf("Stats = %+v", st)
	}
	tb.check(t)
}

func TestAddStaticErrors(t *testing.T) {
	tb, _ := newTable(t, Config{})
	for _, c := range []struct {
		vlan uint16
		mac  string
		is   error
		msg  string
	}{
		{1, "01:00:5e:00:00:01", ErrNotUnicast, "fdb: cannot add static entry for 01:00:5e:00:00:01 in VLAN 1: not a unicast MAC address"},
		{1, "ff:ff:ff:ff:ff:ff", ErrNotUnicast, "not a unicast"},
		{1, "00:00:00:00:00:00", ErrNotUnicast, "not a unicast"},
		{4095, "02:00:00:00:00:01", ErrBadVLAN, "fdb: cannot add static entry for 02:00:00:00:00:01 in VLAN 4095: VLAN ID out of range 0 to 4094"},
		{4096, "02:00:00:00:00:01", ErrBadVLAN, "VLAN ID out of range"},
	} {
		err := tb.AddStatic(c.vlan, mustParse(t, c.mac), pA)
		if !errors.Is(err, c.is) || !strings.Contains(err.Error(), c.msg) {
			t.Errorf("AddStatic(%d, %s) = %v; want %v containing %q", c.vlan, c.mac, err, c.is, c.msg)
		}
	}
	if tb.Len() != 0 {
		t.Errorf("Len = %d", tb.Len())
	}
}

func TestEvictionFairness(t *testing.T) {
	tb, _ := newTable(t, Config{MaxEntries: 8192})
	const few = 300
	for i := range few {
		tb.Learn(1, mac(1_000_000+i), pA)
		tb.Learn(1, mac(2_000_000+i), pB)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	flooded := 0
	for range 100_000 {
		m := mac(int(rng.Uint64() >> 24))
		m[0] = 0x06 // keep it unicast and apart from the others
		if got, _ := tb.Learn(1, m, pC); got == Learned {
			flooded++
		}
	}
	for i := range few {
		if p, ok := tb.Lookup(1, mac(1_000_000+i)); !ok || p != pA {
			t.Fatalf("port a lost entry %d", i)
		}
		if p, ok := tb.Lookup(1, mac(2_000_000+i)); !ok || p != pB {
			t.Fatalf("port b lost entry %d", i)
		}
	}
	counts := map[*port]int{}
	for _, e := range tb.Entries() {
		counts[e.Port]++
	}
	if counts[pA] != few || counts[pB] != few || counts[pC] != 8192-2*few {
		t.Errorf("entries per port = a %d, b %d, c %d", counts[pA], counts[pB], counts[pC])
	}
	st := tb.Stats()
	if st.Current != 8192 || st.Max != 8192 || st.Learned != uint64(2*few+flooded) || st.Evicted != uint64(2*few+flooded-8192) {
		t.Errorf("Stats = %+v (flooded %d)", st, flooded)
	}
	tb.check(t)
}

func TestEvictsLeastRecentlySeen(t *testing.T) {
	tb, clk := newTable(t, Config{MaxEntries: 4})
	tb.Learn(0, mac(1), pA)
	tb.Learn(0, mac(2), pA)
	tb.Learn(0, mac(3), pA)
	tb.Learn(0, mac(9), pB)
	clk.Advance(2 * time.Second)
	tb.Learn(0, mac(1), pA) // refresh: mac 2 is now a's least recently seen
	if got, _ := tb.Learn(0, mac(4), pB); got != Learned {
		t.Fatalf("Learn = %v", got)
	}
	for i, want := range map[int]bool{1: true, 2: false, 3: true, 4: true, 9: true} {
		if _, ok := tb.Lookup(0, mac(i)); ok != want {
			t.Errorf("mac %d present = %v, want %v", i, ok, want)
		}
	}
	// Now a and b hold 2 each; either may lose one, but never more than one.
	tb.Learn(0, mac(5), pB)
	if st := tb.Stats(); st.Evicted != 2 || st.Current != 4 {
		t.Errorf("Stats = %+v", st)
	}
	tb.check(t)
}

func TestMoves(t *testing.T) {
	tb, _ := newTable(t, Config{})
	ports := []*port{pA, pB, pC}
	for i := range 30 {
		got, old := tb.Learn(7, mac(1), ports[i%3])
		want, wantOld := Moved, ports[(i+2)%3]
		if i == 0 {
			want, wantOld = Learned, nil
		}
		if got != want || old != wantOld {
			t.Fatalf("Learn %d = %v, %v; want %v, %v", i, got, old, want, wantOld)
		}
		if p, _ := tb.Lookup(7, mac(1)); p != ports[i%3] {
			t.Fatalf("Lookup after move %d = %v", i, p)
		}
		tb.check(t)
	}
	if st := tb.Stats(); st.Moved != 29 || st.Learned != 1 || st.Current != 1 {
		t.Errorf("Stats = %+v", st)
	}
}

func TestVLANSeparation(t *testing.T) {
	tb, _ := newTable(t, Config{})
	m := mac(42)
	tb.Learn(10, m, pA)
	if got, _ := tb.Learn(20, m, pB); got != Learned {
		t.Fatalf("same MAC in another VLAN = %v, want learned", got)
	}
	if p, _ := tb.Lookup(10, m); p != pA {
		t.Errorf("VLAN 10 → %v", p)
	}
	if p, _ := tb.Lookup(20, m); p != pB {
		t.Errorf("VLAN 20 → %v", p)
	}
	if _, ok := tb.Lookup(30, m); ok {
		t.Errorf("VLAN 30 found")
	}
	tb.Delete(10, m)
	if p, _ := tb.Lookup(20, m); p != pB {
		t.Errorf("Delete in VLAN 10 touched VLAN 20")
	}
	if st := tb.Stats(); st.Current != 1 || st.Moved != 0 {
		t.Errorf("Stats = %+v", st)
	}
}

func TestFlush(t *testing.T) {
	tb, _ := newTable(t, Config{})
	for i := range 100 {
		tb.Learn(uint16(i%2), mac(i), []*port{pA, pB}[i%2])
	}
	if err := tb.AddStatic(0, mac(1000), pA); err != nil {
		t.Fatal(err)
	}
	// match may call back into the table.
	n := tb.Flush(func(e Entry[*port]) bool {
		p, ok := tb.Lookup(e.VLAN, e.MAC)
		return ok && p == pA && e.Port == pA
	})
	if n != 50 {
		t.Errorf("Flush(port a) = %d, want 50", n)
	}
	if p, ok := tb.Lookup(0, mac(1000)); !ok || p != pA {
		t.Errorf("static entry flushed")
	}
	if n := tb.Flush(func(e Entry[*port]) bool { return e.VLAN == 1 && e.MAC[5] < 10 }); n != 5 {
		t.Errorf("Flush(vlan 1, mac<10) = %d, want 5", n)
	}
	if n := tb.Flush(nil); n != 45 {
		t.Errorf("Flush(nil) = %d, want 45", n)
	}
	if st := tb.Stats(); st.Current != 1 || st.Static != 1 {
		t.Errorf("Stats = %+v", st)
	}
	tb.check(t)
}

func TestFlushSkipsMovedEntries(t *testing.T) {
	tb, _ := newTable(t, Config{})
	tb.Learn(0, mac(1), pA)
	n := tb.Flush(func(e Entry[*port]) bool {
		tb.Learn(0, mac(1), pB) // moves while Flush decides
		return e.Port == pA
	})
	if n != 0 {
		t.Errorf("Flush removed %d, want 0", n)
	}
	if p, _ := tb.Lookup(0, mac(1)); p != pB {
		t.Errorf("moved entry removed")
	}
	tb.check(t)
}

func TestStats(t *testing.T) {
	tb, clk := newTable(t, Config{Aging: 10 * time.Second, MaxEntries: 3})
	tb.Learn(0, mac(1), pA)       // learned
	tb.Learn(0, mac(2), pA)       // learned
	tb.Learn(0, mac(2), pB)       // moved
	tb.AddStatic(0, mac(3), pC)   // static
	tb.Learn(0, mac(4), pC)       // learned, evicts one
	tb.Learn(0, mac(5), pA)       // learned, evicts one
	tb.Learn(0, frames.MAC{}, pA) // ignored
	tb.Learn(0, mac(3), pA)       // ignored (static)
	clk.Advance(11 * time.Second) //
	tb.Expire()                   // the two dynamic entries
	got := tb.Stats()
	want := Stats{Current: 1, Max: 3, Static: 1, Learned: 4, Moved: 1, Expired: 2, Evicted: 2}
	if got != want {
		t.Errorf("Stats = %+v, want %+v", got, want)
	}
	tb.check(t)
}

func TestEntriesSorted(t *testing.T) {
	tb, clk := newTable(t, Config{MaxEntries: 100000})
	rng := rand.New(rand.NewPCG(3, 4))
	ports := []*port{pA, pB, pC}
	want := map[Key]*port{}
	for range 5000 {
		k := Key{uint16(rng.IntN(frames.MaxVLAN + 1)), mac(int(rng.Uint32()))}
		p := ports[rng.IntN(3)]
		tb.Learn(k.VLAN, k.MAC, p)
		want[k] = p
		clk.Advance(time.Millisecond)
	}
	for i := range 10 {
		k := Key{uint16(i), mac(1 << 33)}
		if err := tb.AddStatic(k.VLAN, k.MAC, pA); err != nil {
			t.Fatal(err)
		}
		want[k] = pA
	}
	es := tb.Entries()
	if len(es) != len(want) || len(es) != tb.Len() {
		t.Fatalf("Entries has %d, want %d", len(es), len(want))
	}
	if !slices.IsSortedFunc(es, func(a, b Entry[*port]) int {
		if a.VLAN != b.VLAN {
			return int(a.VLAN) - int(b.VLAN)
		}
		return strings.Compare(string(a.MAC[:]), string(b.MAC[:]))
	}) {
		t.Errorf("Entries not sorted by VLAN then MAC")
	}
	for i, e := range es {
		if i > 0 && es[i-1].Key() == e.Key() {
			t.Errorf("duplicate %v", e.Key())
		}
		if want[e.Key()] != e.Port {
			t.Errorf("%v: port %v, want %v", e.Key(), e.Port, want[e.Key()])
		}
		if e.Age < 0 || e.Age > 5*time.Second || (e.Static && e.Age != 0) {
			t.Errorf("%v: age %v", e.Key(), e.Age)
		}
	}
}

func TestGrowShrinkDelete(t *testing.T) {
	tb, _ := newTable(t, Config{MaxEntries: 200000})
	const n = 100000
	for i := range n {
		if got, _ := tb.Learn(uint16(i%3), mac(i), pA); got != Learned {
			t.Fatalf("Learn %d = %v", i, got)
		}
	}
	tb.check(t)
	for i := range n {
		if p, ok := tb.Lookup(uint16(i%3), mac(i)); !ok || p != pA {
			t.Fatalf("lost %d", i)
		}
	}
	for i := 0; i < n; i += 2 {
		if !tb.Delete(uint16(i%3), mac(i)) {
			t.Fatalf("Delete %d failed", i)
		}
	}
	tb.check(t)
	for i := range n {
		if _, ok := tb.Lookup(uint16(i%3), mac(i)); ok != (i%2 == 1) {
			t.Fatalf("after deletes, %d present = %v", i, ok)
		}
	}
	// Churn: delete and re-add keys so tombstones come and go.
	for i := 1; i < n; i += 2 {
		tb.Delete(uint16(i%3), mac(i))
		tb.Learn(uint16(i%3), mac(i+n), pB)
	}
	tb.check(t)
	if n := tb.RemovePort(pB); n != 50000 {
		t.Errorf("RemovePort = %d", n)
	}
	if got := len(tb.idx.Load().slots); got != minSlots || tb.Len() != 0 {
		t.Errorf("after removing everything: %d slots, %d entries", got, tb.Len())
	}
	tb.check(t)
}

func TestConcurrent(t *testing.T) {
	tb, clk := newTable(t, Config{Aging: 5 * time.Second, MaxEntries: 2000})
	ports := make([]*port, 8)
	for i := range ports {
		ports[i] = &port{fmt.Sprint(i)}
	}
	const iters = 20000
	var wg sync.WaitGroup
	var stop atomic.Bool
	for g := range 4 { // learners
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(uint64(g), 1))
			for range iters {
				p := ports[rng.IntN(len(ports))]
				m := mac(rng.IntN(3000))
				got, old := tb.Learn(uint16(rng.IntN(3)), m, p)
				if got == Moved && (old == nil || old == p) {
					t.Errorf("Moved from %v to %v", old, p)
				}
			}
		})
	}
	for g := range 4 { // readers
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(uint64(g), 2))
			for range iters {
				if p, ok := tb.Lookup(uint16(rng.IntN(3)), mac(rng.IntN(3000))); ok && p == nil {
					t.Errorf("Lookup found a nil port")
				}
				if e, ok := tb.Get(0, mac(rng.IntN(3000))); ok && e.Port == nil {
					t.Errorf("Get found a nil port")
				}
			}
		})
	}
	var other sync.WaitGroup
	other.Go(func() { // clock and Expire
		for !stop.Load() {
			clk.Advance(100 * time.Millisecond)
			tb.Expire()
			runtime.Gosched()
		}
	})
	other.Go(func() { // snapshots
		for !stop.Load() {
			es := tb.Entries()
			for i := 1; i < len(es); i++ {
				if packKey(es[i-1].VLAN, es[i-1].MAC) >= packKey(es[i].VLAN, es[i].MAC) {
					t.Errorf("Entries not sorted")
					break
				}
			}
			if len(es) > 2000 {
				t.Errorf("Entries has %d > max", len(es))
			}
			_ = tb.Stats()
			_ = tb.Len()
		}
	})
	other.Go(func() { // administrative changes
		rng := rand.New(rand.NewPCG(9, 9))
		for !stop.Load() {
			switch rng.IntN(5) {
			case 0:
				p := ports[rng.IntN(len(ports))]
				tb.Flush(func(e Entry[*port]) bool { return e.Port == p })
			case 1:
				tb.RemovePort(ports[rng.IntN(len(ports))])
			case 2:
				tb.AddStatic(uint16(rng.IntN(3)), mac(rng.IntN(3000)), ports[rng.IntN(len(ports))])
			case 3:
				tb.Delete(uint16(rng.IntN(3)), mac(rng.IntN(3000)))
			case 4:
				tb.Flush(nil)
			}
			runtime.Gosched()
		}
	})
	wg.Wait()
	stop.Store(true)
	other.Wait()
	tb.check(t)
}

func TestValidate(t *testing.T) {
	for _, c := range []struct {
		cfg  Config
		want string // "" for valid
	}{
		{Config{}, ""},
		{Config{Aging: time.Second, MaxEntries: 1}, ""},
		{Config{Aging: MaxAging, MaxEntries: MaxMaxEntries}, ""},
		{Config{Aging: 500 * time.Millisecond}, "fdb aging 500ms is out of range: want 1s to 277h46m40s (or 0 for the default 5m0s)"},
		{Config{Aging: -time.Second}, "fdb aging -1s is out of range: want 1s to 277h46m40s (or 0 for the default 5m0s)"},
		{Config{Aging: MaxAging + 1}, "fdb aging 277h46m40.000000001s is out of range: want 1s to 277h46m40s (or 0 for the default 5m0s)"},
		{Config{MaxEntries: -1}, "fdb max entries -1 is out of range: want 1 to 16777216 (or 0 for the default 8192)"},
		{Config{MaxEntries: MaxMaxEntries + 1}, "fdb max entries 16777217 is out of range: want 1 to 16777216 (or 0 for the default 8192)"},
		{Config{Aging: 1, MaxEntries: -5}, "fdb aging 1ns is out of range: want 1s to 277h46m40s (or 0 for the default 5m0s)\nfdb max entries -5 is out of range: want 1 to 16777216 (or 0 for the default 8192)"},
	} {
		err := c.cfg.Validate()
		switch {
		case c.want == "" && err != nil:
			t.Errorf("Validate(%+v) = %v, want nil", c.cfg, err)
		case c.want != "" && (err == nil || err.Error() != c.want):
			t.Errorf("Validate(%+v) = %v, want %q", c.cfg, err, c.want)
		}
		tb, err2 := New[int](c.cfg)
		if (err == nil) != (err2 == nil) || (tb == nil) != (err2 != nil) {
			t.Errorf("New(%+v) = %v, %v; Validate said %v", c.cfg, tb, err2, err)
		}
	}
	tb, err := New[int](Config{})
	if err != nil || tb.Aging() != DefaultAging || tb.Stats().Max != DefaultMaxEntries {
		t.Errorf("defaults: %v, %v, %+v", err, tb.Aging(), tb.Stats())
	}
}

func TestOutcomeString(t *testing.T) {
	for o, want := range map[Outcome]string{Refreshed: "refreshed", Learned: "learned", Moved: "moved", Ignored: "ignored", 9: "Outcome(9)"} {
		if o.String() != want {
			t.Errorf("%d.String() = %q, want %q", o, o.String(), want)
		}
	}
}

// TestValuePorts uses a non-pointer port type, whose zero value is a valid
// port.
func TestValuePorts(t *testing.T) {
	clk, now := newFake()
	tb, err := New[int](Config{Clock: now, Aging: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := tb.Learn(0, mac(1), 0); got != Learned {
		t.Fatal(got)
	}
	if got, old := tb.Learn(0, mac(1), 3); got != Moved || old != 0 {
		t.Fatal(got, old)
	}
	clk.Advance(time.Minute)
	if tb.Expire() != 1 || tb.Len() != 0 {
		t.Fatal("not expired")
	}
	tb.check(t)
}

func TestZeroAllocs(t *testing.T) {
	tb, clk := newTable(t, Config{})
	now := clk.Now()
	for i := range 1000 {
		tb.Learn(1, mac(i), pA)
	}
	if err := tb.AddStatic(1, mac(5000), pB); err != nil {
		t.Fatal(err)
	}
	i := 0
	for name, f := range map[string]func(){
		"Lookup hit":  func() { i++; tb.Lookup(1, mac(i%1000)) },
		"Lookup miss": func() { i++; tb.Lookup(2, mac(i%1000)) },
		"Learn refresh": func() {
			i++
			if got, _ := tb.Learn(1, mac(i%1000), pA); got != Refreshed {
				panic(got)
			}
		},
		"LearnAt refresh": func() {
			i++
			if got, _ := tb.LearnAt(now, 1, mac(i%1000), pA); got != Refreshed {
				panic(got)
			}
		},
		"Learn static":       func() { tb.Learn(1, mac(5000), pB) },
		"Learn static moved": func() { tb.Learn(1, mac(5000), pA) },
		"Learn ignored": func() {
			tb.Learn(1, frames.MAC{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}, pA)
		},
	} {
		if n := testing.AllocsPerRun(1000, f); n != 0 {
			t.Errorf("%s: %v allocations per call, want 0", name, n)
		}
	}
}

// TestReadersTakeNoLock calls the lock-free paths with the table's mutex
// held: if any of them took it, the test would deadlock.
func TestReadersTakeNoLock(t *testing.T) {
	tb, clk := newTable(t, Config{})
	tb.Learn(0, mac(1), pA)
	tb.AddStatic(0, mac(2), pA)
	tb.mu.Lock()
	defer tb.mu.Unlock()
	if p, ok := tb.Lookup(0, mac(1)); !ok || p != pA {
		t.Errorf("Lookup = %v, %v", p, ok)
	}
	if _, ok := tb.Lookup(0, mac(3)); ok {
		t.Errorf("Lookup of unknown MAC found it")
	}
	if _, ok := tb.Get(0, mac(1)); !ok {
		t.Errorf("Get failed")
	}
	clk.Advance(999 * time.Millisecond)
	for _, c := range []struct {
		mac  frames.MAC
		port *port
		want Outcome
	}{{mac(1), pA, Refreshed}, {mac(2), pA, Refreshed}, {mac(2), pB, Ignored}, {frames.MAC{0xff}, pA, Ignored}} {
		if got, _ := tb.Learn(0, c.mac, c.port); got != c.want {
			t.Errorf("Learn(%v, %s) = %v, want %v", c.mac, c.port.name, got, c.want)
		}
		if got, _ := tb.LearnAt(clk.Now(), 0, c.mac, c.port); got != c.want {
			t.Errorf("LearnAt(%v, %s) = %v, want %v", c.mac, c.port.name, got, c.want)
		}
	}
}

// TestRefreshWithRealClock checks the fast path with time.Now.
func TestRefreshWithRealClock(t *testing.T) {
	tb, err := New[*port](Config{})
	if err != nil {
		t.Fatal(err)
	}
	tb.Learn(0, mac(1), pA)
	if n := testing.AllocsPerRun(100, func() { tb.Learn(0, mac(1), pA) }); n != 0 {
		t.Errorf("%v allocations", n)
	}
	if e, ok := tb.Get(0, mac(1)); !ok || e.Age < 0 || e.Age > time.Minute {
		t.Errorf("Get = %+v, %v", e, ok)
	}
}

func fill(b *testing.B, n int) (*Table[*port], []frames.MAC) {
	tb, err := New[*port](Config{MaxEntries: max(n, 1)})
	if err != nil {
		b.Fatal(err)
	}
	macs := make([]frames.MAC, n)
	ports := []*port{pA, pB, pC}
	for i := range macs {
		macs[i] = mac(i * 7919)
		tb.Learn(1, macs[i], ports[i%3])
	}
	return tb, macs
}

func BenchmarkLookup(b *testing.B) {
	tb, macs := fill(b, 8192)
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		if _, ok := tb.Lookup(1, macs[i&8191]); !ok {
			b.Fatal("miss")
		}
		i++
	}
}

func BenchmarkLookupMiss(b *testing.B) {
	tb, macs := fill(b, 8192)
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		tb.Lookup(2, macs[i&8191])
		i++
	}
}

func BenchmarkLookupParallel(b *testing.B) {
	tb, macs := fill(b, 8192)
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		i := rand.IntN(8192)
		for pb.Next() {
			if _, ok := tb.Lookup(1, macs[i&8191]); !ok {
				b.Error("miss")
				return
			}
			i++
		}
	})
}

func BenchmarkLearnRefresh(b *testing.B) {
	tb, macs := fill(b, 8192)
	ports := []*port{pA, pB, pC}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		j := i & 8191
		tb.Learn(1, macs[j], ports[j%3])
		i++
	}
}

// BenchmarkLearnAtRefresh is BenchmarkLearnRefresh with the time read
// once per batch of 32 frames.
func BenchmarkLearnAtRefresh(b *testing.B) {
	tb, macs := fill(b, 8192)
	ports := []*port{pA, pB, pC}
	b.ReportAllocs()
	i := 0
	var now time.Time
	for b.Loop() {
		if i&31 == 0 {
			now = time.Now()
		}
		j := i & 8191
		tb.LearnAt(now, 1, macs[j], ports[j%3])
		i++
	}
}

func BenchmarkLearnRefreshParallel(b *testing.B) {
	tb, macs := fill(b, 8192)
	ports := []*port{pA, pB, pC}
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		i := rand.IntN(8192)
		for pb.Next() {
			j := i & 8191
			tb.Learn(1, macs[j], ports[j%3])
			i++
		}
	})
}

// BenchmarkLearnNew learns a new MAC per iteration into a full table, so
// every iteration also evicts one.
func BenchmarkLearnNew(b *testing.B) {
	tb, _ := fill(b, 8192)
	b.ReportAllocs()
	i := 1 << 30
	for b.Loop() {
		tb.Learn(1, mac(i), pC)
		i++
	}
	if st := tb.Stats(); st.Current != 8192 {
		b.Fatalf("Stats = %+v", st)
	}
}

// BenchmarkBytesPerEntry reports the heap memory a table of 1M dynamic
// entries takes, per entry.
func BenchmarkBytesPerEntry(b *testing.B) {
	const n = 1 << 20
	macs := make([]frames.MAC, n)
	for i := range macs {
		macs[i] = mac(i)
	}
	ports := []*port{pA, pB, pC}
	var perEntry float64
	for b.Loop() {
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		tb, err := New[*port](Config{MaxEntries: n})
		if err != nil {
			b.Fatal(err)
		}
		for i, m := range macs {
			tb.Learn(uint16(i&15), m, ports[i%3])
		}
		runtime.GC()
		runtime.ReadMemStats(&after)
		if tb.Len() != n {
			b.Fatalf("Len = %d", tb.Len())
		}
		perEntry = float64(after.HeapAlloc-before.HeapAlloc) / n
		runtime.KeepAlive(tb)
	}
	b.ReportMetric(perEntry, "bytes/entry")
}

// removals records what an Observer is told.
type removals struct{ expired, evicted []Entry[*port] }

func (r *removals) Expired(e Entry[*port]) { r.expired = append(r.expired, e) }
func (r *removals) Evicted(e Entry[*port]) { r.evicted = append(r.evicted, e) }

func TestObserverIsToldOfExpiryAndEviction(t *testing.T) {
	tb, clk := newTable(t, Config{MaxEntries: 2, Aging: 10 * time.Second})
	var r removals
	tb.SetObserver(&r)
	a, b := &port{name: "a"}, &port{name: "b"}
	m1, m2, m3 := frames.MAC{2, 0, 0, 0, 0, 1}, frames.MAC{2, 0, 0, 0, 0, 2}, frames.MAC{2, 0, 0, 0, 0, 3}
	tb.Learn(1, m1, a)
	clk.Advance(2 * time.Second)
	tb.Learn(1, m2, a)
	tb.Learn(1, m3, b) // the table is full: a's oldest, m1, goes
	if len(r.evicted) != 1 || r.evicted[0].MAC != m1 || r.evicted[0].Port != a {
		t.Fatalf("evicted %+v, want m1 on a", r.evicted)
	}
	tb.Learn(1, m3, a) // a move is the caller's to report
	clk.Advance(11 * time.Second)
	if n := tb.Expire(); n != 2 {
		t.Fatalf("Expire removed %d, want 2", n)
	}
	if len(r.expired) != 2 || len(r.evicted) != 1 {
		t.Fatalf("told of %d expired, %d evicted; want 2 and 1", len(r.expired), len(r.evicted))
	}
	for _, e := range r.expired {
		if e.Age <= 10*time.Second {
			t.Errorf("expired entry %v has age %v, want past the aging time", e.MAC, e.Age)
		}
	}
}
