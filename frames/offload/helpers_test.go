package offload

import (
	"bytes"
	"encoding/binary"
	"math/rand/v2"
	"net"
	"testing"

	"golang.org/x/net/ipv4"
	"golang.org/x/net/ipv6"
)

// refSum is the slow, obvious RFC 1071 sum: big-endian 16-bit words, an odd
// last byte padded with zero, folded with end-around carry.
func refSum(b []byte) uint32 {
	var s uint64
	for i := 0; i+1 < len(b); i += 2 {
		s += uint64(b[i])<<8 | uint64(b[i+1])
	}
	if len(b)%2 == 1 {
		s += uint64(b[len(b)-1]) << 8
	}
	for s > 0xffff {
		s = s>>16 + s&0xffff
	}
	return uint32(s)
}

// refChecksum is the complement of refSum: 0 over data that carries a
// correct checksum.
func refChecksum(b []byte) uint16 { return ^uint16(refSum(b)) }

// refPseudo builds the TCP/UDP pseudo-header as bytes (RFC 793, RFC 8200
// section 8.1).
func refPseudo(v6 bool, src, dst []byte, proto byte, l4len int) []byte {
	var p []byte
	p = append(p, src...)
	p = append(p, dst...)
	if v6 {
		p = binary.BigEndian.AppendUint32(p, uint32(l4len))
		p = append(p, 0, 0, 0, proto)
	} else {
		p = append(p, 0, proto)
		p = binary.BigEndian.AppendUint16(p, uint16(l4len))
	}
	return p
}

// refInfo is what refParse finds in a frame.
type refInfo struct {
	l3, l4, pay int
	v6          bool
	proto       byte
}

// refParse locates the headers of an Ethernet/IP/TCP-or-UDP frame,
// independently of parse.
func refParse(f []byte) (refInfo, bool) {
	var r refInfo
	i := 12
	for n := 0; ; n++ {
		if len(f) < i+2 || n > 2 {
			return r, false
		}
		et := int(f[i])<<8 | int(f[i+1])
		if et == 0x8100 || et == 0x88a8 {
			i += 4
			continue
		}
		i += 2
		switch et {
		case 0x0800:
		case 0x86dd:
			r.v6 = true
		default:
			return r, false
		}
		break
	}
	r.l3 = i
	if r.v6 {
		if len(f) < i+40 || f[i]>>4 != 6 {
			return r, false
		}
		r.proto = f[i+6]
		r.l4 = i + 40
	} else {
		if len(f) < i+20 || f[i]>>4 != 4 {
			return r, false
		}
		ihl := int(f[i]&15) * 4
		if ihl < 20 || len(f) < i+ihl {
			return r, false
		}
		r.proto = f[i+9]
		r.l4 = i + ihl
	}
	switch r.proto {
	case 6:
		if len(f) < r.l4+20 {
			return r, false
		}
		doff := int(f[r.l4+12]>>4) * 4
		if doff < 20 || len(f) < r.l4+doff {
			return r, false
		}
		r.pay = r.l4 + doff
	case 17:
		if len(f) < r.l4+8 {
			return r, false
		}
		r.pay = r.l4 + 8
	default:
		return r, false
	}
	return r, true
}

// addrs returns the source and destination addresses of the IP header.
func (r refInfo) addrs(f []byte) (src, dst []byte) {
	if r.v6 {
		return f[r.l3+8 : r.l3+24], f[r.l3+24 : r.l3+40]
	}
	return f[r.l3+12 : r.l3+16], f[r.l3+16 : r.l3+20]
}

// l4ChecksumOK verifies the TCP or UDP checksum of f over the pseudo-header.
func (r refInfo) l4ChecksumOK(f []byte) bool {
	src, dst := r.addrs(f)
	b := refPseudo(r.v6, src, dst, r.proto, len(f)-r.l4)
	b = append(b, f[r.l4:]...)
	return refChecksum(b) == 0
}

// spec describes a frame for build.
type spec struct {
	tpids   []uint16 // VLAN tags, outermost first
	v6, udp bool
	ipOpts  []byte // IPv4 options, a multiple of 4 bytes
	tcpOpts []byte // TCP options, a multiple of 4 bytes
	flags   byte   // TCP flags
	seq     uint32
	id      uint16
	payload int
	mss     uint16
	ecn     bool
	seed    uint64
}

var (
	macDst  = []byte{0x02, 0, 0, 0, 0, 0x01}
	macSrc  = []byte{0x02, 0, 0, 0, 0, 0x02}
	ip4Src  = net.IPv4(192, 0, 2, 1).To4()
	ip4Dst  = net.IPv4(198, 51, 100, 200).To4()
	ip6Src  = net.ParseIP("2001:db8::1:2:3:4")
	ip6Dst  = net.ParseIP("2001:db8:ffff::fedc:ba98")
	tsOpts  = []byte{1, 1, 8, 10, 0x12, 0x34, 0x56, 0x78, 0x9a, 0xbc, 0xde, 0xf0} // NOP NOP timestamps
	raOpts  = []byte{0x94, 4, 0, 0}                                               // router alert
	ip8Opts = []byte{0x94, 4, 0, 0, 1, 1, 1, 0}                                   // router alert, NOPs, EOL
)

// build makes a frame as the kernel hands it to AF_PACKET with
// PACKET_VNET_HDR: headers with lengths covering the whole frame, the L4
// checksum field holding the pseudo-header sum (CHECKSUM_PARTIAL), and the
// matching Header. With mss 0 the frame is an ordinary one (GSONone).
func build(s spec) (Header, []byte) {
	rng := rand.New(rand.NewPCG(s.seed, uint64(s.payload)))
	f := append([]byte(nil), macDst...)
	f = append(f, macSrc...)
	for i, tp := range s.tpids {
		f = binary.BigEndian.AppendUint16(f, tp)
		f = binary.BigEndian.AppendUint16(f, uint16(0x2000|(10+i)))
	}
	proto := byte(6)
	l4hdr := 20 + len(s.tcpOpts)
	if s.udp {
		proto, l4hdr = 17, 8
	}
	l4len := l4hdr + s.payload
	l3 := len(f) + 2
	if s.v6 {
		f = binary.BigEndian.AppendUint16(f, 0x86dd)
		f = append(f, 0x60, 0x01, 0x23, 0x45)
		f = binary.BigEndian.AppendUint16(f, uint16(min(l4len, 0xffff)))
		f = append(f, proto, 64)
		f = append(f, ip6Src...)
		f = append(f, ip6Dst...)
	} else {
		f = binary.BigEndian.AppendUint16(f, 0x0800)
		ihl := 20 + len(s.ipOpts)
		f = append(f, 0x40|byte(ihl/4), 0x10)
		f = binary.BigEndian.AppendUint16(f, uint16(min(ihl+l4len, 0xffff)))
		f = binary.BigEndian.AppendUint16(f, s.id)
		f = append(f, 0x40, 0, 64, proto, 0, 0) // DF
		f = append(f, ip4Src...)
		f = append(f, ip4Dst...)
		f = append(f, s.ipOpts...)
		binary.BigEndian.PutUint16(f[l3+10:], refChecksum(f[l3:]))
	}
	l4 := len(f)
	f = append(f, 0xc3, 0x50, 0x01, 0xbb) // ports 50000 -> 443
	csumOff := 6
	if s.udp {
		f = binary.BigEndian.AppendUint16(f, uint16(min(l4len, 0xffff)))
		f = append(f, 0, 0)
	} else {
		csumOff = 16
		f = binary.BigEndian.AppendUint32(f, s.seq)
		f = binary.BigEndian.AppendUint32(f, 0xa0b0c0d0)
		f = append(f, byte(l4hdr/4)<<4, s.flags, 0xfa, 0xf0, 0, 0, 0, 0)
		f = append(f, s.tcpOpts...)
	}
	for range s.payload {
		f = append(f, byte(rng.Uint32()))
	}
	// CHECKSUM_PARTIAL: the field holds the folded pseudo-header sum, not
	// complemented.
	src, dst := refInfo{l3: l3, v6: s.v6}.addrs(f)
	binary.BigEndian.PutUint16(f[l4+csumOff:], uint16(refSum(refPseudo(s.v6, src, dst, proto, len(f)-l4))))

	h := Header{
		Flags:      FlagNeedsCsum,
		HdrLen:     uint16(len(f) - s.payload),
		GSOSize:    s.mss,
		CsumStart:  uint16(l4),
		CsumOffset: uint16(csumOff),
	}
	if s.mss != 0 {
		switch {
		case s.udp:
			h.GSOType = GSOUDPL4
		case s.v6:
			h.GSOType = GSOTCPv6
		default:
			h.GSOType = GSOTCPv4
		}
		if s.ecn {
			h.GSOType |= GSOECN
		}
	}
	return h, f
}

// checkSegments verifies the segments Segment cut from frame behind h, each
// independently against the reference parser and checksums, and together:
// count, sizes, payload, sequence numbers, IP IDs and TCP flags.
func checkSegments(t testing.TB, h Header, frame []byte, segs [][]byte) {
	t.Helper()
	r, ok := refParse(frame)
	if !ok {
		t.Fatalf("Segment accepted a frame the reference parser rejects")
	}
	mss := int(h.GSOSize)
	payload := frame[r.pay:]
	wantN := 1
	if len(payload) > mss {
		wantN = (len(payload) + mss - 1) / mss
	}
	if len(segs) != wantN {
		t.Fatalf("%d segments, want %d (payload %d, mss %d)", len(segs), wantN, len(payload), mss)
	}
	if max := MaxSegments(h, len(frame)); len(segs) > max {
		t.Fatalf("%d segments, MaxSegments says %d", len(segs), max)
	}
	var (
		origSeq   uint32
		origFlags byte
		origID    uint16
	)
	if r.proto == 6 {
		origSeq = binary.BigEndian.Uint32(frame[r.l4+4:])
		origFlags = frame[r.l4+13]
	}
	if !r.v6 {
		origID = binary.BigEndian.Uint16(frame[r.l3+4:])
	}
	var got []byte
	for i, seg := range segs {
		last := i == len(segs)-1
		s, ok := refParse(seg)
		if !ok {
			t.Fatalf("segment %d: not a well-formed frame", i)
		}
		if s != r {
			t.Fatalf("segment %d: headers at %+v, want %+v", i, s, r)
		}
		if len(seg) > r.pay+mss || (!last && len(seg) != r.pay+mss) {
			t.Fatalf("segment %d: %d bytes, headers %d, mss %d", i, len(seg), r.pay, mss)
		}
		if len(seg) > MaxSegmentLen(h, len(frame)) {
			t.Fatalf("segment %d: %d bytes, MaxSegmentLen says %d", i, len(seg), MaxSegmentLen(h, len(frame)))
		}

		// Apart from the fields Segment rewrites, headers are copies.
		hdr := append([]byte(nil), seg[:r.pay]...)
		restore := func(off, n int) { copy(hdr[off:off+n], frame[off:off+n]) }
		if r.v6 {
			restore(r.l3+4, 2)
		} else {
			restore(r.l3+2, 4)
			restore(r.l3+10, 2)
		}
		if r.proto == 6 {
			restore(r.l4+4, 4)
			restore(r.l4+13, 1)
			restore(r.l4+16, 2)
		} else {
			restore(r.l4+4, 4)
		}
		if !bytes.Equal(hdr, frame[:r.pay]) {
			t.Fatalf("segment %d: headers changed beyond lengths, IDs, seq, flags and checksums:\n got %x\nwant %x", i, hdr, frame[:r.pay])
		}

		if r.v6 {
			if got, want := int(binary.BigEndian.Uint16(seg[r.l3+4:])), len(seg)-r.l3-40; got != want {
				t.Fatalf("segment %d: IPv6 payload length %d, want %d", i, got, want)
			}
			ih, err := ipv6.ParseHeader(seg[r.l3:])
			if err != nil {
				t.Fatalf("segment %d: ipv6.ParseHeader: %v", i, err)
			}
			if ih.Version != 6 || ih.PayloadLen != len(seg)-r.l3-40 || ih.NextHeader != int(r.proto) {
				t.Fatalf("segment %d: x/net/ipv6 reads %+v", i, ih)
			}
		} else {
			if got, want := int(binary.BigEndian.Uint16(seg[r.l3+2:])), len(seg)-r.l3; got != want {
				t.Fatalf("segment %d: IPv4 total length %d, want %d", i, got, want)
			}
			if got, want := binary.BigEndian.Uint16(seg[r.l3+4:]), origID+uint16(i); got != want {
				t.Fatalf("segment %d: IPv4 ID %#x, want %#x", i, got, want)
			}
			if c := refChecksum(seg[r.l3:r.l4]); c != 0 {
				t.Fatalf("segment %d: IPv4 header checksum wrong (residue %#x)", i, c)
			}
			// x/net/ipv4 reads the total length and fragment offset in
			// host order on some BSDs: compare only the portable fields.
			ih, err := ipv4.ParseHeader(seg[r.l3:])
			if err != nil {
				t.Fatalf("segment %d: ipv4.ParseHeader: %v", i, err)
			}
			if ih.Version != 4 || ih.Len != r.l4-r.l3 || ih.ID != int(origID+uint16(i)) || ih.Protocol != int(r.proto) ||
				!bytes.Equal(ih.Options, frame[r.l3+20:r.l4]) ||
				ih.Checksum != int(binary.BigEndian.Uint16(seg[r.l3+10:])) {
				t.Fatalf("segment %d: x/net/ipv4 reads %+v", i, ih)
			}
			src, dst := r.addrs(frame)
			if !ih.Src.Equal(net.IP(src)) || !ih.Dst.Equal(net.IP(dst)) {
				t.Fatalf("segment %d: addresses %v > %v", i, ih.Src, ih.Dst)
			}
		}

		if !r.l4ChecksumOK(seg) {
			t.Fatalf("segment %d: %d checksum wrong", i, r.proto)
		}
		if r.proto == 6 {
			if got, want := binary.BigEndian.Uint32(seg[r.l4+4:]), origSeq+uint32(i*mss); got != want {
				t.Fatalf("segment %d: seq %d, want %d", i, got, want)
			}
			want := origFlags
			if i > 0 {
				want &^= 0x80 // CWR
			}
			if !last {
				want &^= 0x01 | 0x08 // FIN, PSH
			}
			if got := seg[r.l4+13]; got != want {
				t.Fatalf("segment %d: TCP flags %#02x, want %#02x", i, got, want)
			}
		} else {
			if got, want := int(binary.BigEndian.Uint16(seg[r.l4+4:])), len(seg)-r.l4; got != want {
				t.Fatalf("segment %d: UDP length %d, want %d", i, got, want)
			}
			if binary.BigEndian.Uint16(seg[r.l4+6:]) == 0 {
				t.Fatalf("segment %d: UDP checksum 0", i)
			}
		}
		got = append(got, seg[r.pay:]...)
	}
	if !bytes.Equal(got, payload) {
		t.Fatalf("payloads of the segments (%d bytes) differ from the original payload (%d bytes)", len(got), len(payload))
	}
}

// buffers returns n out buffers of size bytes each and room for their
// sizes.
func buffers(n, size int) ([][]byte, []int) {
	out := make([][]byte, n)
	for i := range out {
		out[i] = make([]byte, size)
	}
	return out, make([]int, n)
}

// segments returns the n segments Segment wrote.
func segments(out [][]byte, sizes []int, n int) [][]byte {
	segs := make([][]byte, n)
	for i := range segs {
		segs[i] = out[i][:sizes[i]]
	}
	return segs
}
