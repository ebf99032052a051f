package fabric_test

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/l2fabric/l2fabric/fabric"
	"github.com/l2fabric/l2fabric/fabric/fabrictest"
	"github.com/l2fabric/l2fabric/frames"
)

// waitRemote waits until p was last told exactly want.
func waitRemote(t *testing.T, p *fabrictest.FilterPort, want ...string) {
	t.Helper()
	var w []frames.MAC
	for _, s := range want {
		w = append(w, mac(s))
	}
	deadline := time.Now().Add(wait)
	for {
		got, _ := p.Remote()
		if slices.Equal(got, w) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("filter port told %v, want %v", got, w)
		}
		time.Sleep(time.Millisecond)
	}
}

func TestAddressFilterToldRemoteMACs(t *testing.T) {
	tf := newTestFabric(t, fabric.Config{})
	nic := fabrictest.NewFilter(8)
	if err := tf.f.Attach(nic, fabric.PortConfig{Name: "nic"}); err != nil {
		t.Fatal(err)
	}
	tf.ports["nic"] = nic.Port
	// A VM port configured with mac= is behind the fabric from the start.
	tf.attach(fabric.PortConfig{Name: "vm", MAC: mac(macD)})
	tf.attach(fabric.PortConfig{Name: "a"})
	waitRemote(t, nic, macD)

	// Learned on another port: added. Learned on the NIC itself: not.
	tf.barrier("a", macA, 1, false, "vm")
	tf.barrier("nic", macC, 1, false, "vm")
	waitRemote(t, nic, macA, macD)

	// A static entry elsewhere counts too; deleting it removes it.
	if err := tf.f.AddStatic(fabric.Static{MAC: mac(macB), Port: "a"}, false); err != nil {
		t.Fatal(err)
	}
	waitRemote(t, nic, macA, macB, macD)
	if err := tf.f.DeleteEntry(1, mac(macB)); err != nil {
		t.Fatal(err)
	}
	waitRemote(t, nic, macA, macD)

	// A port leaving takes its MACs with it.
	if err := tf.f.Detach("a"); err != nil {
		t.Fatal(err)
	}
	waitRemote(t, nic, macD)
	_, before := nic.Remote()
	// Traffic that changes nothing sends no update.
	for i := 0; i < 5; i++ {
		tf.barrier("nic", macC, 1, false, "vm")
	}
	if _, after := nic.Remote(); after != before {
		t.Errorf("filter updated %d times without a change", after-before)
	}
}

func TestAddressFilterManyMACsCoalesced(t *testing.T) {
	tf := newTestFabric(t, fabric.Config{})
	nic := fabrictest.NewFilter(64)
	if err := tf.f.Attach(nic, fabric.PortConfig{Name: "nic"}); err != nil {
		t.Fatal(err)
	}
	tf.attach(fabric.PortConfig{Name: "vms"})
	tf.attach(fabric.PortConfig{Name: "obs"})
	var want []string
	for i := 0; i < 500; i++ {
		m := fmt.Sprintf("02:00:00:00:%02x:%02x", i>>8, i&0xff)
		want = append(want, m)
		tf.ports["vms"].Inject(eth("ff:ff:ff:ff:ff:ff", m, 46))
	}
	tf.barrier("vms", "02:00:00:00:00:00", 1, false, "obs")
	waitRemote(t, nic, want...)
	if _, calls := nic.Remote(); calls > 100 {
		t.Errorf("500 new MACs caused %d filter updates: updates are not coalesced", calls)
	}
}
