package vxlan

import (
	"bytes"
	"encoding/binary"
	"testing"

	"github.com/l2fabric/l2fabric/frames"
)

// ethFrame returns an Ethernet frame dst <- src carrying an IPv4 TCP
// segment between the given ports, padded to size.
func ethFrame(dst, src frames.MAC, sport, dport uint16, size int) []byte {
	f := make([]byte, max(size, 14+20+20))
	copy(f[0:6], dst[:])
	copy(f[6:12], src[:])
	binary.BigEndian.PutUint16(f[12:14], 0x0800)
	ip := f[14:]
	ip[0] = 0x45
	binary.BigEndian.PutUint16(ip[2:4], uint16(len(ip)))
	ip[8], ip[9] = 64, 6
	copy(ip[12:16], []byte{192, 0, 2, 1})
	copy(ip[16:20], []byte{192, 0, 2, 2})
	binary.BigEndian.PutUint16(ip[20:22], sport)
	binary.BigEndian.PutUint16(ip[22:24], dport)
	return f
}

var (
	macA = frames.MAC{0x52, 0x54, 0, 0, 0, 0x0a}
	macB = frames.MAC{0x52, 0x54, 0, 0, 0, 0x0b}
)

func TestHeaderRoundTrip(t *testing.T) {
	for _, vni := range []uint32{1, 100, 4789, MaxVNI} {
		pkt := make([]byte, HeaderLen+60)
		Header(pkt).Encode(vni)
		if pkt[0] != FlagI || pkt[1]|pkt[2]|pkt[3]|pkt[7] != 0 {
			t.Errorf("VNI %d: header % x: want the I flag alone and zero reserved bits", vni, pkt[:8])
		}
		copy(pkt[HeaderLen:], ethFrame(macB, macA, 1, 2, 60))
		got, inner, v := Packet(pkt).Decode()
		if v != Valid || got != vni || !bytes.Equal(inner, pkt[HeaderLen:]) {
			t.Errorf("VNI %d: Decode = %d, %d bytes, %v", vni, got, len(inner), v)
		}
	}
	// The wire bytes of VNI 100, as tcpdump shows the kernel's.
	pkt := make([]byte, 8)
	Header(pkt).Encode(100)
	if want := []byte{0x08, 0, 0, 0, 0, 0, 100, 0}; !bytes.Equal(pkt, want) {
		t.Errorf("VNI 100 encodes as % x, want % x", pkt, want)
	}
}

func TestDecodeVerdicts(t *testing.T) {
	good := make([]byte, HeaderLen+14)
	Header(good).Encode(7)
	with := func(i int, b byte) []byte {
		p := bytes.Clone(good)
		p[i] = b
		return p
	}
	for _, c := range []struct {
		name string
		pkt  []byte
		want Verdict
	}{
		{"empty", nil, Truncated},
		{"7 bytes", good[:7], Truncated},
		{"header only", good[:8], InnerRunt},
		{"13-byte inner frame", good[:8+13], InnerRunt},
		{"14-byte inner frame", good, Valid},
		{"I flag clear", with(0, 0), BadFlags},
		{"a reserved flag", with(0, FlagI|0x80), BadFlags},
		{"GPE-style next protocol bit", with(0, FlagI|0x04), BadFlags},
		{"reserved byte 1", with(1, 1), BadFlags},
		{"reserved byte 3", with(3, 0x10), BadFlags},
		{"reserved byte 7", with(7, 1), BadFlags},
	} {
		if _, _, v := Packet(c.pkt).Decode(); v != c.want {
			t.Errorf("%s: %v, want %v", c.name, v, c.want)
		}
	}
}

func TestFlowHash(t *testing.T) {
	a := FlowHash(ethFrame(macB, macA, 40000, 5201, 1500))
	if b := FlowHash(ethFrame(macB, macA, 40000, 5201, 64)); a != b {
		t.Errorf("frames of one flow hash differently: %#x, %#x", a, b)
	}
	seen := map[uint32]bool{}
	for p := uint16(40000); p < 40064; p++ {
		seen[FlowHash(ethFrame(macB, macA, p, 5201, 64))%poolSize] = true
	}
	if len(seen) < poolSize/2 {
		t.Errorf("64 flows use %d of %d source sockets", len(seen), poolSize)
	}
	// Short and odd frames hash without reading past their end.
	FlowHash(frames.Frame(make([]byte, 14)))
	v6 := make([]byte, 14+8)
	binary.BigEndian.PutUint16(v6[12:], 0x86dd)
	FlowHash(frames.Frame(v6))
}

// FuzzDecode: no input makes Decode panic, and what it accepts re-encodes
// to the same header.
func FuzzDecode(f *testing.F) {
	good := make([]byte, HeaderLen+14)
	Header(good).Encode(42)
	f.Add(good)
	f.Add(good[:5])
	f.Add([]byte{0x0c, 0, 0, 0, 0, 0, 1, 0, 1, 2, 3})
	f.Fuzz(func(t *testing.T, pkt []byte) {
		vni, inner, v := Packet(pkt).Decode()
		if v != Valid {
			return
		}
		if vni > MaxVNI || len(inner) < frames.HeaderLen || len(pkt) != HeaderLen+len(inner) {
			t.Fatalf("accepted % x as VNI %d with %d inner bytes", pkt, vni, len(inner))
		}
		h := make([]byte, HeaderLen)
		Header(h).Encode(vni)
		if !bytes.Equal(h, pkt[:HeaderLen]) {
			t.Fatalf("accepted header % x re-encodes as % x", pkt[:HeaderLen], h)
		}
		FlowHash(inner)
	})
}
