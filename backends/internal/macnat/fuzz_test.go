package macnat

import (
	"encoding/binary"
	"testing"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"

	"github.com/l2fabric/l2fabric/frames"
	"github.com/l2fabric/l2fabric/frames/offload"
)

// transportChecksumOK reports whether fr is an untagged IPv4/UDP or
// IPv6/ICMPv6 frame (no extension headers) whose transport checksum
// verifies, computing it from scratch; ok is false for anything else.
func transportChecksumOK(fr []byte) (valid, ok bool) {
	if len(fr) < frames.HeaderLen {
		return false, false
	}
	ip := fr[frames.HeaderLen:]
	switch binary.BigEndian.Uint16(fr[12:14]) {
	case etherTypeIPv4:
		if len(ip) < 20 || ip[0] != 0x45 || ip[9] != protoUDP || binary.BigEndian.Uint16(ip[6:8])&0x3fff != 0 {
			return false, false
		}
		total := int(binary.BigEndian.Uint16(ip[2:4]))
		if total < 28 || total > len(ip) {
			return false, false
		}
		udp := ip[20:total]
		if int(binary.BigEndian.Uint16(udp[4:6])) != len(udp) || binary.BigEndian.Uint16(udp[6:8]) == 0 {
			return false, false
		}
		return offload.Fold(offload.Sum(udp, offload.PseudoHeaderSum(protoUDP, ip[12:16], ip[16:20], uint32(len(udp))))) == 0, true
	case etherTypeIPv6:
		if len(ip) < 40 || ip[0]>>4 != 6 || ip[6] != protoICMPv6 {
			return false, false
		}
		n := int(binary.BigEndian.Uint16(ip[4:6]))
		if n < 4 || 40+n > len(ip) {
			return false, false
		}
		icmp := ip[40 : 40+n]
		return offload.Fold(offload.Sum(icmp, offload.PseudoHeaderSum(protoICMPv6, ip[8:24], ip[24:40], uint32(n)))) == 0, true
	}
	return false, false
}

// FuzzTranslate feeds arbitrary frames both ways: no panic, no change of
// length, and a transport checksum that verified before still verifies.
func FuzzTranslate(f *testing.F) {
	seed := func(b []byte) { f.Add(b) }
	seed(arpFrame(f, vm1MAC, bcast, layers.ARPRequest, vm1MAC, vm1IP4, zeroMAC, lanIP4))
	seed(dhcpFrame(f, vm1MAC, zero4, layers.DHCPMsgTypeDiscover, 0))
	seed(ipv4Frame(f, vm1MAC, lanMAC, vm1IP4, lanIP4, "x"))
	seed(ipv4Frame(f, lanMAC, hostMAC, lanIP4, vm1IP4, "x"))
	seed(ndFrame(f, vm1MAC, lanMAC, vm1IP6, lanIP6, &layers.ICMPv6NeighborAdvertisement{TargetAddress: ip(vm1IP6),
		Options: layers.ICMPv6Options{llaOpt(layers.ICMPv6OptTargetAddress, vm1MAC)}}, layers.ICMPv6TypeNeighborAdvertisement))
	seed(ndFrame(f, vm1MAC, bcast, vm1LL6, lanIP6, &layers.ICMPv6RouterSolicitation{
		Options: layers.ICMPv6Options{{Type: layers.ICMPv6OptMTU, Data: make([]byte, 6)}, llaOpt(layers.ICMPv6OptSourceAddress, vm1MAC)}}, layers.ICMPv6TypeRouterSolicitation))
	seed(serialize(f, eth(vm1MAC, bcast, layers.EthernetType(0x8100)), gopacket.Payload([]byte{0, 10, 0x08, 0x06, 0, 1})))
	x, _ := newTestTranslator(f)
	x.table.Learn(vm1IP4, vm1MAC)
	x.table.Learn(vm1IP6, vm1MAC)
	f.Fuzz(func(t *testing.T, fr []byte) {
		for _, inbound := range []bool{false, true} {
			b := append([]byte(nil), fr...)
			if inbound && len(b) >= 6 {
				copy(b, hostMAC[:])
			}
			valid, ok := transportChecksumOK(b)
			if inbound {
				x.Inbound(b)
			} else {
				x.Outbound(b, offload.Header{})
			}
			if len(b) != len(fr) {
				t.Fatalf("length changed: %d -> %d", len(fr), len(b))
			}
			if after, _ := transportChecksumOK(b); ok && valid && !after {
				t.Fatalf("checksum broken (inbound %v):\n before %x\n after  %x", inbound, fr, b)
			}
		}
	})
}
