// Package host attaches a host network interface to the fabric: the
// physical LAN, a veth, a bond. On Linux it uses an AF_PACKET socket; on
// macOS (issue 4) BPF to receive and a PF_NDRV socket to send.
//
// Form: host:IFACE[,promisc=on|off]. The port's MTU defaults to the
// interface's.
package host
