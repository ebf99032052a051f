package fabric_test

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"

	"github.com/l2fabric/l2fabric/fabric"
	"github.com/l2fabric/l2fabric/fabric/fabrictest"
)

// testDevice is a Device that owns nothing but its name.
type testDevice struct {
	name   string
	closed atomic.Bool
}

func (d *testDevice) Name() string { return d.name }
func (d *testDevice) Info() string { return "test device" }
func (d *testDevice) Close() error { d.closed.Store(true); return nil }

// openedKinds are kinds whose Open records what it returned: "port:NAME"
// returns a port, "dev:NAME" a device, "both:NAME" a device and its port
// NAME/0.
type openedKinds struct {
	ports   []*fabrictest.Port
	devices []*testDevice
}

func (k *openedKinds) kinds() fabric.Kinds {
	open := func(port, dev bool) func(context.Context, fabric.Spec, fabric.PortConfig, fabric.Attacher) (fabric.Opened, error) {
		return func(_ context.Context, s fabric.Spec, cfg fabric.PortConfig, _ fabric.Attacher) (fabric.Opened, error) {
			var o fabric.Opened
			if dev {
				d := &testDevice{name: s.Arg}
				k.devices = append(k.devices, d)
				o.Device = d
			}
			if port {
				p := fabrictest.New(4)
				k.ports = append(k.ports, p)
				cfg.Name, cfg.Kind = s.Arg, s.Kind
				if dev {
					cfg.Name, cfg.Device = s.Arg+"/0", s.Arg
				}
				o.Port, o.Config = p, cfg
			}
			return o, nil
		}
	}
	return fabric.Kinds{
		{Name: "port", Open: open(true, false)},
		{Name: "dev", Open: open(false, true)},
		{Name: "both", Open: open(true, true)},
	}
}

func names(f *fabric.Fabric) map[string]string {
	out := map[string]string{}
	for _, p := range f.Ports() {
		out[p.Name] = p.State
	}
	return out
}

func TestOpenAttachesWhatTheKindReturns(t *testing.T) {
	k := &openedKinds{}
	tf := newTestFabric(t, fabric.Config{Kinds: k.kinds()})
	f := tf.f

	if name, err := f.Open("port:a"); err != nil || name != "a" {
		t.Fatalf(`Open("port:a") = %q, %v; want the port's name`, name, err)
	}
	if name, err := f.Open("both:b"); err != nil || name != "b" {
		t.Fatalf(`Open("both:b") = %q, %v; want the device's name`, name, err)
	}
	if got := names(f); got["a"] != "up" || got["b/0"] != "up" || got["b"] != "listening" || len(got) != 3 {
		t.Fatalf("ports after opening: %v; want a, b/0 up and device b", got)
	}

	// Detaching the device takes its port with it.
	if err := f.Detach("b"); err != nil {
		t.Fatal(err)
	}
	if !k.devices[0].closed.Load() || !k.ports[1].Closed() {
		t.Error("detaching device b left it or its port open")
	}
	if got := names(f); len(got) != 1 {
		t.Errorf("ports after detaching b: %v; want a alone", got)
	}
}

func TestNameInUse(t *testing.T) {
	k := &openedKinds{}
	tf := newTestFabric(t, fabric.Config{Kinds: k.kinds()})
	f := tf.f
	if _, err := f.Open("port:a"); err != nil {
		t.Fatal(err)
	}

	// A second port of that name: refused, and the fabric closes it.
	if _, err := f.Open("port:a"); !errors.Is(err, fabric.ErrNameInUse) {
		t.Errorf("second port a: %v; want ErrNameInUse", err)
	}
	if !k.ports[1].Closed() {
		t.Error("the refused port was not closed")
	}
	// A device of that name: refused and closed.
	if _, err := f.Open("dev:a"); !errors.Is(err, fabric.ErrNameInUse) {
		t.Errorf("device a: %v; want ErrNameInUse", err)
	}
	if !k.devices[0].closed.Load() {
		t.Error("the refused device was not closed")
	}
	// A port named after a device, attached directly.
	if _, err := f.Open("dev:d"); err != nil {
		t.Fatal(err)
	}
	if err := f.Attach(fabrictest.New(1), fabric.PortConfig{Name: "d"}); !errors.Is(err, fabric.ErrNameInUse) {
		t.Errorf("port d beside device d: %v; want ErrNameInUse", err)
	}
	if got := names(f); len(got) != 2 || got["a"] != "up" || got["d"] != "listening" {
		t.Errorf("after the refusals: %v; want port a and device d", got)
	}
}
