package vxlan

import (
	"net/netip"
	"testing"
)

func TestPlanCoalescesRunsForGSO(t *testing.T) {
	v1 := &vtep{addr: netip.MustParseAddr("10.0.0.1")}
	v2 := &vtep{addr: netip.MustParseAddr("10.0.0.2")}
	var h [HeaderLen]byte
	big, small := make([]byte, 1514), make([]byte, 600)
	p := newPlan(true)
	for i := 0; i < 3; i++ {
		p.add(0, v1, &h, big)
	}
	p.add(0, v1, &h, small) // a shorter tail joins, and ends the run
	p.add(0, v1, &h, small) // so this starts a new message
	p.add(1, v1, &h, small) // another socket
	p.add(1, v2, &h, small) // another VTEP
	want := []struct{ count, seg int }{{4, HeaderLen + 1514}, {1, HeaderLen + 600}, {1, HeaderLen + 600}, {1, HeaderLen + 600}}
	if len(p.msgs) != len(want) {
		t.Fatalf("%d messages, want %d: %+v", len(p.msgs), len(want), p.msgs)
	}
	for i, w := range want {
		if m := p.msgs[i]; m.count != w.count || m.seg != w.seg {
			t.Errorf("message %d: %d datagrams of %d, want %d of %d", i, m.count, m.seg, w.count, w.seg)
		}
	}
	// The kernel's limits: 64 segments, 64 KiB.
	p.reset()
	for i := 0; i < 100; i++ {
		p.add(0, v1, &h, small)
	}
	if len(p.msgs) != 2 || p.msgs[0].count != maxSegments {
		t.Errorf("100 small datagrams: %d messages, first of %d; want 2, first of %d", len(p.msgs), p.msgs[0].count, maxSegments)
	}
	p.reset()
	for i := 0; i < 50; i++ {
		p.add(0, v1, &h, big)
	}
	for _, m := range p.msgs {
		if m.bytes > maxGSOPayload {
			t.Errorf("a message of %d bytes, more than %d", m.bytes, maxGSOPayload)
		}
	}
	// Without GSO, one datagram per message.
	p = newPlan(false)
	p.add(0, v1, &h, big)
	p.add(0, v1, &h, big)
	if len(p.msgs) != 2 {
		t.Errorf("without GSO: %d messages for 2 datagrams", len(p.msgs))
	}
}

func TestPlanBySocketKeepsEachSocketsOrder(t *testing.T) {
	v := &vtep{}
	var h [HeaderLen]byte
	p := newPlan(false)
	socks := []int{1, 0, 1, 2, 0, 1}
	for i, s := range socks {
		p.add(s, v, &h, make([]byte, 100+i))
	}
	var got []int
	for _, m := range p.bySocket(3) {
		got = append(got, m.sock*100+m.first)
	}
	want := []int{0*100 + 1, 0*100 + 4, 100 + 0, 100 + 2, 100 + 5, 200 + 3}
	if len(got) != len(want) {
		t.Fatalf("%v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("%v, want %v (socket*100+datagram)", got, want)
		}
	}
}
