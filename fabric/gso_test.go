package fabric_test

import (
	"bytes"
	"encoding/binary"
	"testing"

	"github.com/l2fabric/l2fabric/fabric"
	"github.com/l2fabric/l2fabric/fabric/fabrictest"
	"github.com/l2fabric/l2fabric/frames"
	"github.com/l2fabric/l2fabric/frames/offload"
)

// superFrame builds a TCP/IPv4 super-frame from src to dst with payload
// bytes of data and the header the kernel would give it: GSO with mss,
// checksum to be completed (the TCP checksum field holds the pseudo-header
// sum).
func superFrame(dst, src string, payload, mss int) ([]byte, offload.Header) {
	const ipLen, tcpLen = 20, 20
	f := make([]byte, frames.HeaderLen+ipLen+tcpLen+payload)
	d, s := mac(dst), mac(src)
	copy(f[0:6], d[:])
	copy(f[6:12], s[:])
	binary.BigEndian.PutUint16(f[12:], 0x0800)
	ip := f[14:]
	ip[0] = 0x45
	binary.BigEndian.PutUint16(ip[2:], uint16(ipLen+tcpLen+payload))
	binary.BigEndian.PutUint16(ip[4:], 1000) // ID
	ip[8], ip[9] = 64, 6
	copy(ip[12:16], []byte{198, 18, 0, 1})
	copy(ip[16:20], []byte{198, 18, 0, 2})
	binary.BigEndian.PutUint16(ip[10:], offload.Checksum(ip[:ipLen], 0))
	tcp := ip[ipLen:]
	binary.BigEndian.PutUint16(tcp[0:], 40000)
	binary.BigEndian.PutUint16(tcp[2:], 5201)
	binary.BigEndian.PutUint32(tcp[4:], 1)
	tcp[12] = 5 << 4
	tcp[13] = 0x18 // PSH|ACK
	for i := range tcp[tcpLen:] {
		tcp[tcpLen+i] = byte(i * 7)
	}
	// The pseudo-header sum, not complemented, as CHECKSUM_PARTIAL leaves it.
	ps := offload.PseudoHeaderSum(6, ip[12:16], ip[16:20], uint32(tcpLen+payload))
	binary.BigEndian.PutUint16(tcp[16:], ^offload.Fold(ps))
	h := offload.Header{
		Flags: offload.FlagNeedsCsum, GSOType: offload.GSOTCPv4, GSOSize: uint16(mss),
		HdrLen: uint16(frames.HeaderLen + ipLen + tcpLen), CsumStart: uint16(frames.HeaderLen + ipLen), CsumOffset: 16,
	}
	if payload <= mss {
		h.GSOType, h.GSOSize = offload.GSONone, 0
	}
	return f, h
}

// checkTCPSegment verifies a frame's IPv4 and TCP checksums and returns its
// TCP payload.
func checkTCPSegment(t *testing.T, f []byte) []byte {
	t.Helper()
	fr := frames.Frame(f)
	off := frames.HeaderLen
	if fr.Tagged() {
		off += frames.TagLen
	}
	ip := f[off:]
	if offload.Checksum(ip[:20], 0) != 0 {
		t.Fatalf("segment has a bad IPv4 header checksum")
	}
	total := int(binary.BigEndian.Uint16(ip[2:]))
	if total != len(ip) {
		t.Fatalf("IPv4 total length %d, frame carries %d", total, len(ip))
	}
	ps := offload.PseudoHeaderSum(6, ip[12:16], ip[16:20], uint32(total-20))
	if offload.Checksum(ip[20:total], ps) != 0 {
		t.Fatalf("segment has a bad TCP checksum")
	}
	return ip[40:total]
}

func TestSuperFrameSegmentedForOrdinaryPorts(t *testing.T) {
	tf := newTestFabric(t, fabric.Config{})
	in := fabrictest.NewGSO(8)
	if err := tf.f.Attach(in, fabric.PortConfig{Name: "nic", Trunk: []uint16{1}, VLAN: 1}); err != nil {
		t.Fatal(err)
	}
	tf.ports["nic"] = in.Port
	vm := tf.attach(fabric.PortConfig{Name: "vm"})
	trunk := tf.attach(fabric.PortConfig{Name: "trunk", Trunk: []uint16{1}})
	f, h := superFrame(macB, macA, 20000, 1448)
	in.InjectGSO(f, h)
	want := f[frames.HeaderLen+40:]
	for _, c := range []struct {
		name string
		p    *fabrictest.Port
		tag  bool
	}{{"vm", vm, false}, {"trunk", trunk, true}} {
		got, err := c.p.WaitWritten(14, wait)
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		var payload []byte
		for _, s := range got {
			fr := frames.Frame(s)
			if fr.Tagged() != c.tag || (c.tag && fr.VLAN() != 1) {
				t.Fatalf("%s: segment tagged=%v, want %v", c.name, fr.Tagged(), c.tag)
			}
			limit := 1514
			if c.tag {
				limit += frames.TagLen
			}
			if len(s) > limit {
				t.Fatalf("%s: %d-byte segment on an MTU-1500 port", c.name, len(s))
			}
			payload = append(payload, checkTCPSegment(t, s)...)
		}
		if !bytes.Equal(payload, want) {
			t.Errorf("%s: segments carry %d payload bytes, not the super-frame's %d", c.name, len(payload), len(want))
		}
	}
}

func TestSuperFrameCarriedWholeBetweenGSOPorts(t *testing.T) {
	tf := newTestFabric(t, fabric.Config{})
	a, b := fabrictest.NewGSO(8), fabrictest.NewGSO(8)
	if err := tf.f.Attach(a, fabric.PortConfig{Name: "a"}); err != nil {
		t.Fatal(err)
	}
	if err := tf.f.Attach(b, fabric.PortConfig{Name: "b", Trunk: []uint16{1}}); err != nil {
		t.Fatal(err)
	}
	f, h := superFrame(macB, macA, 60000, 1448)
	a.InjectGSO(f, h)
	got, err := b.WaitWritten(1, wait)
	if err != nil {
		t.Fatal(err)
	}
	// b is a trunk: the frame leaves tagged, and the header's offsets
	// move with the tag.
	if want := frames.AppendTagged(nil, f, 1); !bytes.Equal(got[0], want) {
		t.Fatalf("super-frame not carried whole: %d bytes, want %d", len(got[0]), len(want))
	}
	wantH := h
	wantH.CsumStart += frames.TagLen
	wantH.HdrLen += frames.TagLen
	if hs := b.WrittenGSO(); len(hs) != 1 || hs[0] != wantH {
		t.Fatalf("header %+v, want %+v", hs, wantH)
	}
}

func TestPartialChecksumCompletedForOrdinaryPorts(t *testing.T) {
	tf := newTestFabric(t, fabric.Config{})
	a := fabrictest.NewGSO(8)
	if err := tf.f.Attach(a, fabric.PortConfig{Name: "a"}); err != nil {
		t.Fatal(err)
	}
	vm := tf.attach(fabric.PortConfig{Name: "vm"})
	f, h := superFrame(macB, macA, 1000, 1448)
	if h.IsGSO() || h.Flags&offload.FlagNeedsCsum == 0 {
		t.Fatalf("test frame header %+v", h)
	}
	a.InjectGSO(f, h)
	got, err := vm.WaitWritten(1, wait)
	if err != nil {
		t.Fatal(err)
	}
	checkTCPSegment(t, got[0])
}

func TestSuperFrameTooBigForEgressMTU(t *testing.T) {
	tf := newTestFabric(t, fabric.Config{})
	a := fabrictest.NewGSO(8)
	if err := tf.f.Attach(a, fabric.PortConfig{Name: "a", MTU: 9000}); err != nil {
		t.Fatal(err)
	}
	tf.ports["a"] = a.Port
	tf.attach(fabric.PortConfig{Name: "small", MTU: 1500})
	f, h := superFrame(macB, macA, 30000, 8960)
	a.InjectGSO(f, h)
	m, _ := tf.marker(macA, 1, false)
	a.InjectGSO(m, offload.Header{})
	got, err := tf.ports["small"].WaitWritten(1, wait)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || frames.Frame(got[0]).EtherType() != markerType {
		t.Errorf("small port got %d frames before the marker", len(got)-1)
	}
	if c := tf.counters("small"); c.TxOversize != 1 {
		t.Errorf("tx_oversize = %d, want 1", c.TxOversize)
	}
}
