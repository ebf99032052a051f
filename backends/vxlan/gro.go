package vxlan

import (
	"bytes"
	"encoding/binary"

	"github.com/l2fabric/l2fabric/frames"
	"github.com/l2fabric/l2fabric/frames/offload"
)

// Receive coalescing: consecutive TCP segments of one flow, as they come
// out of the tunnel, are joined into one super-frame with a virtio-net
// header (GSO TCPv4 or TCPv6, checksum partial), the way the kernel's GRO
// joins them for its vxlan device. The fabric then carries the super-frame
// whole to ports that take them (host, tap), and the receiving stack
// handles one packet instead of dozens; other ports get it cut up again.
// The rules are those of the kernel's tcp_gro_receive: same headers but
// for length, IP ID and checksums, contiguous sequence numbers, every
// segment as long as the first but the last, only ACK (and PSH on the
// last) set, and each segment's checksum verified before it joins. Pure
// functions, no system calls.

// tcpSeg locates the headers of a TCP segment in a frame.
type tcpSeg struct {
	l3, l4, data int // offsets of the IP header, TCP header, payload
	v6           bool
	seq          uint32
	flags        byte
}

// TCP flags.
const (
	tcpFIN = 0x01
	tcpSYN = 0x02
	tcpRST = 0x04
	tcpPSH = 0x08
	tcpACK = 0x10
)

// parseTCP reports whether f (untagged or with one 802.1Q tag) is an
// IPv4 (without options or fragmentation) or IPv6 (without extension
// headers) TCP segment with payload whose lengths add up, and where its
// headers are.
func parseTCP(f []byte) (tcpSeg, bool) {
	var s tcpSeg
	if len(f) < frames.HeaderLen {
		return s, false
	}
	s.l3 = frames.HeaderLen
	et := binary.BigEndian.Uint16(f[12:14])
	if et == frames.EtherTypeVLAN {
		if len(f) < frames.TaggedHeaderLen {
			return s, false
		}
		s.l3 = frames.TaggedHeaderLen
		et = binary.BigEndian.Uint16(f[16:18])
	}
	ip := f[s.l3:]
	switch et {
	case 0x0800:
		if len(ip) < 20 || ip[0] != 0x45 || ip[9] != 6 ||
			binary.BigEndian.Uint16(ip[6:8])&0x3fff != 0 || // MF or an offset
			int(binary.BigEndian.Uint16(ip[2:4])) != len(ip) {
			return s, false
		}
		s.l4 = s.l3 + 20
	case 0x86dd:
		s.v6 = true
		if len(ip) < 40 || ip[0]>>4 != 6 || ip[6] != 6 ||
			int(binary.BigEndian.Uint16(ip[4:6])) != len(ip)-40 {
			return s, false
		}
		s.l4 = s.l3 + 40
	default:
		return s, false
	}
	if len(f) < s.l4+20 {
		return s, false
	}
	tcp := f[s.l4:]
	s.data = s.l4 + int(tcp[12]>>4)*4
	if s.data < s.l4+20 || s.data >= len(f) {
		return s, false // no payload: nothing to coalesce
	}
	s.seq = binary.BigEndian.Uint32(tcp[4:8])
	s.flags = tcp[13]
	return s, true
}

// validTCPChecksum verifies a parsed segment's TCP checksum.
func validTCPChecksum(f []byte, s tcpSeg) bool {
	l4len := uint32(len(f) - s.l4)
	var sum uint32
	if s.v6 {
		sum = offload.PseudoHeaderSum(6, f[s.l3+8:s.l3+24], f[s.l3+24:s.l3+40], l4len)
	} else {
		sum = offload.PseudoHeaderSum(6, f[s.l3+12:s.l3+16], f[s.l3+16:s.l3+20], l4len)
	}
	return offload.Checksum(f[s.l4:], sum) == 0
}

// coalescible reports whether first can start a super-frame: a segment
// with only ACK set and a valid checksum.
func coalescible(f []byte, s tcpSeg) bool {
	return s.flags == tcpACK && validTCPChecksum(f, s)
}

// follows reports whether next (parsed as n) continues the super-frame
// whose first segment's headers are head (parsed as h), whose segments
// carry mss bytes each and whose next sequence number is seq. The caller
// ends the super-frame after a next with PSH set or shorter than mss.
func follows(head []byte, h tcpSeg, mss int, seq uint32, next []byte, n tcpSeg) bool {
	if n.data != h.data || n.v6 != h.v6 || n.seq != seq || len(next)-n.data > mss ||
		(n.flags != tcpACK && n.flags != tcpACK|tcpPSH) {
		return false
	}
	// Equal but for the fields that change from segment to segment:
	// IPv4 total length, ID and checksum, IPv6 payload length, TCP
	// sequence number, flags and checksum.
	if !bytes.Equal(head[:h.l3], next[:h.l3]) {
		return false
	}
	a, b := head[h.l3:h.data], next[h.l3:h.data]
	if h.v6 {
		if !bytes.Equal(a[0:4], b[0:4]) || !bytes.Equal(a[6:40], b[6:40]) {
			return false
		}
	} else if a[1] != b[1] || !bytes.Equal(a[6:10], b[6:10]) || !bytes.Equal(a[12:20], b[12:20]) {
		return false
	}
	t, u := h.l4-h.l3, n.l4-n.l3
	if !bytes.Equal(a[t:t+4], b[u:u+4]) || // ports
		!bytes.Equal(a[t+8:t+13], b[u+8:u+13]) || // ack, data offset
		!bytes.Equal(a[t+14:t+16], b[u+14:u+16]) || // window
		!bytes.Equal(a[t+18:], b[u+18:]) { // urgent pointer, options
		return false
	}
	return validTCPChecksum(next, n)
}

// finishSuper turns the size-byte frame at the start of b, whose first
// segment was parsed as s and which joins segments of mss payload bytes,
// into a super-frame: its IP length and checksum and its TCP flags (PSH
// of the last segment, last) set, the TCP checksum left partial, and the
// virtio-net header that describes it.
func finishSuper(b []byte, size int, s tcpSeg, mss int, last byte) offload.Header {
	f := b[:size]
	ip := f[s.l3:]
	l4len := uint32(size - s.l4)
	var sum uint32
	gso := uint8(offload.GSOTCPv4)
	if s.v6 {
		binary.BigEndian.PutUint16(ip[4:6], uint16(size-s.l3-40))
		sum = offload.PseudoHeaderSum(6, ip[8:24], ip[24:40], l4len)
		gso = offload.GSOTCPv6
	} else {
		binary.BigEndian.PutUint16(ip[2:4], uint16(size-s.l3))
		ip[10], ip[11] = 0, 0
		binary.BigEndian.PutUint16(ip[10:12], offload.Checksum(ip[:20], 0))
		sum = offload.PseudoHeaderSum(6, ip[12:16], ip[16:20], l4len)
	}
	f[s.l4+13] |= last & tcpPSH
	// A partial checksum holds the folded pseudo-header sum, not its
	// complement.
	binary.BigEndian.PutUint16(f[s.l4+16:], ^offload.Fold(sum))
	return offload.Header{
		Flags:      offload.FlagNeedsCsum,
		GSOType:    gso,
		HdrLen:     uint16(s.data),
		GSOSize:    uint16(mss),
		CsumStart:  uint16(s.l4),
		CsumOffset: 16,
	}
}

// maxSuperFrame bounds a super-frame's IP datagram: 64 KiB.
const maxSuperFrame = 65535
