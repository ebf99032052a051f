package fabric_test

import (
	"fmt"
	"slices"
	"testing"

	"github.com/l2fabric/l2fabric/fabric"
	"github.com/l2fabric/l2fabric/fabric/fabrictest"
	"github.com/l2fabric/l2fabric/frames"
	"github.com/l2fabric/l2fabric/frames/offload"
)

// fullPort has every method a port can have and records which were called.
type fullPort struct {
	calls []string
	link  chan fabric.LinkEvent
}

func (p *fullPort) called(m string) { p.calls = append(p.calls, m) }

func (p *fullPort) Read(bufs [][]byte, sizes []int) (int, error) { p.called("Read"); return 0, nil }
func (p *fullPort) Write(bufs [][]byte) (int, error)             { p.called("Write"); return len(bufs), nil }
func (p *fullPort) BatchSize() int                               { p.called("BatchSize"); return 7 }
func (p *fullPort) Close() error                                 { p.called("Close"); return nil }
func (p *fullPort) ReadGSO(bufs [][]byte, sizes []int, hdrs []offload.Header) (int, error) {
	p.called("ReadGSO")
	return 0, nil
}
func (p *fullPort) WriteGSO(bufs [][]byte, hdrs []offload.Header) (int, error) {
	p.called("WriteGSO")
	return len(bufs), nil
}
func (p *fullPort) LinkEvents() <-chan fabric.LinkEvent { p.called("LinkEvents"); return p.link }
func (p *fullPort) SetRemoteMACs(macs []frames.MAC)     { p.called("SetRemoteMACs") }
func (p *fullPort) RxDropped() uint64                   { p.called("RxDropped"); return 42 }

// optional is the set of optional interfaces a port implements.
type optional struct{ gso, filter, linker, dropper bool }

func optionalOf(p fabric.Port) optional {
	var o optional
	_, o.gso = p.(fabric.GSOPort)
	_, o.filter = p.(fabric.AddressFilter)
	_, o.linker = p.(fabric.Linker)
	_, o.dropper = p.(fabric.RxDropper)
	return o
}

func (o optional) String() string {
	return fmt.Sprintf("GSOPort %v, AddressFilter %v, Linker %v, RxDropper %v", o.gso, o.filter, o.linker, o.dropper)
}

// everyCombination returns p seen through each of the sixteen
// combinations of optional interfaces.
func everyCombination(p *fullPort) []fabric.Port {
	type (
		P = fabric.Port
		G = fabric.GSOPort
		F = fabric.AddressFilter
		L = fabric.Linker
		D = fabric.RxDropper
	)
	return []fabric.Port{
		struct{ P }{p},
		struct {
			P
			D
		}{p, p},
		struct {
			P
			L
		}{p, p},
		struct {
			P
			L
			D
		}{p, p, p},
		struct {
			P
			F
		}{p, p},
		struct {
			P
			F
			D
		}{p, p, p},
		struct {
			P
			F
			L
		}{p, p, p},
		struct {
			P
			F
			L
			D
		}{p, p, p, p},
		struct{ G }{p},
		struct {
			G
			D
		}{p, p},
		struct {
			G
			L
		}{p, p},
		struct {
			G
			L
			D
		}{p, p, p},
		struct {
			G
			F
		}{p, p},
		struct {
			G
			F
			D
		}{p, p, p},
		struct {
			G
			F
			L
		}{p, p, p},
		struct {
			G
			F
			L
			D
		}{p, p, p, p},
	}
}

func TestWrapKeepsOptionalInterfaces(t *testing.T) {
	seen := map[optional]bool{}
	for _, inner := range everyCombination(&fullPort{}) {
		want := optionalOf(inner)
		seen[want] = true
		w, err := fabric.Wrap(inner, fabric.Hooks{Close: func() error { return nil }})
		if err != nil {
			t.Fatalf("wrapping a port with %v: %v", want, err)
		}
		if got := optionalOf(w); got != want {
			t.Errorf("wrapping a port with %v gives one with %v", want, got)
		}
	}
	if len(seen) != 16 {
		t.Fatalf("the test covers %d combinations of optional interfaces, not 16", len(seen))
	}
}

func TestWrapHooksAddInterfaces(t *testing.T) {
	for _, inner := range everyCombination(&fullPort{}) {
		in := optionalOf(inner)
		w, err := fabric.Wrap(inner, fabric.Hooks{
			LinkEvents:    func() <-chan fabric.LinkEvent { return nil },
			SetRemoteMACs: func([]frames.MAC) {},
			RxDropped:     func() uint64 { return 0 },
		})
		if err != nil {
			t.Fatalf("wrapping a port with %v: %v", in, err)
		}
		want := optional{gso: in.gso, filter: true, linker: true, dropper: true}
		if got := optionalOf(w); got != want {
			t.Errorf("wrapping a port with %v and hooking the rest gives one with %v, want %v", in, got, want)
		}
	}
}

// callAll calls every method of p that it has.
func callAll(p fabric.Port) {
	bufs, sizes, hdrs := [][]byte{make([]byte, 64)}, []int{0}, []offload.Header{{}}
	p.Read(bufs, sizes)
	p.Write(bufs)
	p.BatchSize()
	if g, ok := p.(fabric.GSOPort); ok {
		g.ReadGSO(bufs, sizes, hdrs)
		g.WriteGSO(bufs, hdrs)
	}
	if l, ok := p.(fabric.Linker); ok {
		l.LinkEvents()
	}
	if f, ok := p.(fabric.AddressFilter); ok {
		f.SetRemoteMACs(nil)
	}
	if d, ok := p.(fabric.RxDropper); ok {
		d.RxDropped()
	}
	p.Close()
}

var allMethods = []string{"Read", "Write", "BatchSize", "ReadGSO", "WriteGSO", "LinkEvents", "SetRemoteMACs", "RxDropped", "Close"}

func TestWrapForwardsUnhookedMethods(t *testing.T) {
	inner := &fullPort{}
	w, err := fabric.Wrap(inner, fabric.Hooks{})
	if err != nil {
		t.Fatal(err)
	}
	callAll(w)
	if !slices.Equal(inner.calls, allMethods) {
		t.Errorf("the wrapped port saw %v, want %v", inner.calls, allMethods)
	}
}

func TestWrapCallsHooks(t *testing.T) {
	inner := &fullPort{}
	var hooked []string
	hook := func(m string) { hooked = append(hooked, m) }
	w, err := fabric.Wrap(inner, fabric.Hooks{
		Read:          func([][]byte, []int) (int, error) { hook("Read"); return 0, nil },
		Write:         func([][]byte) (int, error) { hook("Write"); return 0, nil },
		ReadGSO:       func([][]byte, []int, []offload.Header) (int, error) { hook("ReadGSO"); return 0, nil },
		WriteGSO:      func([][]byte, []offload.Header) (int, error) { hook("WriteGSO"); return 0, nil },
		LinkEvents:    func() <-chan fabric.LinkEvent { hook("LinkEvents"); return nil },
		SetRemoteMACs: func([]frames.MAC) { hook("SetRemoteMACs") },
		RxDropped:     func() uint64 { hook("RxDropped"); return 0 },
		Close:         func() error { hook("Close"); return nil },
	})
	if err != nil {
		t.Fatal(err)
	}
	callAll(w)
	want := slices.DeleteFunc(slices.Clone(allMethods), func(m string) bool { return m == "BatchSize" })
	if !slices.Equal(hooked, want) {
		t.Errorf("hooks called: %v, want %v", hooked, want)
	}
	if !slices.Equal(inner.calls, []string{"BatchSize"}) {
		t.Errorf("the wrapped port saw %v, want only BatchSize", inner.calls)
	}
}

func TestWrapRefusesHooksFramesWouldBypass(t *testing.T) {
	read := func([][]byte, []int) (int, error) { return 0, nil }
	write := func([][]byte) (int, error) { return 0, nil }
	readGSO := func([][]byte, []int, []offload.Header) (int, error) { return 0, nil }
	writeGSO := func([][]byte, []offload.Header) (int, error) { return 0, nil }
	gso := struct{ fabric.GSOPort }{&fullPort{}}
	plain := struct{ fabric.Port }{&fullPort{}}
	for _, tc := range []struct {
		name  string
		inner fabric.Port
		h     fabric.Hooks
	}{
		{"Read without ReadGSO", gso, fabric.Hooks{Read: read}},
		{"ReadGSO without Read", gso, fabric.Hooks{ReadGSO: readGSO}},
		{"Write without WriteGSO", gso, fabric.Hooks{Write: write}},
		{"WriteGSO without Write", gso, fabric.Hooks{WriteGSO: writeGSO}},
		{"GSO hooks on a plain port", plain, fabric.Hooks{Read: read, ReadGSO: readGSO}},
		{"a nil port", nil, fabric.Hooks{}},
	} {
		if _, err := fabric.Wrap(tc.inner, tc.h); err == nil {
			t.Errorf("%s: no error", tc.name)
		}
	}
	if _, err := fabric.Wrap(gso, fabric.Hooks{Read: read, ReadGSO: readGSO, Write: write, WriteGSO: writeGSO}); err != nil {
		t.Errorf("both directions hooked on a GSO port: %v", err)
	}
}

// TestWrappedFilterPortToldRemoteMACs attaches a wrapped address-filtering
// port: the fabric must still see it filter, and tell it the MACs behind
// the other ports.
func TestWrappedFilterPortToldRemoteMACs(t *testing.T) {
	tf := newTestFabric(t, fabric.Config{})
	nic := fabrictest.NewFilter(8)
	w, err := fabric.Wrap(nic, fabric.Hooks{})
	if err != nil {
		t.Fatal(err)
	}
	if err := tf.f.Attach(w, fabric.PortConfig{Name: "nic"}); err != nil {
		t.Fatal(err)
	}
	tf.attach(fabric.PortConfig{Name: "vm", MAC: mac(macD)})
	waitRemote(t, nic, macD)
}
