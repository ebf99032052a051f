package macnat

import (
	"encoding/binary"
	"net/netip"
	"sync/atomic"

	"github.com/l2fabric/l2fabric/frames"
	"github.com/l2fabric/l2fabric/frames/offload"
)

// Protocol numbers and offsets the translator reads.
const (
	etherTypeIPv4 = 0x0800
	etherTypeARP  = 0x0806
	etherTypeIPv6 = 0x86dd

	protoUDP    = 17
	protoICMPv6 = 58

	arpLen      = 28 // Ethernet/IPv4 ARP
	ipv4MinLen  = 20
	ipv6Len     = 40
	udpLen      = 8
	bootpFlags  = 10 // offset of the flags field in a BOOTP message
	bootpClient = 68
	bootpServer = 67
	bootRequest = 1
	dhcpFlagBC  = 0x8000 // BROADCAST

	icmpRS = 133
	icmpRA = 134
	icmpNS = 135
	icmpNA = 136

	optSourceLLA = 1
	optTargetLLA = 2
)

// Counters are a translator's totals since it was made.
type Counters struct {
	// TranslatedOut counts frames sent with the host's MAC as source.
	TranslatedOut uint64
	// TranslatedIn counts frames for the host's MAC delivered to a VM.
	TranslatedIn uint64
	// ToHost counts frames for the host's MAC and one of its own
	// addresses (or a protocol only the host speaks), not delivered to the
	// fabric: the host receives them itself.
	ToHost uint64
	// Misses counts frames for the host's MAC and an address no one in the
	// table owns, not delivered to the fabric.
	Misses uint64
	// Looped counts received frames whose source is the host's MAC: the
	// host's own, or translated frames coming back (an access point
	// relays a station's broadcasts to every station, the station
	// included). They are not delivered to the fabric: a VM would see its
	// own ARP and DHCP from another MAC.
	Looped uint64
	// TableFull counts addresses not learned because the table was full.
	TableFull uint64
	// Moves counts addresses taken over by another VM.
	Moves uint64
	// HostConflicts counts frames a VM sent from one of the host's own
	// addresses (sent on, not learned).
	HostConflicts uint64
	// Untranslatable counts frames of EtherTypes other than IPv4, IPv6 and
	// ARP, sent with the host's MAC as source and nothing else changed:
	// replies to them cannot find their way back to a VM.
	Untranslatable uint64
}

// Translator rewrites frames between VMs (the fabric) and a link that
// admits only the host's MAC. Outbound runs on the port's writer and
// Inbound on its reader, concurrently; neither allocates.
type Translator struct {
	table *Table
	host  atomic.Uint64 // the host's MAC, in the low 48 bits

	translatedOut, translatedIn, toHost, misses, looped atomic.Uint64
	tableFull, moves, hostConflicts, untranslatable     atomic.Uint64
}

// NewTranslator returns a translator over table for a link whose MAC is
// hostMAC.
func NewTranslator(table *Table, hostMAC frames.MAC) *Translator {
	x := &Translator{table: table}
	x.SetHostMAC(hostMAC)
	return x
}

// SetHostMAC changes the host's MAC (a Wi-Fi interface whose private
// address changed).
func (x *Translator) SetHostMAC(m frames.MAC) {
	x.host.Store(uint64(m[0])<<40 | uint64(m[1])<<32 | uint64(m[2])<<24 | uint64(m[3])<<16 | uint64(m[4])<<8 | uint64(m[5]))
}

// HostMAC returns the host's MAC.
func (x *Translator) HostMAC() frames.MAC {
	v := x.host.Load()
	return frames.MAC{byte(v >> 40), byte(v >> 32), byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)}
}

// Table returns the translator's table.
func (x *Translator) Table() *Table { return x.table }

// Counters returns the translator's counters.
func (x *Translator) Counters() Counters {
	return Counters{
		TranslatedOut: x.translatedOut.Load(), TranslatedIn: x.translatedIn.Load(),
		ToHost: x.toHost.Load(), Misses: x.misses.Load(), Looped: x.looped.Load(),
		TableFull: x.tableFull.Load(), Moves: x.moves.Load(), HostConflicts: x.hostConflicts.Load(),
		Untranslatable: x.untranslatable.Load(),
	}
}

// l3 returns the EtherType of fr and the offset of what follows it,
// skipping up to two VLAN tags; ok is false for a frame too short.
func l3(fr []byte) (etherType uint16, off int, ok bool) {
	off = 12
	for i := 0; i < 3; i++ {
		if len(fr) < off+2 {
			return 0, 0, false
		}
		etherType = binary.BigEndian.Uint16(fr[off:])
		if (etherType != frames.EtherTypeVLAN && etherType != frames.EtherTypeServiceVLAN) || i == 2 {
			return etherType, off + 2, true
		}
		off += frames.TagLen
	}
	return 0, 0, false
}

// Outbound translates fr, a frame the fabric sends out through the link,
// in place: its source becomes the host's MAC, the addresses it sends
// from are learned, and ARP, DHCPv4 and ICMPv6 neighbour discovery are
// rewritten as the package describes. h is the frame's offload header
// (zero for an ordinary frame): a checksum the header leaves to be
// completed later covers the rewrite by itself and is not touched.
//
// A frame whose source already is the host's MAC is left alone, so that
// translating a frame twice (a Write retried after a partial send) is
// harmless. Frames too short to hold a header are left alone too.
func (x *Translator) Outbound(fr []byte, h offload.Header) {
	if len(fr) < frames.HeaderLen {
		return
	}
	host := x.HostMAC()
	vm := frames.MAC(fr[6:12])
	if vm == host {
		return
	}
	copy(fr[6:12], host[:])
	x.translatedOut.Add(1)
	et, off, ok := l3(fr)
	if !ok {
		x.untranslatable.Add(1)
		return
	}
	switch et {
	case etherTypeARP:
		x.arpOut(fr[off:], vm, host)
	case etherTypeIPv4:
		x.ipv4Out(fr, off, h, vm)
	case etherTypeIPv6:
		x.ipv6Out(fr, off, h, vm, host)
	default:
		x.untranslatable.Add(1)
	}
}

// learn records ip as vm's and counts what could not be learned.
func (x *Translator) learn(ip netip.Addr, vm frames.MAC) {
	switch x.table.Learn(ip, vm) {
	case Full:
		x.tableFull.Add(1)
	case Moved:
		x.moves.Add(1)
	case HostOwned:
		x.hostConflicts.Add(1)
	}
}

// arpValid reports whether a is an Ethernet/IPv4 ARP request or reply.
func arpValid(a []byte) bool {
	if len(a) < arpLen {
		return false
	}
	op := binary.BigEndian.Uint16(a[6:8])
	return binary.BigEndian.Uint16(a[0:2]) == 1 && binary.BigEndian.Uint16(a[2:4]) == etherTypeIPv4 &&
		a[4] == 6 && a[5] == 4 && (op == 1 || op == 2)
}

// usable4 reports whether a can be a station's own IPv4 address.
func usable4(a [4]byte) bool {
	return a != [4]byte{} && a != [4]byte{255, 255, 255, 255} && a[0]&0xf0 != 0xe0
}

// arpOut learns the sender's address and puts the host's MAC in the
// sender hardware address (ARP has no checksum).
func (x *Translator) arpOut(a []byte, vm, host frames.MAC) {
	if !arpValid(a) {
		return
	}
	if spa := [4]byte(a[14:18]); usable4(spa) {
		x.learn(netip.AddrFrom4(spa), vm)
	}
	copy(a[8:14], host[:])
}

// ipv4Out learns the source address and sets the BROADCAST flag of a
// DHCP client's request, so that the server's answer, addressed to the
// VM's MAC, comes back as a broadcast the VM receives.
func (x *Translator) ipv4Out(fr []byte, off int, h offload.Header, vm frames.MAC) {
	ip := fr[off:]
	if len(ip) < ipv4MinLen || ip[0]>>4 != 4 {
		return
	}
	ihl := int(ip[0]&0x0f) * 4
	if ihl < ipv4MinLen || len(ip) < ihl {
		return
	}
	if src := [4]byte(ip[12:16]); usable4(src) {
		x.learn(netip.AddrFrom4(src), vm)
	}
	if ip[9] != protoUDP || binary.BigEndian.Uint16(ip[6:8])&0x1fff != 0 {
		return // not UDP, or not the first fragment
	}
	udp := ip[ihl:]
	if len(udp) < udpLen+bootpFlags+2 ||
		binary.BigEndian.Uint16(udp[0:2]) != bootpClient || binary.BigEndian.Uint16(udp[2:4]) != bootpServer ||
		udp[udpLen] != bootRequest {
		return
	}
	flags := udp[udpLen+bootpFlags : udpLen+bootpFlags+2]
	if flags[0]&0x80 != 0 {
		return
	}
	var old [2]byte
	copy(old[:], flags)
	flags[0] |= dhcpFlagBC >> 8
	if partial(h, off+ihl) {
		return
	}
	if csum := binary.BigEndian.Uint16(udp[6:8]); csum != 0 {
		binary.BigEndian.PutUint16(udp[6:8], udpChecksum(updateChecksum(csum, old[:], flags)))
	}
}

// partial reports whether the frame's transport checksum, starting at
// l4, is left for later completion (offload): it then holds only the
// pseudo-header's sum, and rewriting the payload needs no update.
func partial(h offload.Header, l4 int) bool {
	return h.Flags&offload.FlagNeedsCsum != 0 && int(h.CsumStart) == l4
}

// ipv6Out rewrites neighbour discovery's link-layer address options and
// learns the source address (for duplicate address detection, sent from
// ::, the address being claimed).
func (x *Translator) ipv6Out(fr []byte, off int, h offload.Header, vm, host frames.MAC) {
	ip := fr[off:]
	if len(ip) < ipv6Len || ip[0]>>4 != 6 {
		return
	}
	src := netip.AddrFrom16([16]byte(ip[8:24]))
	if ip[6] == protoICMPv6 {
		if target, dad := x.ndOut(fr, off, h, host); dad {
			src = target
		}
	}
	if !src.IsUnspecified() && !src.IsMulticast() {
		x.learn(src, vm)
	}
}

// ndOut rewrites the link-layer address option of a neighbour discovery
// message (source in RS, RA and NS; target in NA) to the host's MAC and
// updates the ICMPv6 checksum. For a duplicate address detection probe (an
// NS from ::) it returns the address probed.
func (x *Translator) ndOut(fr []byte, off int, h offload.Header, host frames.MAC) (target netip.Addr, dad bool) {
	ip := fr[off:]
	l4 := off + ipv6Len
	end := l4 + int(binary.BigEndian.Uint16(ip[4:6]))
	if end > len(fr) || end-l4 < 8 {
		return target, false
	}
	icmp := fr[l4:end]
	var body int
	opt := byte(optSourceLLA)
	switch icmp[0] {
	case icmpRS:
		body = 8
	case icmpRA:
		body = 16
	case icmpNS:
		body = 24
	case icmpNA:
		body, opt = 24, optTargetLLA
	default:
		return target, false
	}
	if icmp[1] != 0 || len(icmp) < body {
		return target, false
	}
	if icmp[0] == icmpNS && [16]byte(ip[8:24]) == [16]byte{} {
		t := netip.AddrFrom16([16]byte(icmp[8:24]))
		if t.IsUnspecified() || t.IsMulticast() {
			return target, false
		}
		return t, true // DAD carries no link-layer address option
	}
	for o := body; o+2 <= len(icmp); {
		n := int(icmp[o+1]) * 8
		if n == 0 || o+n > len(icmp) {
			return target, false // malformed: leave it be
		}
		if icmp[o] == opt && n == 8 {
			lla := icmp[o+2 : o+8]
			var old [6]byte
			copy(old[:], lla)
			copy(lla, host[:])
			if !partial(h, l4) {
				csum := binary.BigEndian.Uint16(icmp[2:4])
				binary.BigEndian.PutUint16(icmp[2:4], updateChecksum(csum, old[:], lla))
			}
		}
		o += n
	}
	return target, false
}

// Inbound translates fr, a frame received on the link, in place, and
// reports whether it goes to the fabric. Unicast to the host's MAC is
// delivered only when its destination address (ARP: the target address)
// belongs to a VM, with the destination MAC (and an ARP reply's target
// hardware address) restored to the VM's; a frame from the host's MAC is
// not delivered at all; every other frame passes as it is.
func (x *Translator) Inbound(fr []byte) bool {
	if len(fr) < frames.HeaderLen {
		return true
	}
	host := x.HostMAC()
	if frames.MAC(fr[6:12]) == host {
		x.looped.Add(1)
		return false
	}
	if frames.MAC(fr[0:6]) != host {
		return true
	}
	et, off, ok := l3(fr)
	var vm frames.MAC
	owner := Host
	if ok {
		switch et {
		case etherTypeARP:
			vm, owner = x.arpIn(fr[off:])
		case etherTypeIPv4:
			if ip := fr[off:]; len(ip) >= ipv4MinLen && ip[0]>>4 == 4 {
				vm, owner = x.table.Lookup(netip.AddrFrom4([4]byte(ip[16:20])))
			}
		case etherTypeIPv6:
			if ip := fr[off:]; len(ip) >= ipv6Len && ip[0]>>4 == 6 {
				vm, owner = x.table.Lookup(netip.AddrFrom16([16]byte(ip[24:40])))
			}
		}
	}
	switch owner {
	case VM:
		copy(fr[0:6], vm[:])
		x.translatedIn.Add(1)
		return true
	case Host:
		x.toHost.Add(1)
	default:
		x.misses.Add(1)
	}
	return false
}

// arpIn finds the VM an ARP message for the host's MAC is for: the owner
// of the target address, whose MAC a reply's target hardware address gets
// back; or, failing that, the owner of the sender address, so that a VM
// sees a conflict for its address (as xnu does).
func (x *Translator) arpIn(a []byte) (frames.MAC, Owner) {
	if !arpValid(a) {
		return frames.MAC{}, Host
	}
	tpa := [4]byte(a[24:28])
	if tpa != [4]byte{} {
		if vm, owner := x.table.Lookup(netip.AddrFrom4(tpa)); owner != Nobody {
			if owner == VM && binary.BigEndian.Uint16(a[6:8]) == 2 {
				copy(a[18:24], vm[:])
			}
			return vm, owner
		}
	}
	if spa := [4]byte(a[14:18]); spa != [4]byte{} && spa != tpa {
		if vm, owner := x.table.Lookup(netip.AddrFrom4(spa)); owner == VM {
			return vm, owner
		}
	}
	return frames.MAC{}, Nobody
}
