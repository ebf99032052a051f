package vxlan

import (
	"bytes"
	"encoding/binary"
	"testing"
	"time"

	"github.com/l2fabric/l2fabric/fabric"
	"github.com/l2fabric/l2fabric/frames"
	"github.com/l2fabric/l2fabric/frames/offload"
)

// superFrame returns a TCP super-frame (IPv4 or IPv6) of payload bytes
// with flags, as a host's TSO hands it out, and its virtio-net header.
func superFrame(v6 bool, sport uint16, payload, mss int, flags byte) ([]byte, offload.Header) {
	return superFrameAt(v6, sport, 1000, payload, mss, flags)
}

// superFrameAt is superFrame starting at sequence number seq.
func superFrameAt(v6 bool, sport uint16, seq uint32, payload, mss int, flags byte) ([]byte, offload.Header) {
	l3 := frames.HeaderLen
	ipLen := 20
	et := uint16(0x0800)
	if v6 {
		ipLen, et = 40, 0x86dd
	}
	tcpLen := 32 // with a timestamp option
	f := make([]byte, l3+ipLen+tcpLen+payload)
	copy(f[0:6], macB[:])
	copy(f[6:12], macA[:])
	binary.BigEndian.PutUint16(f[12:14], et)
	ip := f[l3:]
	if v6 {
		ip[0] = 0x60
		binary.BigEndian.PutUint16(ip[4:6], uint16(tcpLen+payload))
		ip[6], ip[7] = 6, 64
		ip[8], ip[23] = 0xfd, 1
		ip[24], ip[39] = 0xfd, 2
	} else {
		ip[0] = 0x45
		binary.BigEndian.PutUint16(ip[2:4], uint16(ipLen+tcpLen+payload))
		binary.BigEndian.PutUint16(ip[4:6], 777)
		ip[6] = 0x40 // DF
		ip[8], ip[9] = 64, 6
		copy(ip[12:20], []byte{192, 0, 2, 1, 192, 0, 2, 2})
	}
	tcp := ip[ipLen:]
	binary.BigEndian.PutUint16(tcp[0:2], sport)
	binary.BigEndian.PutUint16(tcp[2:4], 5201)
	binary.BigEndian.PutUint32(tcp[4:8], seq)
	binary.BigEndian.PutUint32(tcp[8:12], 5555)
	tcp[12] = byte(tcpLen/4) << 4
	tcp[13] = flags
	binary.BigEndian.PutUint16(tcp[14:16], 501)
	copy(tcp[20:32], []byte{1, 1, 8, 10, 0, 0, 0, 9, 0, 0, 0, 7}) // NOP NOP TS
	for i := range payload {
		tcp[tcpLen+i] = byte(i * 7)
	}
	gso := uint8(offload.GSOTCPv4)
	if v6 {
		gso = offload.GSOTCPv6
	}
	return f, offload.Header{GSOType: gso, GSOSize: uint16(mss), Flags: offload.FlagNeedsCsum,
		CsumStart: uint16(l3 + ipLen), CsumOffset: 16}
}

// segment cuts a super-frame as a sending kernel would.
func segment(t *testing.T, f []byte, h offload.Header) [][]byte {
	t.Helper()
	n := offload.MaxSegments(h, len(f))
	out, sizes := make([][]byte, n), make([]int, n)
	for i := range out {
		out[i] = make([]byte, offload.MaxSegmentLen(h, len(f)))
	}
	got, err := offload.Segment(h, f, out, sizes)
	if err != nil {
		t.Fatal(err)
	}
	for i := range got {
		out[i] = out[i][:sizes[i]]
	}
	return out[:got]
}

func ringWith(t *testing.T, fs ...[]byte) *ring {
	t.Helper()
	r := newRing(64, 2000, fabric.FlowControl{})
	for _, f := range fs {
		if r.push(frames.Frame(f), false, 0, new(time.Duration), nil) != pushed {
			t.Fatal("push failed")
		}
	}
	return r
}

func TestGROJoinsWhatSegmentationCut(t *testing.T) {
	for _, v6 := range []bool{false, true} {
		super, h := superFrame(v6, 40000, 10*1400+300, 1400, tcpACK|tcpPSH)
		segs := segment(t, super, h)
		r := ringWith(t, segs...)
		bufs, sizes, hdrs := [][]byte{make([]byte, fabric.MaxGSOFrame)}, make([]int, 1), make([]offload.Header, 1)
		n, err := r.popGSO(bufs, sizes, hdrs)
		if err != nil || n != 1 {
			t.Fatalf("v6 %v: popGSO = %d, %v; want the %d segments as one", v6, n, err, len(segs))
		}
		got := hdrs[0]
		if !got.IsGSO() || got.GSOSize != 1400 || got.Flags != offload.FlagNeedsCsum {
			t.Fatalf("v6 %v: header %+v", v6, got)
		}
		// Cut up again, it gives back exactly the segments it was made of.
		again := segment(t, bufs[0][:sizes[0]], got)
		if len(again) != len(segs) {
			t.Fatalf("v6 %v: %d segments again, want %d", v6, len(again), len(segs))
		}
		for i := range segs {
			if !bytes.Equal(again[i], segs[i]) {
				t.Errorf("v6 %v: segment %d differs after GRO and GSO:\n% x\n% x", v6, i, again[i][:80], segs[i][:80])
			}
		}
	}
}

func TestGROKeepsApartWhatMustStayApart(t *testing.T) {
	super, h := superFrame(false, 40000, 4*1400, 1400, tcpACK)
	segs := segment(t, super, h)
	other, oh := superFrame(false, 40001, 2*1400, 1400, tcpACK)
	otherSegs := segment(t, other, oh)
	corrupt := bytes.Clone(segs[2])
	corrupt[len(corrupt)-1] ^= 0xff
	syn, _ := superFrame(false, 40000, 100, 1400, tcpSYN|tcpACK)
	sf, sh := superFrame(false, 40000, 1400+300, 1400, tcpACK)
	short := segment(t, sf, sh)
	af, ah := superFrameAt(false, 40000, 1000+1700, 1400, 1400, tcpACK)
	after := segment(t, af, ah)
	for _, c := range []struct {
		name  string
		in    [][]byte
		wantN int
	}{
		{"one flow", segs, 1},
		{"another flow in between", [][]byte{segs[0], segs[1], otherSegs[0], segs[2], segs[3]}, 3},
		{"a bad checksum", [][]byte{segs[0], segs[1], corrupt, segs[3]}, 3},
		{"a gap", [][]byte{segs[0], segs[2], segs[3]}, 2},
		{"SYN", [][]byte{syn, segs[0], segs[1]}, 2},
		{"a short segment ends it", [][]byte{short[0], short[1], after[0]}, 2},
		{"a truncated segment", [][]byte{segs[0], segs[1][:len(segs[1])-10], segs[2]}, 3},
	} {
		r := ringWith(t, c.in...)
		bufs := make([][]byte, 8)
		for i := range bufs {
			bufs[i] = make([]byte, fabric.MaxGSOFrame)
		}
		n, err := r.popGSO(bufs, make([]int, 8), make([]offload.Header, 8))
		if err != nil || n != c.wantN {
			t.Errorf("%s: %d frames out, want %d (%v)", c.name, n, c.wantN, err)
		}
	}
}

// FuzzGRO: whatever the segments of a flow are changed into, popGSO
// does not panic, and every super-frame it makes can be cut up again.
func FuzzGRO(f *testing.F) {
	f.Add(uint16(0), byte(0), uint16(0))
	f.Add(uint16(3*1466+40), byte(0x80), uint16(0))
	f.Add(uint16(1466+17), byte(1), uint16(1))
	f.Fuzz(func(t *testing.T, at uint16, x byte, cut uint16) {
		super, h := superFrame(at%2 == 0, 40000, 4*1400, 1400, tcpACK)
		segs := segment(t, super, h)
		// Flip bits at one offset across the concatenated segments,
		// and shorten one segment.
		off := int(at)
		for _, s := range segs {
			if off < len(s) {
				s[off] ^= x
				break
			}
			off -= len(s)
		}
		i := int(cut) % len(segs)
		segs[i] = segs[i][:max(len(segs[i])-int(cut)/len(segs), 0)]
		r := ringWith(t, segs...)
		bufs := make([][]byte, 8)
		for i := range bufs {
			bufs[i] = make([]byte, fabric.MaxGSOFrame)
		}
		sizes, hdrs := make([]int, 8), make([]offload.Header, 8)
		n, _ := r.popGSO(bufs, sizes, hdrs)
		for k := 0; k < n; k++ {
			if sizes[k] > len(bufs[k]) {
				t.Fatalf("frame %d: size %d > buffer", k, sizes[k])
			}
			if hdrs[k].IsGSO() {
				segment(t, bufs[k][:sizes[k]], hdrs[k])
			}
		}
	})
}
