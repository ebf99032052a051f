package offload

import "encoding/binary"

// Header sizes and protocol numbers Segment parses.
const (
	ethHeaderLen   = 14
	vlanTagLen     = 4
	maxVLANTags    = 2
	ipv4MinLen     = 20
	ipv4MaxLen     = 60
	ipv6HeaderLen  = 40
	tcpMinLen      = 20
	tcpMaxLen      = 60
	udpHeaderLen   = 8
	maxIPLen       = 0xffff
	etherTypeIPv4  = 0x0800
	etherTypeIPv6  = 0x86dd
	etherTypeVLAN  = 0x8100
	etherTypeQinQ  = 0x88a8
	protoTCP       = 6
	protoUDP       = 17
	tcpFlagFIN     = 0x01
	tcpFlagPSH     = 0x08
	tcpFlagCWR     = 0x80
	ipv4FlagMF     = 0x2000
	ipv4FragOffset = 0x1fff
)

// MaxHeadersLen is the longest run of headers Segment accepts in front of
// the payload: Ethernet with two VLAN tags, an IPv4 header with 40 bytes of
// options and a TCP header with 40 bytes of options. Every segment is at
// most MaxHeadersLen+GSOSize bytes long.
const MaxHeadersLen = ethHeaderLen + maxVLANTags*vlanTagLen + ipv4MaxLen + tcpMaxLen

// CompleteChecksum finishes, in place, the partial checksum of an ordinary
// (non-GSO) frame whose header has FlagNeedsCsum, as the kernel's
// skb_checksum_help does: the field at CsumStart+CsumOffset, which holds the
// pseudo-header sum, is replaced by the complemented one's complement sum of
// the bytes from CsumStart to the end of the frame, and a result of 0 is
// stored as 0xffff (for UDP, 0 would mean "no checksum"; for TCP the two are
// equivalent). Offsets count from the start of frame, so a caller that adds
// or removes a VLAN tag in front of CsumStart must adjust them.
//
// Without FlagNeedsCsum it does nothing. It returns ErrChecksumOffset,
// leaving frame untouched, if the field does not lie within frame. It does
// not allocate.
func CompleteChecksum(h Header, frame []byte) error {
	if h.Flags&FlagNeedsCsum == 0 {
		return nil
	}
	start := int(h.CsumStart)
	field := start + int(h.CsumOffset)
	if field+2 > len(frame) {
		return ErrChecksumOffset
	}
	c := Checksum(frame[start:], 0)
	if c == 0 {
		c = 0xffff
	}
	binary.BigEndian.PutUint16(frame[field:], c)
	return nil
}

// layout locates the headers of a frame.
type layout struct {
	l3, l4, payload int // offsets of the IP header, L4 header and payload
	v6              bool
	proto           uint8
}

// parse finds the IP and TCP/UDP headers of frame and checks that they are
// whole and well-formed enough to be copied in front of each segment.
func parse(frame []byte) (layout, error) {
	var l layout
	off := 12 // EtherType or TPID
	for tags := 0; ; tags++ {
		if len(frame) < off+2 {
			return l, ErrTruncated
		}
		et := binary.BigEndian.Uint16(frame[off:])
		if et == etherTypeVLAN || et == etherTypeQinQ {
			if tags == maxVLANTags {
				return l, ErrVLAN
			}
			off += vlanTagLen
			continue
		}
		off += 2
		switch et {
		case etherTypeIPv4:
		case etherTypeIPv6:
			l.v6 = true
		default:
			return l, ErrNotIP
		}
		break
	}
	l.l3 = off
	if l.v6 {
		if len(frame) < off+ipv6HeaderLen {
			return l, ErrTruncated
		}
		if frame[off]>>4 != 6 {
			return l, ErrBadIPHeader
		}
		l.proto = frame[off+6]
		switch l.proto {
		case protoTCP, protoUDP:
		case 0, 43, 44, 50, 51, 60, 135, 139, 140, 253, 254:
			// Hop-by-hop, routing, fragment, ESP, AH, destination
			// options, mobility, HIP, shim6, experimental.
			return l, ErrExtensionHeader
		default:
			return l, ErrProtocol
		}
		l.l4 = off + ipv6HeaderLen
	} else {
		if len(frame) < off+ipv4MinLen {
			return l, ErrTruncated
		}
		if frame[off]>>4 != 4 {
			return l, ErrBadIPHeader
		}
		ihl := int(frame[off]&0x0f) * 4
		if ihl < ipv4MinLen {
			return l, ErrBadIPHeader
		}
		if len(frame) < off+ihl {
			return l, ErrTruncated
		}
		if binary.BigEndian.Uint16(frame[off+6:])&(ipv4FlagMF|ipv4FragOffset) != 0 {
			return l, ErrFragment
		}
		l.proto = frame[off+9]
		if l.proto != protoTCP && l.proto != protoUDP {
			return l, ErrProtocol
		}
		l.l4 = off + ihl
	}
	if l.proto == protoTCP {
		if len(frame) < l.l4+tcpMinLen {
			return l, ErrTruncated
		}
		doff := int(frame[l.l4+12]>>4) * 4
		if doff < tcpMinLen {
			return l, ErrBadL4Header
		}
		if len(frame) < l.l4+doff {
			return l, ErrTruncated
		}
		l.payload = l.l4 + doff
	} else {
		if len(frame) < l.l4+udpHeaderLen {
			return l, ErrTruncated
		}
		l.payload = l.l4 + udpHeaderLen
	}
	return l, nil
}

// MaxSegments returns how many out buffers Segment needs at most for a frame
// of frameLen bytes behind h: 1 for an ordinary frame, 0 when Segment would
// refuse h whatever the frame (unknown type, UFO, a GSOSize of 0). It is an
// upper bound computed with the shortest possible headers.
func MaxSegments(h Header, frameLen int) int {
	var minHeaders int
	switch h.GSOType &^ GSOECN {
	case GSONone:
		if h.GSOType != GSONone {
			return 0 // ECN without a TCP type.
		}
		return 1
	case GSOTCPv4:
		minHeaders = ethHeaderLen + ipv4MinLen + tcpMinLen
	case GSOTCPv6:
		minHeaders = ethHeaderLen + ipv6HeaderLen + tcpMinLen
	case GSOUDPL4:
		minHeaders = ethHeaderLen + ipv4MinLen + udpHeaderLen
	default:
		return 0
	}
	if h.GSOSize == 0 {
		return 0
	}
	payload := frameLen - minHeaders
	if payload <= int(h.GSOSize) {
		return 1
	}
	return (payload + int(h.GSOSize) - 1) / int(h.GSOSize)
}

// MaxSegmentLen returns how long an out buffer must be, at most, for any
// segment Segment cuts from a frame of frameLen bytes behind h: frameLen for
// an ordinary frame, otherwise the lesser of frameLen and
// MaxHeadersLen+GSOSize.
func MaxSegmentLen(h Header, frameLen int) int {
	if h.GSOType == GSONone {
		return frameLen
	}
	return min(frameLen, MaxHeadersLen+int(h.GSOSize))
}

// Segment cuts the super-frame frame, received behind h, into ordinary
// frames with complete checksums, as the kernel's software GSO does, and
// returns their number n: segment i is written to out[i][:sizes[i]], for i
// below n. Each out[i] must be at least as long (len, not cap) as its segment
// — MaxSegmentLen bytes always suffice — and must not overlap frame or
// another out buffer. MaxSegments tells how many buffers are needed.
//
// frame is a whole Ethernet frame, with up to two VLAN tags (802.1Q or
// 802.1ad), then IPv4 (with options, not a fragment) or IPv6 (without
// extension headers), then TCP (GSOTCPv4, GSOTCPv6, with options) or UDP
// (GSOUDPL4, over either IP version). Segment locates the headers itself;
// h.HdrLen, h.CsumStart and h.CsumOffset are ignored, and so is whatever the
// L4 checksum field holds. The payload is everything after the L4 header up
// to the end of frame, cut into chunks of h.GSOSize bytes (the last possibly
// shorter). A payload no longer than h.GSOSize, or empty, gives one segment.
//
// Every segment carries a copy of all the headers, with:
//   - IPv4: total length, the identification incremented per segment
//     (wrapping) from the original, and the header checksum recomputed;
//     IPv6: the payload length.
//   - TCP: the sequence number advanced by the offset of the segment's
//     payload; FIN and PSH only on the last segment, CWR only on the first;
//     the full checksum.
//   - UDP: the datagram length and the full checksum (0 is sent as 0xffff).
//
// An ordinary frame (GSONone) is copied to out[0] and its checksum completed
// there as by CompleteChecksum, so that callers may hand Segment any frame.
//
// On error — see the Err* values — n is 0 and nothing has been written to
// out or sizes, except by the GSONone copy. Segment never writes to frame
// and does not allocate.
func Segment(h Header, frame []byte, out [][]byte, sizes []int) (n int, err error) {
	gsoType := h.GSOType &^ GSOECN
	switch gsoType {
	case GSONone:
		if h.GSOType != GSONone {
			return 0, ErrGSOType
		}
		return segmentNone(h, frame, out, sizes)
	case GSOTCPv4, GSOTCPv6, GSOUDPL4:
		// The kernel's virtio_net_hdr_to_skb accepts GSOECN with any
		// type; only TCP gives it a meaning, and UDP ignores it.
	case GSOUDP:
		return 0, ErrUFO
	default:
		return 0, ErrGSOType
	}
	if h.GSOSize == 0 {
		return 0, ErrGSOSize
	}
	l, err := parse(frame)
	if err != nil {
		return 0, err
	}
	switch gsoType {
	case GSOTCPv4:
		if l.v6 || l.proto != protoTCP {
			return 0, ErrProtocol
		}
	case GSOTCPv6:
		if !l.v6 || l.proto != protoTCP {
			return 0, ErrProtocol
		}
	case GSOUDPL4:
		if l.proto != protoUDP {
			return 0, ErrProtocol
		}
	}

	hdrLen := l.payload
	payload := len(frame) - hdrLen
	mss := int(h.GSOSize)
	n = 1
	if payload > mss {
		n = (payload + mss - 1) / mss
	}
	// The IP length field must hold the longest segment.
	ipLen := hdrLen - l.l3 + min(mss, payload)
	if l.v6 {
		ipLen -= ipv6HeaderLen
	}
	if ipLen > maxIPLen {
		return 0, ErrTooLong
	}
	if len(out) < n || len(sizes) < n {
		return 0, ErrOutBuffers
	}
	lastLen := hdrLen + payload - (n-1)*mss
	for i := 0; i < n-1; i++ {
		if len(out[i]) < hdrLen+mss {
			return 0, ErrOutBuffers
		}
	}
	if len(out[n-1]) < lastLen {
		return 0, ErrOutBuffers
	}

	var (
		ipID uint16
		seq  uint32
	)
	if !l.v6 {
		ipID = binary.BigEndian.Uint16(frame[l.l3+4:])
	}
	if l.proto == protoTCP {
		seq = binary.BigEndian.Uint32(frame[l.l4+4:])
	}
	// The addresses do not change: sum them once.
	var addrSum uint32
	if l.v6 {
		addrSum = Sum(frame[l.l3+8:l.l3+40], 0)
	} else {
		addrSum = Sum(frame[l.l3+12:l.l3+20], 0)
	}
	for i := 0; i < n; i++ {
		off := i * mss
		segLen := hdrLen + min(mss, payload-off)
		seg := out[i][:segLen]
		copy(seg, frame[:hdrLen])
		copy(seg[hdrLen:], frame[hdrLen+off:])

		if l.v6 {
			binary.BigEndian.PutUint16(seg[l.l3+4:], uint16(segLen-l.l4))
		} else {
			ip := seg[l.l3:l.l4]
			binary.BigEndian.PutUint16(ip[2:], uint16(segLen-l.l3))
			binary.BigEndian.PutUint16(ip[4:], ipID+uint16(i))
			ip[10], ip[11] = 0, 0
			binary.BigEndian.PutUint16(ip[10:], Checksum(ip, 0))
		}

		l4 := seg[l.l4:]
		l4Len := uint32(len(l4))
		pseudo := uint32(fold64(uint64(addrSum) + uint64(l.proto) + uint64(l4Len>>16) + uint64(l4Len&0xffff)))
		if l.proto == protoTCP {
			binary.BigEndian.PutUint32(l4[4:], seq+uint32(off))
			if i > 0 {
				l4[13] &^= tcpFlagCWR
			}
			if i < n-1 {
				l4[13] &^= tcpFlagFIN | tcpFlagPSH
			}
			l4[16], l4[17] = 0, 0
			binary.BigEndian.PutUint16(l4[16:], Checksum(l4, pseudo))
		} else {
			binary.BigEndian.PutUint16(l4[4:], uint16(l4Len))
			l4[6], l4[7] = 0, 0
			c := Checksum(l4, pseudo)
			if c == 0 {
				c = 0xffff
			}
			binary.BigEndian.PutUint16(l4[6:], c)
		}
		sizes[i] = segLen
	}
	return n, nil
}

// segmentNone copies an ordinary frame to out[0] and completes its
// checksum there.
func segmentNone(h Header, frame []byte, out [][]byte, sizes []int) (int, error) {
	if len(out) < 1 || len(sizes) < 1 || len(out[0]) < len(frame) {
		return 0, ErrOutBuffers
	}
	if h.Flags&FlagNeedsCsum != 0 && int(h.CsumStart)+int(h.CsumOffset)+2 > len(frame) {
		return 0, ErrChecksumOffset
	}
	seg := out[0][:len(frame)]
	copy(seg, frame)
	if err := CompleteChecksum(h, seg); err != nil {
		return 0, err
	}
	sizes[0] = len(frame)
	return 1, nil
}
