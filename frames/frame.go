package frames

import (
	"encoding/binary"
	"fmt"

	"github.com/mdlayher/ethernet"
)

// Sizes and EtherTypes of the Ethernet header fields l2fabric looks at.
const (
	// HeaderLen is the length of an untagged Ethernet header: destination,
	// source and EtherType. A shorter frame is a runt.
	HeaderLen = 14
	// TagLen is the length of an IEEE 802.1Q tag (TPID and TCI).
	TagLen = 4
	// TaggedHeaderLen is the length of a header carrying one 802.1Q tag.
	TaggedHeaderLen = HeaderLen + TagLen
	// EtherTypeVLAN is the TPID of an IEEE 802.1Q customer VLAN tag.
	EtherTypeVLAN = 0x8100
	// EtherTypeServiceVLAN is the TPID of an 802.1ad service tag (QinQ).
	EtherTypeServiceVLAN = 0x88a8
	// MinVLAN and MaxVLAN bound the VLAN IDs usable on a port: 0 means
	// a priority tag (the frame belongs to the native VLAN) and 4095 is
	// reserved (IEEE 802.1Q). This is l2fabric's one definition of the
	// range; the learning table (package fdb) takes keys up to MaxVLAN too.
	MinVLAN = 1
	// MaxVLAN is the highest usable VLAN ID.
	MaxVLAN = 4094
)

// Frame is a view over the bytes of one Ethernet frame, starting at the
// destination address and ending before the FCS. Accessors read the bytes in
// place; none allocates.
//
// Accessors require the frame to hold the header they read: check Valid
// (HeaderLen) before the address and EtherType accessors, and Tagged before
// the tag accessors, which also checks the length. Out-of-range calls are
// bugs in the caller and panic like any slice index.
type Frame []byte

// Valid reports whether f is long enough to hold an Ethernet header.
func (f Frame) Valid() bool { return len(f) >= HeaderLen }

// Destination returns the destination MAC address.
func (f Frame) Destination() MAC { return MAC(f[0:6]) }

// Source returns the source MAC address.
func (f Frame) Source() MAC { return MAC(f[6:12]) }

// SetDestination overwrites the destination MAC address.
func (f Frame) SetDestination(m MAC) { copy(f[0:6], m[:]) }

// SetSource overwrites the source MAC address.
func (f Frame) SetSource(m MAC) { copy(f[6:12], m[:]) }

// EtherType returns the outer EtherType (or TPID, for a tagged frame).
func (f Frame) EtherType() uint16 { return binary.BigEndian.Uint16(f[12:14]) }

// Tagged reports whether f carries an 802.1Q tag and is long enough to hold
// it.
func (f Frame) Tagged() bool {
	return len(f) >= TaggedHeaderLen && f[12] == EtherTypeVLAN>>8 && f[13] == EtherTypeVLAN&0xff
}

// TCI returns the tag control information of a tagged frame: priority
// (3 bits), drop eligible (1 bit) and VLAN ID (12 bits).
func (f Frame) TCI() uint16 { return binary.BigEndian.Uint16(f[14:16]) }

// VLAN returns the VLAN ID of a tagged frame.
func (f Frame) VLAN() uint16 { return f.TCI() & 0x0fff }

// Priority returns the 802.1p priority code point of a tagged frame.
func (f Frame) Priority() uint8 { return uint8(f.TCI() >> 13) }

// InnerEtherType returns the EtherType following the tag of a tagged
// frame.
func (f Frame) InnerEtherType() uint16 { return binary.BigEndian.Uint16(f[16:18]) }

// PopTag removes the 802.1Q tag of a tagged frame in place, by moving the
// two addresses forward over it, and returns the untagged frame, which
// starts TagLen bytes into f. The bytes of f before the result are left
// undefined.
func (f Frame) PopTag() Frame {
	copy(f[TagLen:TagLen+12], f[0:12])
	return f[TagLen:]
}

// AppendTagged appends to dst a copy of the untagged frame f with an
// 802.1Q tag carrying tci inserted after the addresses, and returns the
// extended slice. It allocates only when dst lacks capacity.
func AppendTagged(dst []byte, f Frame, tci uint16) []byte {
	dst = append(dst, f[0:12]...)
	dst = append(dst, EtherTypeVLAN>>8, EtherTypeVLAN&0xff, byte(tci>>8), byte(tci))
	return append(dst, f[12:]...)
}

// InsertTag inserts an 802.1Q (tpid 0x8100) or 802.1ad tag carrying tci
// after the addresses of the size-byte frame at the start of b, in place,
// and returns the tagged frame's size. b must have TagLen bytes of room
// after the frame.
func InsertTag(b []byte, size int, tpid, tci uint16) int {
	copy(b[HeaderLen-2+TagLen:size+TagLen], b[12:size])
	binary.BigEndian.PutUint16(b[12:], tpid)
	binary.BigEndian.PutUint16(b[14:], tci)
	return size + TagLen
}

// Describe decodes f for a log line or a trace, e.g.
// "02:00:00:00:00:01 > ff:ff:ff:ff:ff:ff, vlan 10, ARP, 42 bytes".
// It allocates: callers use it only when a person will read the result
// (the fabric's trace of dropped frames), never on the per-frame path.
func (f Frame) Describe() string {
	if !f.Valid() {
		return fmt.Sprintf("runt frame, %d bytes", len(f))
	}
	var e ethernet.Frame
	if err := e.UnmarshalBinary(f); err != nil {
		return fmt.Sprintf("%s > %s, undecodable (%v), %d bytes", f.Source(), f.Destination(), err, len(f))
	}
	s := fmt.Sprintf("%s > %s", e.Source, e.Destination)
	if e.ServiceVLAN != nil {
		s += fmt.Sprintf(", svlan %d", e.ServiceVLAN.ID)
	}
	if e.VLAN != nil {
		s += fmt.Sprintf(", vlan %d", e.VLAN.ID)
		if e.VLAN.Priority != 0 {
			s += fmt.Sprintf(" prio %d", e.VLAN.Priority)
		}
	}
	return s + fmt.Sprintf(", %s, %d bytes", etherTypeName(e.EtherType), len(f))
}

func etherTypeName(t ethernet.EtherType) string {
	switch t {
	case ethernet.EtherTypeIPv4:
		return "IPv4"
	case ethernet.EtherTypeIPv6:
		return "IPv6"
	case ethernet.EtherTypeARP:
		return "ARP"
	case 0x88cc:
		return "LLDP"
	}
	if t < 0x0600 {
		return fmt.Sprintf("802.3 length %d", uint16(t))
	}
	return fmt.Sprintf("ethertype 0x%04x", uint16(t))
}
