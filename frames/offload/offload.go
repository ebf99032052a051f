// Package offload turns the offloaded frames a Linux AF_PACKET (or TAP)
// socket hands over with PACKET_VNET_HDR into ordinary frames.
//
// With offloads on, the kernel passes each received frame behind a struct
// virtio_net_hdr (Header) that says what is left to do to it:
//
//   - FlagNeedsCsum: the L4 checksum is only partially computed
//     (CHECKSUM_PARTIAL). The 16-bit field at CsumStart+CsumOffset holds the
//     pseudo-header sum; CompleteChecksum finishes it in place.
//   - GSOTCPv4, GSOTCPv6, GSOUDPL4: the frame is a "super-frame" of up to
//     64 KiB that must be cut into GSOSize-byte segments, each with its own
//     headers and checksums, as the kernel's software GSO does
//     (tcp_gso_segment, __udp_gso_segment, inet_gso_segment,
//     ipv6_gso_segment). Segment does this into caller-provided buffers.
//
// Both are pure Go, portable, and allocate nothing: a switch calls them on
// every frame bound for a port that cannot take offloaded frames.
package offload

import (
	"encoding/binary"
	"errors"
)

// HeaderLen is the size of struct virtio_net_hdr, which AF_PACKET with
// PACKET_VNET_HDR puts in front of every frame.
const HeaderLen = 10

// Values of Header.Flags (VIRTIO_NET_HDR_F_*).
const (
	// FlagNeedsCsum (VIRTIO_NET_HDR_F_NEEDS_CSUM) says the checksum at
	// CsumStart+CsumOffset holds only the pseudo-header sum and must be
	// completed over the bytes from CsumStart to the end of the frame.
	FlagNeedsCsum = 1
	// FlagDataValid (VIRTIO_NET_HDR_F_DATA_VALID) says the receiver already
	// verified the checksums (CHECKSUM_UNNECESSARY). Nothing is left to do.
	FlagDataValid = 2
)

// Values of Header.GSOType (VIRTIO_NET_HDR_GSO_*).
const (
	// GSONone says the frame is an ordinary frame, not a super-frame.
	GSONone = 0
	// GSOTCPv4 is TCP segmentation over IPv4 (SKB_GSO_TCPV4).
	GSOTCPv4 = 1
	// GSOUDP is UDP fragmentation offload (UFO, SKB_GSO_UDP): one UDP
	// datagram cut into IP fragments. It is legacy and Segment rejects it
	// with ErrUFO.
	GSOUDP = 3
	// GSOTCPv6 is TCP segmentation over IPv6 (SKB_GSO_TCPV6).
	GSOTCPv6 = 4
	// GSOUDPL4 is UDP segmentation (SKB_GSO_UDP_L4, UDP_SEGMENT): the
	// payload is cut into GSOSize-byte chunks, each sent as its own UDP
	// datagram, over IPv4 or IPv6.
	GSOUDPL4 = 5
	// GSOECN is or-ed into GSOTCPv4 or GSOTCPv6 when the super-frame has
	// CWR set (SKB_GSO_TCP_ECN). Segment treats it like plain TCP: CWR stays
	// on the first segment only.
	GSOECN = 0x80
)

// Header is a struct virtio_net_hdr (include/uapi/linux/virtio_net.h), as
// AF_PACKET reads and writes it: in the host's native byte order.
type Header struct {
	// Flags is a set of Flag* bits.
	Flags uint8
	// GSOType is one of the GSO* types, possibly with GSOECN set.
	GSOType uint8
	// HdrLen is, in principle, the length of the headers of a super-frame.
	// The kernel fills it with skb_headlen (the length of the linear part),
	// so it is a hint only: Segment finds the headers itself and ignores it.
	HdrLen uint16
	// GSOSize is the payload length of each segment of a super-frame (the
	// MSS, for TCP).
	GSOSize uint16
	// CsumStart is the offset, from the start of the frame, of the first
	// byte the checksum covers when FlagNeedsCsum is set.
	CsumStart uint16
	// CsumOffset is the offset of the checksum field from CsumStart.
	CsumOffset uint16
}

// Errors returned by ParseHeader, CompleteChecksum and Segment. They are
// fixed values, so that a caller dropping a bad frame allocates nothing.
var (
	// ErrShortHeader: fewer than HeaderLen bytes were given to ParseHeader.
	ErrShortHeader = errors.New("offload: virtio_net_hdr shorter than 10 bytes")
	// ErrChecksumOffset: CsumStart+CsumOffset+2 is beyond the frame.
	ErrChecksumOffset = errors.New("offload: checksum field beyond the frame")
	// ErrGSOType: the GSO type is not one Segment knows.
	ErrGSOType = errors.New("offload: unknown GSO type")
	// ErrUFO: the frame asks for UDP fragmentation (GSOUDP), which Segment
	// does not implement.
	ErrUFO = errors.New("offload: UDP fragmentation offload (UFO) is not supported")
	// ErrGSOSize: a super-frame with a GSOSize of 0.
	ErrGSOSize = errors.New("offload: GSO size is 0")
	// ErrTruncated: the frame is shorter than its own headers.
	ErrTruncated = errors.New("offload: frame shorter than its headers")
	// ErrVLAN: the frame carries more than two VLAN tags.
	ErrVLAN = errors.New("offload: too many VLAN tags")
	// ErrNotIP: the frame carries neither IPv4 nor IPv6.
	ErrNotIP = errors.New("offload: frame is neither IPv4 nor IPv6")
	// ErrBadIPHeader: the IP version field or IPv4 header length is wrong.
	ErrBadIPHeader = errors.New("offload: malformed IP header")
	// ErrFragment: the IPv4 packet is a fragment.
	ErrFragment = errors.New("offload: IPv4 fragment")
	// ErrExtensionHeader: the IPv6 packet has extension headers.
	ErrExtensionHeader = errors.New("offload: IPv6 extension headers are not supported")
	// ErrProtocol: the L3 or L4 protocol does not match the GSO type, e.g.
	// GSOTCPv4 on an IPv6 frame, or GSOUDPL4 on a TCP segment.
	ErrProtocol = errors.New("offload: protocol does not match the GSO type")
	// ErrBadL4Header: the TCP data offset is below 5 words.
	ErrBadL4Header = errors.New("offload: malformed TCP header")
	// ErrTooLong: a segment would exceed the 65535 bytes an IP length
	// field can state.
	ErrTooLong = errors.New("offload: segment too long for its IP length field")
	// ErrOutBuffers: too few out buffers or sizes, or a buffer shorter than
	// its segment.
	ErrOutBuffers = errors.New("offload: out buffers too few or too short")
)

// ParseHeader decodes a virtio_net_hdr from the first HeaderLen bytes of b,
// in native byte order. It returns ErrShortHeader if b is shorter.
func ParseHeader(b []byte) (Header, error) {
	if len(b) < HeaderLen {
		return Header{}, ErrShortHeader
	}
	return Header{
		Flags:      b[0],
		GSOType:    b[1],
		HdrLen:     binary.NativeEndian.Uint16(b[2:4]),
		GSOSize:    binary.NativeEndian.Uint16(b[4:6]),
		CsumStart:  binary.NativeEndian.Uint16(b[6:8]),
		CsumOffset: binary.NativeEndian.Uint16(b[8:10]),
	}, nil
}

// Put encodes h into the first HeaderLen bytes of b, in native byte order.
// It panics if b is shorter than HeaderLen.
func (h Header) Put(b []byte) {
	_ = b[HeaderLen-1]
	b[0] = h.Flags
	b[1] = h.GSOType
	binary.NativeEndian.PutUint16(b[2:4], h.HdrLen)
	binary.NativeEndian.PutUint16(b[4:6], h.GSOSize)
	binary.NativeEndian.PutUint16(b[6:8], h.CsumStart)
	binary.NativeEndian.PutUint16(b[8:10], h.CsumOffset)
}

// IsGSO reports whether h describes a super-frame that Segment must cut,
// rather than an ordinary frame.
func (h Header) IsGSO() bool { return h.GSOType != GSONone }

// Shift returns h with its offsets into the frame moved by d bytes, for a
// VLAN tag removed (d = -4) or inserted (d = 4) in front of what they
// point at: CsumStart when FlagNeedsCsum is set, and HdrLen when it is
// not 0.
func (h Header) Shift(d int) Header {
	if h.Flags&FlagNeedsCsum != 0 {
		h.CsumStart = uint16(int(h.CsumStart) + d)
	}
	if h.HdrLen != 0 {
		h.HdrLen = uint16(max(int(h.HdrLen)+d, 0))
	}
	return h
}
