package vxlan

import (
	"net/netip"
	"slices"
	"testing"
	"time"

	"github.com/l2fabric/l2fabric/fdb"
)

func newTestTable(t *testing.T, text string) *table {
	t.Helper()
	o, _, err := parse(t, text)
	if err != nil {
		t.Fatal(err)
	}
	tbl, err := newTable(o, fdb.Config{})
	if err != nil {
		t.Fatal(err)
	}
	return tbl
}

func addr(s string) netip.Addr { return netip.MustParseAddr(s) }

func TestTableFloodLearnAndPin(t *testing.T) {
	tbl := newTestTable(t, "vxlan:10.0.0.2+10.0.0.3,vnis=100:10+200:20")
	i := tbl.slot(10)
	if i < 0 || tbl.slot(30) >= 0 || tbl.slot(4095) >= 0 {
		t.Fatalf("slots: 10 -> %d, 30 -> %d", i, tbl.slot(30))
	}
	// Unknown unicast and broadcast: every remote of the VNI.
	one, flood := tbl.lookup(10, i, macB)
	if one != nil || len(flood) != 2 {
		t.Fatalf("unknown unicast: %v, %d remotes", one, len(flood))
	}
	// Learned: that VTEP only, in that VLAN only.
	v, err := tbl.intern(addr("10.0.0.3"))
	if err != nil {
		t.Fatal(err)
	}
	tbl.learn(time.Now(), 10, macB, v)
	if one, _ := tbl.lookup(10, i, macB); one != v {
		t.Errorf("learned MAC goes to %v, want %v", one, v)
	}
	if one, _ := tbl.lookup(20, tbl.slot(20), macB); one != nil {
		t.Errorf("a MAC learned in VLAN 10 is known in VLAN 20")
	}
	if a, ok := tbl.locate(10, macB); !ok || a != addr("10.0.0.3") {
		t.Errorf("locate = %v, %v", a, ok)
	}
	// Pinned: learning does not move it.
	if err := tbl.AddMAC(100, macA, addr("10.0.0.9")); err != nil {
		t.Fatal(err)
	}
	tbl.learn(time.Now(), 10, macA, v)
	if a, _ := tbl.locate(10, macA); a != addr("10.0.0.9") {
		t.Errorf("a pinned MAC moved to %v by learning", a)
	}
	if err := tbl.DeleteMAC(100, macA); err != nil {
		t.Error(err)
	}
	if _, ok := tbl.locate(10, macA); ok {
		t.Error("deleted MAC still located")
	}
	// Flood lists change at run time, per VNI.
	if err := tbl.AddFlood(200, addr("10.0.0.4")); err != nil {
		t.Fatal(err)
	}
	if err := tbl.DeleteFlood(100, addr("10.0.0.2")); err != nil {
		t.Fatal(err)
	}
	if got := tbl.remotes(); !slices.Equal(got, []netip.Addr{addr("10.0.0.2"), addr("10.0.0.3"), addr("10.0.0.4")}) {
		t.Errorf("remotes %v", got)
	}
	if _, flood := tbl.lookup(10, i, macA); len(flood) != 1 || flood[0].addr != addr("10.0.0.3") {
		t.Errorf("VNI 100 floods to %v", flood)
	}
	// Errors name what is wrong.
	for _, err := range []error{
		tbl.AddFlood(300, addr("10.0.0.2")),
		tbl.AddFlood(100, addr("fd00::1")),
		tbl.AddFlood(100, addr("224.0.0.1")),
		tbl.DeleteFlood(100, addr("10.9.9.9")),
		tbl.AddMAC(100, macA, addr("0.0.0.0")),
	} {
		if err == nil {
			t.Error("a bad table change was accepted")
		}
	}
}

func TestTableBoundsVTEPs(t *testing.T) {
	tbl := newTestTable(t, "vxlan:,vni=1")
	var err error
	for i := 0; i <= maxVTEPs && err == nil; i++ {
		_, err = tbl.intern(netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)}))
	}
	if err == nil {
		t.Errorf("%d VTEPs interned, want at most %d", maxVTEPs+1, maxVTEPs)
	}
}
