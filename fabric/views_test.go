package fabric_test

import (
	"bytes"
	"encoding/binary"
	"testing"

	"github.com/l2fabric/l2fabric/fabric"
	"github.com/l2fabric/l2fabric/fabric/fabrictest"
)

// A ViewReader's frames are the fabric's only until its next ReadViews:
// they must be in the egress queues by then. The egress port here is
// blocked while the ingress port reads batch after batch (and scribbles
// over its buffer each time), so queued frames that still pointed into it
// would come out as garbage.
func TestViewReaderFramesOutliveTheirViews(t *testing.T) {
	tf := newTestFabric(t, fabric.Config{})
	b := tf.attach(fabric.PortConfig{Name: "b"})
	tf.attach(fabric.PortConfig{Name: "c"})
	if err := tf.f.AddStatic(fabric.Static{VLAN: fabric.DefaultVLAN, MAC: mac(macB), Port: "b"}, false); err != nil {
		t.Fatal(err)
	}
	b.Block()
	a := fabrictest.NewView(4)
	if err := tf.f.Attach(a, fabric.PortConfig{Name: "a"}); err != nil {
		t.Fatal(err)
	}
	want := numbered(macB, macA, 40)
	a.Inject(want...)
	a.Inject(eth(macB, macA, 3000)) // longer than the port's buffer: oversize
	a.Inject(eth(macB, macA, 100)[:10])
	tf.ports["a"] = a.Port
	tf.barrier("a", macA, 1, false, "c") // a has read everything before it
	b.Unblock()
	out, err := b.WaitWritten(len(want), wait)
	if err != nil {
		t.Fatal(err)
	}
	sameFrames(t, out[:len(want)], want)
	c := tf.counters("a")
	if c.Oversize != 1 || c.Runt != 1 {
		t.Errorf("a counted oversize %d, runt %d; want 1 and 1", c.Oversize, c.Runt)
	}
}

// numbered returns n unicast frames from src to dst, each carrying its
// index.
func numbered(dst, src string, n int) [][]byte {
	var fs [][]byte
	for i := 0; i < n; i++ {
		f := eth(dst, src, 60)
		binary.BigEndian.PutUint32(f[14:], uint32(i))
		fs = append(fs, f)
	}
	return fs
}

func sameFrames(t *testing.T, got, want [][]byte) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%d frames written, want %d", len(got), len(want))
	}
	for i := range want {
		if !bytes.Equal(got[i], want[i]) {
			t.Fatalf("frame %d written out of order or changed:\n got %x\nwant %x", i, got[i], want[i])
		}
	}
}

// A wrapper with a Read hook must see every frame: Wrap does not pass
// ViewReader through, so the fabric reads the wrapped port with Read.
func TestWrapReadsAViewReaderThroughRead(t *testing.T) {
	hooked := 0
	inner := fabrictest.NewView(4)
	w, err := fabric.Wrap(inner, fabric.Hooks{Read: func(bufs [][]byte, sizes []int) (int, error) {
		n, err := inner.Read(bufs, sizes)
		hooked += n
		return n, err
	}})
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := w.(fabric.ViewReader); ok {
		t.Fatal("the wrapped port is a ViewReader: ReadViews would bypass the Read hook")
	}
	tf := newTestFabric(t, fabric.Config{})
	tf.attach(fabric.PortConfig{Name: "b"})
	if err := tf.f.Attach(w, fabric.PortConfig{Name: "a"}); err != nil {
		t.Fatal(err)
	}
	tf.ports["a"] = inner.Port
	tf.barrier("a", macA, 1, false, "b")
	if hooked == 0 {
		t.Error("the Read hook saw no frame")
	}
}
