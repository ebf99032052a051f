package macnat

import (
	"encoding/binary"
	"net/netip"
	"testing"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"

	"github.com/l2fabric/l2fabric/frames"
	"github.com/l2fabric/l2fabric/frames/offload"
)

var (
	bcast   = frames.MAC{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}
	zeroMAC = frames.MAC{}
	zero4   = netip.MustParseAddr("0.0.0.0")
	unspec6 = netip.MustParseAddr("::")
)

func TestOutboundARPRequest(t *testing.T) {
	x, _ := newTestTranslator(t)
	fr := arpFrame(t, vm1MAC, bcast, layers.ARPRequest, vm1MAC, vm1IP4, zeroMAC, lanIP4)
	x.Outbound(fr, offload.Header{})
	wantBytes(t, "ARP request", fr, arpFrame(t, hostMAC, bcast, layers.ARPRequest, hostMAC, vm1IP4, zeroMAC, lanIP4))
	wantOwner(t, x.table, vm1IP4, vm1MAC, VM)
	if c := x.Counters(); c.TranslatedOut != 1 || c.Untranslatable != 0 {
		t.Errorf("counters %+v", c)
	}
}

func TestOutboundARPReply(t *testing.T) {
	x, _ := newTestTranslator(t)
	fr := arpFrame(t, vm1MAC, lanMAC, layers.ARPReply, vm1MAC, vm1IP4, lanMAC, lanIP4)
	x.Outbound(fr, offload.Header{})
	wantBytes(t, "ARP reply", fr, arpFrame(t, hostMAC, lanMAC, layers.ARPReply, hostMAC, vm1IP4, lanMAC, lanIP4))
	wantOwner(t, x.table, vm1IP4, vm1MAC, VM)
}

func TestOutboundARPProbeLearnsNothing(t *testing.T) {
	x, _ := newTestTranslator(t)
	fr := arpFrame(t, vm1MAC, bcast, layers.ARPRequest, vm1MAC, zero4, zeroMAC, vm1IP4)
	x.Outbound(fr, offload.Header{})
	wantBytes(t, "ARP probe", fr, arpFrame(t, hostMAC, bcast, layers.ARPRequest, hostMAC, zero4, zeroMAC, vm1IP4))
	if n := x.table.Len(); n != 0 {
		t.Errorf("a probe from 0.0.0.0 learned %d entries", n)
	}
}

func TestOutboundIPv4(t *testing.T) {
	x, _ := newTestTranslator(t)
	fr := ipv4Frame(t, vm1MAC, lanMAC, vm1IP4, lanIP4, "hello")
	x.Outbound(fr, offload.Header{})
	wantBytes(t, "IPv4", fr, ipv4Frame(t, hostMAC, lanMAC, vm1IP4, lanIP4, "hello"))
	wantOwner(t, x.table, vm1IP4, vm1MAC, VM)
}

func TestOutboundDHCP(t *testing.T) {
	for _, tc := range []struct {
		name string
		msg  layers.DHCPMsgType
		src  netip.Addr
	}{
		{"discover", layers.DHCPMsgTypeDiscover, zero4},
		{"request", layers.DHCPMsgTypeRequest, zero4},
		{"renewal", layers.DHCPMsgTypeRequest, vm1IP4},
	} {
		t.Run(tc.name, func(t *testing.T) {
			x, _ := newTestTranslator(t)
			fr := dhcpFrame(t, vm1MAC, tc.src, tc.msg, 0)
			x.Outbound(fr, offload.Header{})
			// chaddr stays the VM's: the server's lease is the VM's.
			wantBytes(t, "DHCP", fr, dhcpFrame(t, hostMAC, tc.src, tc.msg, 0x8000))
			if tc.src.IsUnspecified() {
				if n := x.table.Len(); n != 0 {
					t.Errorf("learned %d entries from 0.0.0.0", n)
				}
			} else {
				wantOwner(t, x.table, tc.src, vm1MAC, VM)
			}
		})
	}
}

func TestOutboundDHCPWithoutUDPChecksum(t *testing.T) {
	x, _ := newTestTranslator(t)
	fr := dhcpFrame(t, vm1MAC, zero4, layers.DHCPMsgTypeDiscover, 0)
	udp := fr[frames.HeaderLen+20:]
	binary.BigEndian.PutUint16(udp[6:8], 0)
	x.Outbound(fr, offload.Header{})
	if c := binary.BigEndian.Uint16(udp[6:8]); c != 0 {
		t.Errorf("UDP checksum 0 (none) became %#04x", c)
	}
	if udp[udpLen+bootpFlags]&0x80 == 0 {
		t.Error("BROADCAST flag not set")
	}
}

// A checksum the offload header leaves to be completed holds only the
// pseudo-header's sum; completing it later covers the rewritten flag.
func TestOutboundDHCPPartialChecksum(t *testing.T) {
	x, _ := newTestTranslator(t)
	fr := dhcpFrame(t, vm1MAC, zero4, layers.DHCPMsgTypeDiscover, 0)
	l4 := frames.HeaderLen + 20
	udp := fr[l4:]
	pseudo := offload.Fold(offload.PseudoHeaderSum(protoUDP, fr[frames.HeaderLen+12:frames.HeaderLen+16], fr[frames.HeaderLen+16:frames.HeaderLen+20], uint32(len(udp))))
	binary.BigEndian.PutUint16(udp[6:8], ^pseudo)
	h := offload.Header{Flags: offload.FlagNeedsCsum, CsumStart: uint16(l4), CsumOffset: 6}
	x.Outbound(fr, h)
	if c := binary.BigEndian.Uint16(udp[6:8]); c != ^pseudo {
		t.Errorf("partial checksum changed to %#04x", c)
	}
	if err := offload.CompleteChecksum(h, fr); err != nil {
		t.Fatal(err)
	}
	wantBytes(t, "completed", fr, dhcpFrame(t, hostMAC, zero4, layers.DHCPMsgTypeDiscover, 0x8000))
}

func TestOutboundNeighborSolicitation(t *testing.T) {
	x, _ := newTestTranslator(t)
	ns := func(m frames.MAC) gopacket.SerializableLayer {
		return &layers.ICMPv6NeighborSolicitation{TargetAddress: ip(lanIP6), Options: layers.ICMPv6Options{llaOpt(layers.ICMPv6OptSourceAddress, m)}}
	}
	dst := netip.MustParseAddr("ff02::1:ff00:9")
	fr := ndFrame(t, vm1MAC, frames.MAC{0x33, 0x33, 0xff, 0, 0, 9}, vm1LL6, dst, ns(vm1MAC), layers.ICMPv6TypeNeighborSolicitation)
	x.Outbound(fr, offload.Header{})
	wantBytes(t, "NS", fr, ndFrame(t, hostMAC, frames.MAC{0x33, 0x33, 0xff, 0, 0, 9}, vm1LL6, dst, ns(hostMAC), layers.ICMPv6TypeNeighborSolicitation))
	wantOwner(t, x.table, vm1LL6, vm1MAC, VM)
}

func TestOutboundNeighborAdvertisement(t *testing.T) {
	x, _ := newTestTranslator(t)
	na := func(m frames.MAC) gopacket.SerializableLayer {
		return &layers.ICMPv6NeighborAdvertisement{Flags: 0x60, TargetAddress: ip(vm1IP6), Options: layers.ICMPv6Options{llaOpt(layers.ICMPv6OptTargetAddress, m)}}
	}
	fr := ndFrame(t, vm1MAC, lanMAC, vm1IP6, lanIP6, na(vm1MAC), layers.ICMPv6TypeNeighborAdvertisement)
	x.Outbound(fr, offload.Header{})
	wantBytes(t, "NA", fr, ndFrame(t, hostMAC, lanMAC, vm1IP6, lanIP6, na(hostMAC), layers.ICMPv6TypeNeighborAdvertisement))
	wantOwner(t, x.table, vm1IP6, vm1MAC, VM)
}

func TestOutboundRouterSolicitation(t *testing.T) {
	x, _ := newTestTranslator(t)
	rs := func(m frames.MAC) gopacket.SerializableLayer {
		return &layers.ICMPv6RouterSolicitation{Options: layers.ICMPv6Options{llaOpt(layers.ICMPv6OptSourceAddress, m)}}
	}
	dst := netip.MustParseAddr("ff02::2")
	allRouters := frames.MAC{0x33, 0x33, 0, 0, 0, 2}
	fr := ndFrame(t, vm1MAC, allRouters, vm1LL6, dst, rs(vm1MAC), layers.ICMPv6TypeRouterSolicitation)
	x.Outbound(fr, offload.Header{})
	wantBytes(t, "RS", fr, ndFrame(t, hostMAC, allRouters, vm1LL6, dst, rs(hostMAC), layers.ICMPv6TypeRouterSolicitation))
}

// A router VM's advertisement, with a prefix option before the source
// link-layer address and an MTU option after it.
func TestOutboundRouterAdvertisement(t *testing.T) {
	x, _ := newTestTranslator(t)
	prefix := make([]byte, 30)
	prefix[0], prefix[1] = 64, 0xc0
	copy(prefix[14:], netip.MustParseAddr("2001:db8::").AsSlice())
	mtu := []byte{0, 0, 0, 0, 0x05, 0xdc}
	ra := func(m frames.MAC) gopacket.SerializableLayer {
		return &layers.ICMPv6RouterAdvertisement{HopLimit: 64, RouterLifetime: 1800, Options: layers.ICMPv6Options{
			{Type: layers.ICMPv6OptPrefixInfo, Data: prefix},
			llaOpt(layers.ICMPv6OptSourceAddress, m),
			{Type: layers.ICMPv6OptMTU, Data: mtu},
		}}
	}
	dst := netip.MustParseAddr("ff02::1")
	allNodes := frames.MAC{0x33, 0x33, 0, 0, 0, 1}
	fr := ndFrame(t, vm1MAC, allNodes, vm1LL6, dst, ra(vm1MAC), layers.ICMPv6TypeRouterAdvertisement)
	x.Outbound(fr, offload.Header{})
	wantBytes(t, "RA", fr, ndFrame(t, hostMAC, allNodes, vm1LL6, dst, ra(hostMAC), layers.ICMPv6TypeRouterAdvertisement))
}

// Duplicate address detection: an NS from :: with no link-layer option;
// the address being claimed is learned.
func TestOutboundDAD(t *testing.T) {
	x, _ := newTestTranslator(t)
	ns := &layers.ICMPv6NeighborSolicitation{TargetAddress: ip(vm1IP6)}
	dst := netip.MustParseAddr("ff02::1:ff00:1")
	snm := frames.MAC{0x33, 0x33, 0xff, 0, 0, 1}
	fr := ndFrame(t, vm1MAC, snm, unspec6, dst, ns, layers.ICMPv6TypeNeighborSolicitation)
	x.Outbound(fr, offload.Header{})
	wantBytes(t, "DAD", fr, ndFrame(t, hostMAC, snm, unspec6, dst, ns, layers.ICMPv6TypeNeighborSolicitation))
	wantOwner(t, x.table, vm1IP6, vm1MAC, VM)
	wantOwner(t, x.table, unspec6, zeroMAC, Nobody)
}

func TestOutboundOtherEtherTypeCounted(t *testing.T) {
	x, _ := newTestTranslator(t)
	fr := serialize(t, eth(vm1MAC, bcast, layers.EthernetType(0x88cc)), gopacket.Payload(make([]byte, 46)))
	x.Outbound(fr, offload.Header{})
	if frames.Frame(fr).Source() != hostMAC {
		t.Errorf("source %s, want the host's", frames.Frame(fr).Source())
	}
	if c := x.Counters(); c.Untranslatable != 1 || c.TranslatedOut != 1 {
		t.Errorf("counters %+v", c)
	}
}

// A Write retried after a partial send translates its frames again: the
// second time must change nothing.
func TestOutboundTwiceIsOnce(t *testing.T) {
	x, _ := newTestTranslator(t)
	fr := dhcpFrame(t, vm1MAC, zero4, layers.DHCPMsgTypeDiscover, 0)
	x.Outbound(fr, offload.Header{})
	x.Outbound(fr, offload.Header{})
	wantBytes(t, "twice", fr, dhcpFrame(t, hostMAC, zero4, layers.DHCPMsgTypeDiscover, 0x8000))
	if c := x.Counters(); c.TranslatedOut != 1 {
		t.Errorf("translated_out %d, want 1", c.TranslatedOut)
	}
}

// A VM sending from the host's address neither takes it over nor gets
// the host's traffic.
func TestOutboundFromHostAddressRefused(t *testing.T) {
	x, _ := newTestTranslator(t)
	x.Outbound(ipv4Frame(t, vm1MAC, lanMAC, hostIP4, lanIP4, "x"), offload.Header{})
	wantOwner(t, x.table, hostIP4, hostMAC, Host)
	if c := x.Counters(); c.HostConflicts != 1 {
		t.Errorf("host_conflicts %d, want 1", c.HostConflicts)
	}
}

func TestOutboundVLANTagged(t *testing.T) {
	x, _ := newTestTranslator(t)
	plain := arpFrame(t, vm1MAC, bcast, layers.ARPRequest, vm1MAC, vm1IP4, zeroMAC, lanIP4)
	fr := frames.AppendTagged(nil, plain, 10)
	x.Outbound(fr, offload.Header{})
	want := frames.AppendTagged(nil, arpFrame(t, hostMAC, bcast, layers.ARPRequest, hostMAC, vm1IP4, zeroMAC, lanIP4), 10)
	wantBytes(t, "tagged ARP", fr, want)
}

func TestInboundIPv4(t *testing.T) {
	x, _ := newTestTranslator(t)
	x.table.Learn(vm1IP4, vm1MAC)
	fr := ipv4Frame(t, lanMAC, hostMAC, lanIP4, vm1IP4, "reply")
	if !x.Inbound(fr) {
		t.Fatal("frame for a VM's address not delivered")
	}
	wantBytes(t, "IPv4 in", fr, ipv4Frame(t, lanMAC, vm1MAC, lanIP4, vm1IP4, "reply"))

	for _, tc := range []struct {
		dst  netip.Addr
		what string
	}{{hostIP4, "host's"}, {vm2IP4, "unknown"}} {
		if x.Inbound(ipv4Frame(t, lanMAC, hostMAC, lanIP4, tc.dst, "x")) {
			t.Errorf("frame for the %s address delivered to the fabric", tc.what)
		}
	}
	if c := x.Counters(); c.TranslatedIn != 1 || c.ToHost != 1 || c.Misses != 1 {
		t.Errorf("counters %+v", c)
	}
}

func TestInboundIPv6(t *testing.T) {
	x, _ := newTestTranslator(t)
	x.table.Learn(vm1IP6, vm1MAC)
	na := &layers.ICMPv6NeighborAdvertisement{Flags: 0x60, TargetAddress: ip(lanIP6), Options: layers.ICMPv6Options{llaOpt(layers.ICMPv6OptTargetAddress, lanMAC)}}
	fr := ndFrame(t, lanMAC, hostMAC, lanIP6, vm1IP6, na, layers.ICMPv6TypeNeighborAdvertisement)
	if !x.Inbound(fr) {
		t.Fatal("frame for a VM's address not delivered")
	}
	wantBytes(t, "IPv6 in", fr, ndFrame(t, lanMAC, vm1MAC, lanIP6, vm1IP6, na, layers.ICMPv6TypeNeighborAdvertisement))
	if x.Inbound(ndFrame(t, lanMAC, hostMAC, lanIP6, hostIP6, na, layers.ICMPv6TypeNeighborAdvertisement)) {
		t.Error("frame for the host's IPv6 address delivered")
	}
}

func TestInboundARPReply(t *testing.T) {
	x, _ := newTestTranslator(t)
	x.table.Learn(vm1IP4, vm1MAC)
	fr := arpFrame(t, lanMAC, hostMAC, layers.ARPReply, lanMAC, lanIP4, hostMAC, vm1IP4)
	if !x.Inbound(fr) {
		t.Fatal("ARP reply for a VM not delivered")
	}
	wantBytes(t, "ARP reply in", fr, arpFrame(t, lanMAC, vm1MAC, layers.ARPReply, lanMAC, lanIP4, vm1MAC, vm1IP4))
}

func TestInboundARPRequestUnicast(t *testing.T) {
	x, _ := newTestTranslator(t)
	x.table.Learn(vm1IP4, vm1MAC)
	// A neighbour-cache refresh: unicast to the MAC the LAN knows.
	fr := arpFrame(t, lanMAC, hostMAC, layers.ARPRequest, lanMAC, lanIP4, hostMAC, vm1IP4)
	if !x.Inbound(fr) {
		t.Fatal("ARP request for a VM not delivered")
	}
	wantBytes(t, "ARP request in", fr, arpFrame(t, lanMAC, vm1MAC, layers.ARPRequest, lanMAC, lanIP4, hostMAC, vm1IP4))
	if x.Inbound(arpFrame(t, lanMAC, hostMAC, layers.ARPRequest, lanMAC, lanIP4, hostMAC, hostIP4)) {
		t.Error("ARP request for the host delivered")
	}
}

func TestInboundBroadcastAndMulticastPass(t *testing.T) {
	x, _ := newTestTranslator(t)
	for _, fr := range [][]byte{
		arpFrame(t, lanMAC, bcast, layers.ARPRequest, lanMAC, lanIP4, zeroMAC, hostIP4),
		ipv4Frame(t, lanMAC, frames.MAC{0x01, 0, 0x5e, 0, 0, 0xfb}, lanIP4, netip.MustParseAddr("224.0.0.251"), "mdns"),
		ipv4Frame(t, lanMAC, vm2MAC, lanIP4, vm2IP4, "to another MAC"),
	} {
		orig := append([]byte(nil), fr...)
		if !x.Inbound(fr) {
			t.Errorf("frame to %s not passed", frames.Frame(fr).Destination())
		}
		wantBytes(t, "passed frame", fr, orig)
	}
}

// An access point relays a station's broadcasts to every station, the
// sender included: a VM must not see its own DHCP discover or ARP come
// back from the host's MAC.
func TestInboundLoopedBackNotDelivered(t *testing.T) {
	x, _ := newTestTranslator(t)
	for _, fr := range [][]byte{
		dhcpFrame(t, vm1MAC, zero4, layers.DHCPMsgTypeDiscover, 0),
		arpFrame(t, vm1MAC, bcast, layers.ARPRequest, vm1MAC, vm1IP4, zeroMAC, lanIP4),
	} {
		x.Outbound(fr, offloadNone)
		if x.Inbound(fr) {
			t.Errorf("translated frame coming back delivered: %x", fr)
		}
	}
	if c := x.Counters(); c.Looped != 2 {
		t.Errorf("looped %d, want 2", c.Looped)
	}
}

func TestInboundExpiredEntryMisses(t *testing.T) {
	x, c := newTestTranslator(t)
	x.table.Learn(vm1IP4, vm1MAC)
	c.advance(DefaultExpiry)
	if x.Inbound(ipv4Frame(t, lanMAC, hostMAC, lanIP4, vm1IP4, "late")) {
		t.Error("frame for an expired entry delivered")
	}
}

var offloadNone offload.Header
