package vxlan

import (
	"encoding/binary"

	"github.com/l2fabric/l2fabric/frames"
)

// Wire format (RFC 7348 section 5), as views over the bytes in the manner
// of gVisor's header package: nothing here allocates, copies a frame or
// touches a socket.
//
//	 0                   1                   2                   3
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|R|R|R|R|I|R|R|R|            Reserved                           |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|                VXLAN Network Identifier (VNI) |   Reserved    |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//
// followed by the inner Ethernet frame, without FCS.

const (
	// HeaderLen is the length of the VXLAN header.
	HeaderLen = 8
	// FlagI is the "VNI valid" flag, the only bit RFC 7348 defines in the
	// first byte.
	FlagI = 0x08
	// MaxVNI is the largest VXLAN Network Identifier (24 bits).
	MaxVNI = 1<<24 - 1
	// DefaultPort is the IANA VXLAN port. Linux uses 8472 unless told
	// dstport 4789.
	DefaultPort = 4789
	// LinuxLegacyPort is the port the Linux kernel's vxlan device uses
	// when it is given no dstport.
	LinuxLegacyPort = 8472
	// IPv4Overhead and IPv6Overhead are what encapsulation adds to an
	// inner frame's payload: outer IP header, UDP, VXLAN and the inner
	// Ethernet header. The inner MTU is the underlay's minus these.
	IPv4Overhead = 20 + 8 + HeaderLen + frames.HeaderLen
	IPv6Overhead = 40 + 8 + HeaderLen + frames.HeaderLen
	// SourcePortMin and SourcePortMax bound the UDP source ports used, as
	// RFC 7348 recommends (the dynamic range).
	SourcePortMin = 49152
	SourcePortMax = 65535
)

// Header is a view over a VXLAN header. Its methods require len >=
// HeaderLen.
type Header []byte

// Flags returns the first byte, whose only defined bit is FlagI.
func (h Header) Flags() uint8 { return h[0] }

// VNI returns the VXLAN Network Identifier.
func (h Header) VNI() uint32 { return binary.BigEndian.Uint32(h[4:8]) >> 8 }

// Encode writes a header carrying vni with the I flag set and every
// reserved bit zero.
func (h Header) Encode(vni uint32) {
	binary.BigEndian.PutUint32(h[0:4], uint32(FlagI)<<24)
	binary.BigEndian.PutUint32(h[4:8], vni<<8)
}

// Packet is a view over one VXLAN packet: the UDP payload, header then
// inner frame.
type Packet []byte

// Verdict is what Decode found wrong with a packet, or Valid.
type Verdict uint8

// Decode verdicts. Each is a drop reason counted on its own.
const (
	// Valid: a well-formed header and an inner frame at least as long as
	// an Ethernet header.
	Valid Verdict = iota
	// Truncated: shorter than the VXLAN header.
	Truncated
	// BadFlags: the I flag clear, or a reserved bit set. Linux drops
	// these (RFC 7348 says to ignore reserved bits; the kernel is stricter,
	// and interoperating means behaving as it does).
	BadFlags
	// InnerRunt: the inner frame is shorter than an Ethernet header.
	InnerRunt
)

// String names the verdict as its drop counter does.
func (v Verdict) String() string {
	switch v {
	case Valid:
		return "valid"
	case Truncated:
		return "truncated"
	case BadFlags:
		return "bad_flags"
	case InnerRunt:
		return "inner_runt"
	}
	return "unknown"
}

// Decode checks p and returns its VNI and inner frame (a view into p), or
// the reason to drop it.
func (p Packet) Decode() (vni uint32, inner frames.Frame, v Verdict) {
	if len(p) < HeaderLen {
		return 0, nil, Truncated
	}
	// Byte 0 must be exactly the I flag; bytes 1-3 and 7 are reserved.
	if p[0] != FlagI || p[1]|p[2]|p[3]|p[7] != 0 {
		return 0, nil, BadFlags
	}
	inner = frames.Frame(p[HeaderLen:])
	if !inner.Valid() {
		return 0, nil, InnerRunt
	}
	return Header(p).VNI(), inner, Valid
}

// FlowHash returns a hash of the inner frame's flow: its addresses and,
// for IPv4 and IPv6, its IP addresses, protocol and (for TCP, UDP and
// SCTP in an unfragmented packet) ports. Every frame of one flow hashes
// alike, so it keeps one UDP source port and one path through an
// ECMP underlay, as the Linux kernel's udp_flow_src_port does. f must be
// an untagged frame at least frames.HeaderLen long.
func FlowHash(f frames.Frame) uint32 {
	h := uint32(2166136261) // FNV-1a, one 32-bit word at a time
	mix := func(w uint32) {
		h ^= w
		h *= 16777619
		h ^= h >> 15
	}
	mix(binary.BigEndian.Uint32(f[0:4]))
	mix(uint32(binary.BigEndian.Uint16(f[4:6]))<<16 | uint32(binary.BigEndian.Uint16(f[6:8])))
	mix(binary.BigEndian.Uint32(f[8:12]))
	et := f.EtherType()
	mix(uint32(et))
	l3 := f[frames.HeaderLen:]
	var proto byte
	var l4 []byte
	switch {
	case et == 0x0800 && len(l3) >= 20 && l3[0]>>4 == 4:
		ihl := int(l3[0]&0x0f) * 4
		mix(binary.BigEndian.Uint32(l3[12:16]))
		mix(binary.BigEndian.Uint32(l3[16:20]))
		proto = l3[9]
		fragmented := binary.BigEndian.Uint16(l3[6:8])&0x3fff != 0
		if !fragmented && ihl >= 20 && len(l3) >= ihl {
			l4 = l3[ihl:]
		}
	case et == 0x86dd && len(l3) >= 40:
		for i := 8; i < 40; i += 4 {
			mix(binary.BigEndian.Uint32(l3[i : i+4]))
		}
		proto = l3[6]
		l4 = l3[40:]
	}
	mix(uint32(proto))
	if (proto == 6 || proto == 17 || proto == 132) && len(l4) >= 4 {
		mix(binary.BigEndian.Uint32(l4[0:4]))
	}
	return h
}
