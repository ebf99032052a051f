package macnat

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/gopacket/gopacket/layers"
	"golang.org/x/net/bpf"

	"github.com/l2fabric/l2fabric/backends/internal/bpfndrv"
	"github.com/l2fabric/l2fabric/fabric"
	"github.com/l2fabric/l2fabric/fabric/fabrictest"
	"github.com/l2fabric/l2fabric/frames"
	"github.com/l2fabric/l2fabric/frames/offload"
)

func hostAddrs() (frames.MAC, []netip.Addr, error) {
	return hostMAC, []netip.Addr{hostIP4, hostIP6}, nil
}

func wrap(t *testing.T, inner fabric.Port) fabric.Port {
	t.Helper()
	p, err := Wrap(inner, Config{Host: hostAddrs})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// plainPort is a port with no optional interface.
type plainPort struct{ fabric.Port }

func TestWrapKeepsOptionalInterfaces(t *testing.T) {
	for _, tc := range []struct {
		name          string
		inner         fabric.Port
		gso, linker   bool
		addressFilter bool
	}{
		{"plain", plainPort{fabrictest.New(8)}, false, false, true},
		{"linker", fabrictest.New(8), false, true, true},
		{"gso", fabrictest.NewGSO(8), true, true, true},
		{"filter", fabrictest.NewFilter(8), false, true, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := wrap(t, tc.inner)
			defer p.Close()
			_, gso := p.(fabric.GSOPort)
			_, linker := p.(fabric.Linker)
			_, af := p.(fabric.AddressFilter)
			_, nat := p.(fabric.NATPort)
			_, rxd := p.(fabric.RxDropper)
			if gso != tc.gso || linker != tc.linker || af != tc.addressFilter || !nat || !rxd {
				t.Errorf("GSOPort %v Linker %v AddressFilter %v NATPort %v RxDropper %v; want %v %v %v true true",
					gso, linker, af, nat, rxd, tc.gso, tc.linker, tc.addressFilter)
			}
		})
	}
}

func TestWrapNeedsTheHostsMAC(t *testing.T) {
	_, err := Wrap(fabrictest.New(8), Config{Host: func() (frames.MAC, []netip.Addr, error) {
		return frames.MAC{}, nil, errors.New("no such interface")
	}})
	if err == nil {
		t.Fatal("Wrap succeeded without the host's MAC")
	}
}

// eventually polls check until it succeeds or a generous bound passes.
func eventually(t *testing.T, what string, check func() error) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		err := check()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: %v", what, err)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// On a real fabric: a VM's DHCP discover leaves translated, replies reach
// the VM, frames for the host do not, the filter admits the host's MAC,
// and the VM's entries go when its port detaches.
func TestWrapOnFabric(t *testing.T) {
	f, err := fabric.New(fabric.Config{})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { f.Run(ctx); close(done) }()
	defer func() { cancel(); <-done }()
	wifi := fabrictest.NewFilter(8)
	if err := f.Attach(wrap(t, wifi), fabric.PortConfig{Name: "wifi"}); err != nil {
		t.Fatal(err)
	}
	vm := fabrictest.New(8)
	if err := f.Attach(vm, fabric.PortConfig{Name: "vm1"}); err != nil {
		t.Fatal(err)
	}

	vm.Inject(dhcpFrame(t, vm1MAC, zero4, layers.DHCPMsgTypeDiscover, 0), ipv4Frame(t, vm1MAC, lanMAC, vm1IP4, lanIP4, "hi"))
	out, err := wifi.WaitWritten(2, 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	wantBytes(t, "discover", out[0], dhcpFrame(t, hostMAC, zero4, layers.DHCPMsgTypeDiscover, 0x8000))
	wantBytes(t, "IPv4", out[1], ipv4Frame(t, hostMAC, lanMAC, vm1IP4, lanIP4, "hi"))

	wifi.Inject(ipv4Frame(t, lanMAC, hostMAC, lanIP4, hostIP4, "host's"), ipv4Frame(t, lanMAC, hostMAC, lanIP4, vm1IP4, "vm's"))
	got, err := vm.WaitWritten(1, 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	wantBytes(t, "reply", got[0], ipv4Frame(t, lanMAC, vm1MAC, lanIP4, vm1IP4, "vm's"))

	eventually(t, "counters and filter", func() error {
		var c *fabric.NATCounters
		for _, pi := range f.Ports() {
			if pi.Name == "wifi" {
				c = pi.Counters.NAT
			}
		}
		if c == nil || c.TranslatedOut != 2 || c.TranslatedIn != 1 || c.ToHost != 1 {
			return fmt.Errorf("counters %+v", c)
		}
		remote, _ := wifi.Remote()
		if fmt.Sprint(remote) != fmt.Sprint([]frames.MAC{hostMAC, vm1MAC}) {
			return fmt.Errorf("filter admits %v, want the host's MAC and the VM's", remote)
		}
		return nil
	})
	es := f.NATEntries("wifi")
	var vmEntry *fabric.NATDumpEntry
	for i := range es {
		if es[i].IP == vm1IP4 {
			vmEntry = &es[i]
		}
	}
	if vmEntry == nil || vmEntry.MAC != vm1MAC || vmEntry.Port != "vm1" {
		t.Fatalf("NATEntries = %+v, want %s at %s behind vm1", es, vm1IP4, vm1MAC)
	}

	if err := f.Detach("vm1"); err != nil {
		t.Fatal(err)
	}
	eventually(t, "entries flushed on detach", func() error {
		for _, e := range f.NATEntries("wifi") {
			if !e.Host {
				return fmt.Errorf("entry %+v left", e)
			}
		}
		return nil
	})
}

// A TCP super-frame with a partial checksum keeps its header and every
// byte but the source MAC: the Ethernet header is not checksummed.
func TestWrapGSOSuperFrame(t *testing.T) {
	inner := fabrictest.NewGSO(8)
	p := wrap(t, inner).(fabric.GSOPort)
	defer p.Close()
	super := make([]byte, frames.HeaderLen+20+20+30000)
	copy(super, lanMAC[:])
	copy(super[6:], vm1MAC[:])
	binary.BigEndian.PutUint16(super[12:], etherTypeIPv4)
	ip4 := super[frames.HeaderLen:]
	ip4[0], ip4[9] = 0x45, 6
	copy(ip4[12:], vm1IP4.AsSlice())
	copy(ip4[16:], lanIP4.AsSlice())
	ip4[20+12] = 5 << 4
	h := offload.Header{Flags: offload.FlagNeedsCsum, GSOType: offload.GSOTCPv4, GSOSize: 1448, CsumStart: 34, CsumOffset: 16}
	orig := append([]byte(nil), super...)
	if n, err := p.WriteGSO([][]byte{super}, []offload.Header{h}); n != 1 || err != nil {
		t.Fatal(n, err)
	}
	w := inner.Written()[0]
	if frames.Frame(w).Source() != hostMAC || string(w[12:]) != string(orig[12:]) || inner.WrittenGSO()[0] != h {
		t.Error("super-frame changed beyond its source MAC, or its header changed")
	}

	// Inbound: the frame for the host is dropped, the VM's restored, and
	// headers stay with their frames.
	p.(fabric.AddressFilter).SetRemoteMACs(nil)
	toHost := append([]byte(nil), orig...)
	copy(toHost, hostMAC[:])
	copy(toHost[frames.HeaderLen+16:], hostIP4.AsSlice())
	toVM := append([]byte(nil), orig...)
	copy(toVM, hostMAC[:])
	copy(toVM[frames.HeaderLen+12:], lanIP4.AsSlice())
	copy(toVM[frames.HeaderLen+16:], vm1IP4.AsSlice())
	w2 := append([]byte(nil), toVM...)
	p.Write([][]byte{ipv4Frame(t, vm1MAC, lanMAC, vm1IP4, lanIP4, "learn me")})
	inner.InjectGSO(toHost, offload.Header{})
	inner.InjectGSO(toVM, h)
	bufs := [][]byte{make([]byte, fabric.MaxGSOFrame), make([]byte, fabric.MaxGSOFrame)}
	sizes := make([]int, 2)
	hdrs := make([]offload.Header, 2)
	got := 0
	for got == 0 {
		n, err := p.ReadGSO(bufs, sizes, hdrs)
		if err != nil {
			t.Fatal(err)
		}
		got = n
	}
	copy(w2, vm1MAC[:])
	if got != 1 || hdrs[0] != h {
		t.Fatalf("read %d frames, header %+v; want 1, %+v", got, hdrs[0], h)
	}
	wantBytes(t, "super-frame in", bufs[0][:sizes[0]], w2)
}

// On macOS the host port's BPF filter admits what SetRemoteMACs says: the
// wrapper adds the host's MAC, so that replies to VMs, addressed to it,
// reach the translator. Run the program the filter would load.
func TestFilterAdmitsTheHostsMAC(t *testing.T) {
	inner := fabrictest.NewFilter(8)
	p := wrap(t, inner)
	defer p.Close()
	p.(fabric.AddressFilter).SetRemoteMACs([]frames.MAC{vm1MAC})
	remote, _ := inner.Remote()
	prog, exact := bpfndrv.FilterProgram(remote)
	if !exact {
		t.Fatal("filter not exact for two MACs")
	}
	insts, ok := bpf.Disassemble(prog)
	if !ok {
		t.Fatal("cannot disassemble the filter")
	}
	vm, err := bpf.NewVM(insts)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		dst   frames.MAC
		admit bool
	}{{hostMAC, true}, {vm1MAC, true}, {bcast, true}, {vm2MAC, false}, {lanMAC, false}} {
		n, err := vm.Run(ipv4Frame(t, lanMAC, tc.dst, lanIP4, vm1IP4, "x"))
		if err != nil || (n > 0) != tc.admit {
			t.Errorf("frame to %s: filter returned %d, %v; want admitted %v", tc.dst, n, err, tc.admit)
		}
	}
}

// The host interface's MAC can change (a Wi-Fi private address per
// network): the translator and the filter follow it.
func TestWrapFollowsTheHostsMAC(t *testing.T) {
	var mu sync.Mutex
	mac := hostMAC
	inner := fabrictest.NewFilter(8)
	p, err := Wrap(inner, Config{PollInterval: time.Millisecond, Host: func() (frames.MAC, []netip.Addr, error) {
		mu.Lock()
		defer mu.Unlock()
		return mac, []netip.Addr{hostIP4}, nil
	}})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	p.(fabric.AddressFilter).SetRemoteMACs(nil)
	newMAC := frames.MAC{0x02, 0xaa, 0, 0, 0, 0x77}
	mu.Lock()
	mac = newMAC
	mu.Unlock()
	eventually(t, "the filter admits the new MAC", func() error {
		if remote, _ := inner.Remote(); fmt.Sprint(remote) != fmt.Sprint([]frames.MAC{newMAC}) {
			return fmt.Errorf("filter admits %v", remote)
		}
		return nil
	})
	if _, err := p.Write([][]byte{ipv4Frame(t, vm1MAC, lanMAC, vm1IP4, lanIP4, "x")}); err != nil {
		t.Fatal(err)
	}
	if src := frames.Frame(inner.Written()[0]).Source(); src != newMAC {
		t.Errorf("frame left with source %s, want the new MAC %s", src, newMAC)
	}
}
