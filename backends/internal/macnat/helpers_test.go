package macnat

import (
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"

	"github.com/l2fabric/l2fabric/frames"
)

// The tests build every frame twice with gopacket, an implementation of
// the protocols independent of this package: once as the VM sends it,
// once as it must leave (or arrive), checksums computed by gopacket. The
// translator's output must equal the second byte for byte, which checks
// its incremental checksum updates against full recomputation.

var (
	hostMAC = frames.MAC{0x02, 0xaa, 0, 0, 0, 0x01}
	vm1MAC  = frames.MAC{0x52, 0x54, 0, 0, 0, 0x01}
	vm2MAC  = frames.MAC{0x52, 0x54, 0, 0, 0, 0x02}
	lanMAC  = frames.MAC{0x02, 0xbb, 0, 0, 0, 0x09}

	hostIP4 = netip.MustParseAddr("192.168.1.10")
	vm1IP4  = netip.MustParseAddr("192.168.1.101")
	vm2IP4  = netip.MustParseAddr("192.168.1.102")
	lanIP4  = netip.MustParseAddr("192.168.1.1")
	hostIP6 = netip.MustParseAddr("fe80::aa:1")
	vm1IP6  = netip.MustParseAddr("2001:db8::5054:ff:fe00:1")
	vm1LL6  = netip.MustParseAddr("fe80::5054:ff:fe00:1")
	lanIP6  = netip.MustParseAddr("fe80::bb:9")
)

func hw(m frames.MAC) net.HardwareAddr { return net.HardwareAddr(m[:]) }
func ip(a netip.Addr) net.IP           { return net.IP(a.AsSlice()) }

// serialize builds a frame from layers with lengths and checksums
// computed.
func serialize(t testing.TB, ls ...gopacket.SerializableLayer) []byte {
	t.Helper()
	buf := gopacket.NewSerializeBuffer()
	if err := gopacket.SerializeLayers(buf, gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true}, ls...); err != nil {
		t.Fatal(err)
	}
	return append([]byte(nil), buf.Bytes()...)
}

func eth(src, dst frames.MAC, et layers.EthernetType) *layers.Ethernet {
	return &layers.Ethernet{SrcMAC: hw(src), DstMAC: hw(dst), EthernetType: et}
}

func arpFrame(t testing.TB, ethSrc, ethDst frames.MAC, op uint16, sha frames.MAC, spa netip.Addr, tha frames.MAC, tpa netip.Addr) []byte {
	return serialize(t, eth(ethSrc, ethDst, layers.EthernetTypeARP), &layers.ARP{
		AddrType: layers.LinkTypeEthernet, Protocol: layers.EthernetTypeIPv4, HwAddressSize: 6, ProtAddressSize: 4,
		Operation: op, SourceHwAddress: hw(sha), SourceProtAddress: ip(spa), DstHwAddress: hw(tha), DstProtAddress: ip(tpa),
	})
}

func ipv4Frame(t testing.TB, ethSrc, ethDst frames.MAC, src, dst netip.Addr, payload string) []byte {
	ip4 := &layers.IPv4{Version: 4, IHL: 5, TTL: 64, Protocol: layers.IPProtocolUDP, SrcIP: ip(src), DstIP: ip(dst)}
	udp := &layers.UDP{SrcPort: 4000, DstPort: 5000}
	udp.SetNetworkLayerForChecksum(ip4)
	return serialize(t, eth(ethSrc, ethDst, layers.EthernetTypeIPv4), ip4, udp, gopacket.Payload(payload))
}

func dhcpFrame(t testing.TB, ethSrc frames.MAC, src netip.Addr, msg layers.DHCPMsgType, flags uint16) []byte {
	ip4 := &layers.IPv4{Version: 4, IHL: 5, TTL: 64, Protocol: layers.IPProtocolUDP, SrcIP: ip(src), DstIP: net.IPv4bcast}
	udp := &layers.UDP{SrcPort: 68, DstPort: 67}
	udp.SetNetworkLayerForChecksum(ip4)
	d := &layers.DHCPv4{
		Operation: layers.DHCPOpRequest, HardwareType: layers.LinkTypeEthernet, HardwareLen: 6,
		Xid: 0x12345678, Flags: flags, ClientHWAddr: hw(vm1MAC), ClientIP: ip(src),
		Options: layers.DHCPOptions{
			layers.NewDHCPOption(layers.DHCPOptMessageType, []byte{byte(msg)}),
			layers.NewDHCPOption(layers.DHCPOptClientID, append([]byte{1}, vm1MAC[:]...)),
		},
	}
	return serialize(t, eth(ethSrc, frames.MAC{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}, layers.EthernetTypeIPv4), ip4, udp, d)
}

// ndFrame builds an ICMPv6 neighbour discovery message.
func ndFrame(t testing.TB, ethSrc, ethDst frames.MAC, src, dst netip.Addr, body gopacket.SerializableLayer, typ uint8) []byte {
	ip6 := &layers.IPv6{Version: 6, HopLimit: 255, NextHeader: layers.IPProtocolICMPv6, SrcIP: ip(src), DstIP: ip(dst)}
	icmp := &layers.ICMPv6{TypeCode: layers.CreateICMPv6TypeCode(typ, 0)}
	icmp.SetNetworkLayerForChecksum(ip6)
	return serialize(t, eth(ethSrc, ethDst, layers.EthernetTypeIPv6), ip6, icmp, body)
}

func llaOpt(typ layers.ICMPv6Opt, m frames.MAC) layers.ICMPv6Option {
	return layers.ICMPv6Option{Type: typ, Data: m[:]}
}

// clock is a settable clock for tables.
type clock struct{ t time.Time }

func (c *clock) now() time.Time          { return c.t }
func (c *clock) advance(d time.Duration) { c.t = c.t.Add(d) }
func newClock() *clock                   { return &clock{t: time.Unix(1_700_000_000, 0)} }
func newTestTable(c *clock, max int) *Table {
	return NewTable(TableConfig{MaxEntries: max, Now: c.now})
}

// newTestTranslator returns a translator whose host owns hostIP4 and
// hostIP6.
func newTestTranslator(t testing.TB) (*Translator, *clock) {
	c := newClock()
	tb := newTestTable(c, 0)
	tb.SetHost([]netip.Addr{hostIP4, hostIP6}, hostMAC)
	return NewTranslator(tb, hostMAC), c
}

func wantOwner(t testing.TB, tb *Table, a netip.Addr, mac frames.MAC, owner Owner) {
	t.Helper()
	gotMAC, got := tb.Lookup(a)
	if got != owner || (owner != Nobody && gotMAC != mac) {
		t.Errorf("Lookup(%s) = %s, %d; want %s, %d", a, gotMAC, got, mac, owner)
	}
}

func wantBytes(t testing.TB, what string, got, want []byte) {
	t.Helper()
	if string(got) != string(want) {
		t.Errorf("%s:\n got  %x\n want %x", what, got, want)
	}
}
