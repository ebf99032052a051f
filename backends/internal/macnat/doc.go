// Package macnat is MAC-NAT for a host port whose link admits only the
// host's own source MAC, as an 802.11 access point does for a station: the
// translation xnu's bridge applies to its Wi-Fi members
// (bsd/net/if_bridge.c, bridge_mac_nat_*), so that VMs behind the fabric
// can live on a Wi-Fi LAN.
//
// Every frame the fabric sends out through the port leaves with the host
// interface's MAC as its source; the IP addresses the VMs use are learned
// from what they send (IPv4 and IPv6 sources, ARP senders, the target of
// an IPv6 duplicate address detection probe) into a Table of IP -> VM MAC.
// Addresses inside ARP, DHCPv4 and ICMPv6 neighbour discovery that would
// otherwise reveal a VM's MAC are rewritten, and their checksums updated
// (RFC 1624). Unicast frames arriving for the host's MAC are sent on to the
// VM that owns their destination IP address with the destination MAC
// restored; those for the host's own addresses, and for addresses nobody
// owns, are the host's alone (the host receives them anyway: BPF and
// AF_PACKET are taps) and do not reach the fabric.
//
// Layout:
//   - checksum.go: incremental Internet checksum updates.
//   - translate.go: the rewrites, over byte views of frames; pure.
//   - table.go: the translation table (bounded, aged, host entries pinned).
//   - port.go: the fabric.Port wrapper that applies them on Write and Read.
//   - wrap.go: keeping the wrapped port's optional interfaces visible.
package macnat
