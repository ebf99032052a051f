package offload

import (
	"bytes"
	"encoding/binary"
	"errors"
	"math/rand/v2"
	"testing"
)

func TestHeaderRoundTrip(t *testing.T) {
	h := Header{Flags: FlagNeedsCsum | FlagDataValid, GSOType: GSOTCPv6 | GSOECN, HdrLen: 0x1234, GSOSize: 1448, CsumStart: 0x56, CsumOffset: 16}
	b := make([]byte, HeaderLen+3)
	h.Put(b)
	if b[0] != 3 || b[1] != 0x84 {
		t.Fatalf("flags/type bytes %x", b[:2])
	}
	for i, want := range []uint16{0x1234, 1448, 0x56, 16} {
		if got := binary.NativeEndian.Uint16(b[2+2*i:]); got != want {
			t.Errorf("field %d: %#x, want %#x (native endian)", i, got, want)
		}
	}
	got, err := ParseHeader(b)
	if err != nil || got != h {
		t.Fatalf("ParseHeader = %+v, %v; want %+v", got, err, h)
	}
	if _, err := ParseHeader(b[:HeaderLen-1]); !errors.Is(err, ErrShortHeader) {
		t.Fatalf("short header: %v", err)
	}
	if h.IsGSO() != true || (Header{}).IsGSO() {
		t.Fatal("IsGSO")
	}
}

func TestHeaderShift(t *testing.T) {
	h := Header{Flags: FlagNeedsCsum, HdrLen: 54, CsumStart: 34, CsumOffset: 16}
	if got, want := h.Shift(4), (Header{Flags: FlagNeedsCsum, HdrLen: 58, CsumStart: 38, CsumOffset: 16}); got != want {
		t.Errorf("Shift(4) = %+v, want %+v", got, want)
	}
	if got := h.Shift(4).Shift(-4); got != h {
		t.Errorf("Shift(4).Shift(-4) = %+v, want %+v", got, h)
	}
	// CsumStart means nothing without FlagNeedsCsum, and a zero HdrLen
	// (no hint) stays zero.
	plain := Header{CsumStart: 7}
	if got := plain.Shift(-4); got != plain {
		t.Errorf("Shift on a header with no offsets = %+v, want it unchanged", got)
	}
}

func TestSum(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	buf := make([]byte, 70000)
	for i := range buf {
		buf[i] = byte(rng.Uint32())
	}
	ones := bytes.Repeat([]byte{0xff}, 70000)
	zeros := make([]byte, 300)
	lengths := []int{0, 1, 2, 3, 7, 8, 9, 15, 16, 31, 63, 64, 65, 127, 128, 129, 1499, 1500, 65535, 65536, 70000}
	for n := range 200 {
		lengths = append(lengths, n)
	}
	for _, data := range [][]byte{buf, ones, zeros} {
		for _, n := range lengths {
			if n > len(data) {
				continue
			}
			for _, initial := range []uint32{0, 1, 0xffff, 0x1_0000, 0xffff_ffff, rng.Uint32()} {
				b := data[len(data)-n:] // also unaligned starts
				want := uint32(refSum(append(binary.BigEndian.AppendUint32(nil, initial), b...)))
				if initial == 0 {
					want = refSum(b)
				}
				if got := Sum(b, initial); got != want {
					t.Fatalf("Sum(%d bytes of %x..., %#x) = %#x, want %#x", n, b[:min(n, 4)], initial, got, want)
				}
				if got, want := Checksum(b, initial), ^uint16(want); got != want {
					t.Fatalf("Checksum = %#x, want %#x", got, want)
				}
			}
		}
	}
	// Chaining even-length pieces gives the sum of the whole.
	if got, want := Sum(buf[1000:1501], Sum(buf[:1000], 0)), Sum(buf[:1501], 0); got != want {
		t.Fatalf("chained Sum %#x, want %#x", got, want)
	}
	if got := Sum(zeros, 0); got != 0 {
		t.Fatalf("Sum of zeros %#x", got)
	}
	if got := Sum([]byte{0xff, 0xff}, 0); got != 0xffff {
		t.Fatalf("Sum of ff ff %#x", got)
	}
	if got := Fold(0x1_fffe); got != 0 {
		t.Fatalf("Fold(0x1fffe) = %#x, want 0", got)
	}
	if got := Fold(0x1234); got != 0xedcb {
		t.Fatalf("Fold(0x1234) = %#x", got)
	}
}

func TestPseudoHeaderSum(t *testing.T) {
	for _, tc := range []struct {
		v6       bool
		src, dst []byte
		proto    byte
		length   uint32
	}{
		{false, ip4Src, ip4Dst, 6, 1480},
		{false, ip4Dst, ip4Src, 17, 8},
		{true, ip6Src, ip6Dst, 6, 65535},
		{true, ip6Src, ip6Dst, 17, 0x12345},
	} {
		want := refSum(refPseudo(tc.v6, tc.src, tc.dst, tc.proto, int(tc.length)))
		if got := PseudoHeaderSum(tc.proto, tc.src, tc.dst, tc.length); got != want {
			t.Errorf("PseudoHeaderSum(%d, %x, %x, %d) = %#x, want %#x", tc.proto, tc.src, tc.dst, tc.length, got, want)
		}
	}
}

func TestCompleteChecksum(t *testing.T) {
	for _, tc := range []struct {
		name string
		s    spec
	}{
		{"tcp4", spec{ipOpts: raOpts, tcpOpts: tsOpts, flags: 0x18, payload: 1400}},
		{"tcp4 tagged odd", spec{tpids: []uint16{0x8100}, payload: 1001}},
		{"tcp6", spec{v6: true, tcpOpts: tsOpts, payload: 1200}},
		{"udp4", spec{udp: true, payload: 513}},
		{"udp6 tagged", spec{v6: true, udp: true, tpids: []uint16{0x8100}, payload: 1452}},
		{"udp4 empty", spec{udp: true}},
		{"tcp4 qinq", spec{tpids: []uint16{0x88a8, 0x8100}, payload: 77}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h, f := build(tc.s)
			orig := append([]byte(nil), f...)
			if err := CompleteChecksum(h, f); err != nil {
				t.Fatal(err)
			}
			r, _ := refParse(f)
			if !r.l4ChecksumOK(f) {
				t.Fatalf("checksum wrong")
			}
			field := int(h.CsumStart + h.CsumOffset)
			if !bytes.Equal(f[:field], orig[:field]) || !bytes.Equal(f[field+2:], orig[field+2:]) {
				t.Fatal("bytes other than the checksum changed")
			}
			// Without FlagNeedsCsum, nothing happens.
			g := append([]byte(nil), orig...)
			h.Flags = FlagDataValid
			if err := CompleteChecksum(h, g); err != nil || !bytes.Equal(g, orig) {
				t.Fatalf("without FlagNeedsCsum: %v, changed %v", err, !bytes.Equal(g, orig))
			}
		})
	}
}

// TestCompleteChecksumZero makes frames whose checksum comes out as 0, which
// must be sent as 0xffff.
func TestCompleteChecksumZero(t *testing.T) {
	for _, s := range []spec{
		{udp: true, payload: 100},
		{udp: true, v6: true, payload: 101},
		{payload: 60},
	} {
		h, f := build(s)
		r, _ := refParse(f)
		// Adjust the first payload word so that the data and
		// pseudo-header sum to 0xffff (negative zero).
		probe := append([]byte(nil), f...)
		field := int(h.CsumStart + h.CsumOffset)
		binary.BigEndian.PutUint16(probe[field:], 0)
		src, dst := r.addrs(f)
		sum := refSum(append(refPseudo(r.v6, src, dst, r.proto, len(f)-r.l4), probe[r.l4:]...))
		w := uint32(binary.BigEndian.Uint16(f[r.pay:]))
		w += uint32(^uint16(sum))
		w = w>>16 + w&0xffff
		binary.BigEndian.PutUint16(f[r.pay:], uint16(w))

		if err := CompleteChecksum(h, f); err != nil {
			t.Fatal(err)
		}
		if got := binary.BigEndian.Uint16(f[field:]); got != 0xffff {
			t.Fatalf("%+v: checksum %#x, want 0xffff", s, got)
		}
		if !r.l4ChecksumOK(f) {
			t.Fatal("0xffff does not verify")
		}
	}
}

func TestCompleteChecksumBounds(t *testing.T) {
	f := make([]byte, 64)
	for _, tc := range []struct {
		start, off uint16
		ok         bool
	}{
		{34, 16, true},
		{0, 62, true},
		{62, 0, true},
		{0, 63, false},
		{63, 0, false},
		{64, 0, false},
		{34, 28, true},
		{34, 29, false},
		{0xffff, 0xffff, false},
		{0xffff, 0, false},
	} {
		h := Header{Flags: FlagNeedsCsum, CsumStart: tc.start, CsumOffset: tc.off}
		err := CompleteChecksum(h, f)
		if (err == nil) != tc.ok || (err != nil && !errors.Is(err, ErrChecksumOffset)) {
			t.Errorf("start %d offset %d: %v", tc.start, tc.off, err)
		}
	}
	if err := CompleteChecksum(Header{Flags: FlagNeedsCsum}, nil); err == nil {
		t.Error("empty frame accepted")
	}
}

var segmentCases = []struct {
	name string
	s    spec
}{
	{"tcp4 options", spec{ipOpts: ip8Opts, tcpOpts: tsOpts, flags: 0x10 | 0x08 | 0x01 | 0x80, seq: 0xffff_f000, id: 0xfffe, payload: 65000, mss: 1448}},
	{"tcp4 tagged multiple", spec{tpids: []uint16{0x8100}, flags: 0x18, seq: 1, id: 7, payload: 1460 * 10, mss: 1460}},
	{"tcp4 ecn", spec{tcpOpts: tsOpts, flags: 0x80 | 0x40 | 0x10, payload: 9000, mss: 1448, ecn: true}},
	{"tcp4 qinq", spec{tpids: []uint16{0x88a8, 0x8100}, ipOpts: raOpts, flags: 0x19, payload: 3000, mss: 1000}},
	{"tcp4 one segment", spec{flags: 0x19, payload: 1000, mss: 1448}},
	{"tcp4 exactly mss", spec{flags: 0x99, payload: 1448, mss: 1448}},
	{"tcp4 no payload", spec{flags: 0x11, mss: 1448}},
	{"tcp4 mss 1", spec{flags: 0x99, payload: 17, mss: 1}},
	{"tcp4 odd mss", spec{flags: 0x18, payload: 5000, mss: 999}},
	{"tcp6", spec{v6: true, tcpOpts: tsOpts, flags: 0x18 | 0x80, seq: 12345, payload: 64000, mss: 1428}},
	{"tcp6 tagged fin", spec{v6: true, tpids: []uint16{0x8100}, flags: 0x11, payload: 4000, mss: 1220}},
	{"tcp6 ecn", spec{v6: true, flags: 0x90, payload: 3000, mss: 1000, ecn: true}},
	{"udp4", spec{udp: true, id: 0x8000, payload: 60000, mss: 1472}},
	{"udp4 tagged odd", spec{udp: true, tpids: []uint16{0x8100}, ipOpts: raOpts, payload: 4321, mss: 1001}},
	{"udp4 one", spec{udp: true, payload: 100, mss: 1472}},
	{"udp6", spec{v6: true, udp: true, payload: 64000, mss: 1452}},
	{"udp6 tagged", spec{v6: true, udp: true, tpids: []uint16{0x8100}, payload: 10000, mss: 1200}},
	{"udp6 tiny mss", spec{v6: true, udp: true, payload: 10, mss: 3}},
}

func TestSegment(t *testing.T) {
	for _, tc := range segmentCases {
		t.Run(tc.name, func(t *testing.T) {
			h, f := build(tc.s)
			orig := append([]byte(nil), f...)
			out, sizes := buffers(MaxSegments(h, len(f)), MaxSegmentLen(h, len(f)))
			n, err := Segment(h, f, out, sizes)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(f, orig) {
				t.Fatal("Segment changed its input")
			}
			checkSegments(t, h, f, segments(out, sizes, n))
		})
	}
}

// TestSegmentExactBuffers gives Segment buffers exactly as long as their
// segments, cut from one slab with guard bytes between them that must stay
// untouched (a buffer's capacity reaches into the next one's).
func TestSegmentExactBuffers(t *testing.T) {
	for _, tc := range segmentCases {
		t.Run(tc.name, func(t *testing.T) {
			h, f := build(tc.s)
			r, _ := refParse(f)
			payload := len(f) - r.pay
			n := max(1, (payload+int(h.GSOSize)-1)/int(h.GSOSize))
			const guard = 8
			stride := r.pay + int(h.GSOSize) + guard
			slab := bytes.Repeat([]byte{0xa5}, n*stride)
			out := make([][]byte, n)
			for i := range out {
				size := r.pay + min(int(h.GSOSize), payload-i*int(h.GSOSize))
				out[i] = slab[i*stride : i*stride+size]
			}
			sizes := make([]int, n)
			got, err := Segment(h, f, out, sizes)
			if err != nil || got != n {
				t.Fatalf("Segment = %d, %v; want %d", got, err, n)
			}
			for i := range out {
				end := i*stride + len(out[i])
				for j := end; j < (i+1)*stride; j++ {
					if slab[j] != 0xa5 {
						t.Fatalf("byte %d after buffer %d overwritten", j-end, i)
					}
				}
			}
			checkSegments(t, h, f, segments(out, sizes, n))

			// One byte short in the last buffer, or one buffer short:
			// an error, and nothing written.
			for _, cut := range []struct {
				out   [][]byte
				sizes []int
			}{
				{append(append([][]byte(nil), out[:n-1]...), out[n-1][:len(out[n-1])-1]), sizes},
				{out[:n-1], sizes},
				{out, sizes[:n-1]},
			} {
				for i := range slab {
					slab[i] = 0xa5
				}
				if _, err := Segment(h, f, cut.out, cut.sizes); !errors.Is(err, ErrOutBuffers) {
					t.Fatalf("short buffers: %v", err)
				}
				if !bytes.Equal(slab, bytes.Repeat([]byte{0xa5}, len(slab))) {
					t.Fatal("Segment wrote before failing")
				}
			}
		})
	}
}

func TestSegmentNone(t *testing.T) {
	for _, s := range []spec{{payload: 1400}, {udp: true, v6: true, payload: 99}} {
		h, f := build(s)
		out, sizes := buffers(MaxSegments(h, len(f)), MaxSegmentLen(h, len(f)))
		n, err := Segment(h, f, out, sizes)
		if err != nil || n != 1 || sizes[0] != len(f) {
			t.Fatalf("Segment = %d, %v, size %d", n, err, sizes[0])
		}
		want := append([]byte(nil), f...)
		if err := CompleteChecksum(h, want); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(out[0][:n], want[:n]) {
			t.Fatal("copy differs from CompleteChecksum in place")
		}
		h.CsumStart = uint16(len(f))
		if _, err := Segment(h, f, out, sizes); !errors.Is(err, ErrChecksumOffset) {
			t.Fatalf("bad checksum offset: %v", err)
		}
		if _, err := Segment(h, f, [][]byte{make([]byte, len(f)-1)}, sizes); !errors.Is(err, ErrOutBuffers) {
			t.Fatalf("short buffer: %v", err)
		}
	}
}

func TestSegmentErrors(t *testing.T) {
	tcp4 := spec{ipOpts: raOpts, tcpOpts: tsOpts, flags: 0x18, payload: 3000, mss: 1000}
	tcp6 := spec{v6: true, flags: 0x18, payload: 3000, mss: 1000}
	udp4 := spec{udp: true, tpids: []uint16{0x8100}, payload: 3000, mss: 1000}
	type edit func(h *Header, f []byte) []byte
	setByte := func(off int, v byte) edit {
		return func(h *Header, f []byte) []byte { f[off] = v; return f }
	}
	for _, tc := range []struct {
		name string
		s    spec
		edit edit
		want error
	}{
		{"gso size 0", tcp4, func(h *Header, f []byte) []byte { h.GSOSize = 0; return f }, ErrGSOSize},
		{"ufo", udp4, func(h *Header, f []byte) []byte { h.GSOType = GSOUDP; return f }, ErrUFO},
		{"type 2", tcp4, func(h *Header, f []byte) []byte { h.GSOType = 2; return f }, ErrGSOType},
		{"type 6", tcp4, func(h *Header, f []byte) []byte { h.GSOType = 6; return f }, ErrGSOType},
		{"type 0x7f", tcp4, func(h *Header, f []byte) []byte { h.GSOType = 0x7f; return f }, ErrGSOType},
		{"ecn alone", tcp4, func(h *Header, f []byte) []byte { h.GSOType = GSOECN; return f }, ErrGSOType},
		{"tcpv4 on ipv6", tcp6, func(h *Header, f []byte) []byte { h.GSOType = GSOTCPv4; return f }, ErrProtocol},
		{"tcpv6 on ipv4", tcp4, func(h *Header, f []byte) []byte { h.GSOType = GSOTCPv6; return f }, ErrProtocol},
		{"udp on tcp", tcp4, func(h *Header, f []byte) []byte { h.GSOType = GSOUDPL4; return f }, ErrProtocol},
		{"tcp on udp", udp4, func(h *Header, f []byte) []byte { h.GSOType = GSOTCPv4; return f }, ErrProtocol},
		{"ipv4 icmp", tcp4, setByte(14+9, 1), ErrProtocol},
		{"ipv6 hop-by-hop", tcp6, setByte(14+6, 0), ErrExtensionHeader},
		{"ipv6 fragment", tcp6, setByte(14+6, 44), ErrExtensionHeader},
		{"ipv6 no next", tcp6, setByte(14+6, 59), ErrProtocol},
		{"ipv6 version 4", tcp6, setByte(14, 0x40), ErrBadIPHeader},
		{"ipv4 version 6", tcp4, setByte(14, 0x66), ErrBadIPHeader},
		{"ipv4 ihl 4", tcp4, setByte(14, 0x44), ErrBadIPHeader},
		{"ipv4 more fragments", tcp4, setByte(14+6, 0x20), ErrFragment},
		{"ipv4 fragment offset", tcp4, setByte(14+7, 1), ErrFragment},
		{"tcp doff 4", tcp6, setByte(14+40+12, 0x40), ErrBadL4Header},
		{"arp", tcp4, setByte(13, 0x06), ErrNotIP},
		{"three tags", udp4, func(h *Header, f []byte) []byte {
			return append(append(append([]byte(nil), f[:12]...), 0x81, 0, 0, 1, 0x88, 0xa8, 0, 2), f[12:]...)
		}, ErrVLAN},
		{"too long", tcp4, func(h *Header, f []byte) []byte {
			h.GSOSize = 0xffff
			return append(f, make([]byte, 70000)...)
		}, ErrTooLong},
		{"ipv6 too long", tcp6, func(h *Header, f []byte) []byte {
			h.GSOSize = 0xffff
			return append(f, make([]byte, 70000)...)
		}, ErrTooLong},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h, f := build(tc.s)
			f = tc.edit(&h, f)
			out, sizes := buffers(70, 70000)
			n, err := Segment(h, f, out, sizes)
			if !errors.Is(err, tc.want) || n != 0 {
				t.Fatalf("Segment = %d, %v; want %v", n, err, tc.want)
			}
		})
	}
}

// TestSegmentTruncated cuts valid super-frames short inside their headers.
func TestSegmentTruncated(t *testing.T) {
	for _, tc := range segmentCases {
		h, f := build(tc.s)
		r, _ := refParse(f)
		out, sizes := buffers(MaxSegments(h, len(f)), MaxSegmentLen(h, len(f)))
		for k := 0; k < r.pay; k++ {
			if n, err := Segment(h, f[:k], out, sizes); !errors.Is(err, ErrTruncated) || n != 0 {
				t.Fatalf("%s cut to %d bytes: %d, %v", tc.name, k, n, err)
			}
		}
	}
}

func TestMaxSegments(t *testing.T) {
	for _, tc := range []struct {
		h        Header
		frameLen int
		want     int
	}{
		{Header{}, 1500, 1},
		{Header{GSOType: GSOECN, GSOSize: 100}, 1500, 0},
		{Header{GSOType: GSOTCPv4}, 1500, 0},
		{Header{GSOType: GSOUDP, GSOSize: 1000}, 1500, 0},
		{Header{GSOType: 9, GSOSize: 1000}, 1500, 0},
		{Header{GSOType: GSOTCPv4, GSOSize: 1448}, 54, 1},
		{Header{GSOType: GSOTCPv4, GSOSize: 1448}, 10, 1},
		{Header{GSOType: GSOTCPv4, GSOSize: 1448}, 54 + 1448, 1},
		{Header{GSOType: GSOTCPv4, GSOSize: 1448}, 54 + 1449, 2},
		{Header{GSOType: GSOTCPv4 | GSOECN, GSOSize: 1448}, 54 + 1448*45, 45},
		{Header{GSOType: GSOTCPv6, GSOSize: 1000}, 74 + 3001, 4},
		{Header{GSOType: GSOUDPL4, GSOSize: 1}, 42 + 100, 100},
	} {
		if got := MaxSegments(tc.h, tc.frameLen); got != tc.want {
			t.Errorf("MaxSegments(%+v, %d) = %d, want %d", tc.h, tc.frameLen, got, tc.want)
		}
	}
}

func TestAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector allocates")
	}
	h, f := build(spec{ipOpts: raOpts, tcpOpts: tsOpts, flags: 0x18, payload: 65000, mss: 1448})
	out, sizes := buffers(MaxSegments(h, len(f)), MaxSegmentLen(h, len(f)))
	if n := testing.AllocsPerRun(20, func() {
		if _, err := Segment(h, f, out, sizes); err != nil {
			t.Fatal(err)
		}
	}); n != 0 {
		t.Errorf("Segment: %v allocations", n)
	}
	bad := h
	bad.GSOType = GSOTCPv6
	if n := testing.AllocsPerRun(20, func() { _, _ = Segment(bad, f, out, sizes) }); n != 0 {
		t.Errorf("Segment failing: %v allocations", n)
	}
	hn, fn := build(spec{udp: true, payload: 1458})
	if n := testing.AllocsPerRun(100, func() {
		if err := CompleteChecksum(hn, fn); err != nil {
			t.Fatal(err)
		}
	}); n != 0 {
		t.Errorf("CompleteChecksum: %v allocations", n)
	}
	if n := testing.AllocsPerRun(100, func() { _, _ = Segment(hn, fn, out, sizes) }); n != 0 {
		t.Errorf("Segment of an ordinary frame: %v allocations", n)
	}
}

// TestSegmentUDPZero makes a UDP GSO frame whose first datagram's checksum
// comes out as 0, which must be sent as 0xffff.
func TestSegmentUDPZero(t *testing.T) {
	for _, s := range []spec{
		{udp: true, payload: 3000, mss: 1000},
		{udp: true, v6: true, tpids: []uint16{0x8100}, payload: 3000, mss: 1000},
	} {
		h, f := build(s)
		r, _ := refParse(f)
		out, sizes := buffers(MaxSegments(h, len(f)), MaxSegmentLen(h, len(f)))
		if _, err := Segment(h, f, out, sizes); err != nil {
			t.Fatal(err)
		}
		// The stored checksum c is the complement of the sum: adding c
		// to a payload word of the first datagram makes its sum 0xffff.
		c := uint32(binary.BigEndian.Uint16(out[0][r.l4+6:]))
		w := uint32(binary.BigEndian.Uint16(f[r.pay+10:])) + c
		binary.BigEndian.PutUint16(f[r.pay+10:], uint16(w>>16+w&0xffff))
		n, err := Segment(h, f, out, sizes)
		if err != nil {
			t.Fatal(err)
		}
		if got := binary.BigEndian.Uint16(out[0][r.l4+6:]); got != 0xffff {
			t.Fatalf("%+v: checksum %#x, want 0xffff", s, got)
		}
		checkSegments(t, h, f, segments(out, sizes, n))
	}
}
