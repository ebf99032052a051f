// Package host attaches a host network interface to the fabric: the
// physical LAN, a veth, a bond. On Linux it uses an AF_PACKET socket
// (sock_linux.go opens it, rx_linux.go and tx_linux.go move batches with
// recvmmsg and sendmmsg behind virtio-net headers, port_linux.go is the
// port); on macOS BPF to receive and a PF_NDRV socket to send (package
// bpfndrv). Either way the interface is followed through the kernel's
// link events (package linkwatch): deleted, it is reported down; back,
// it is reopened and reported up.
//
// Form: host:IFACE[,promisc=on|off][,macnat=auto|on|off][,macnat-max=N].
// The port's MTU defaults to the interface's. macnat= applies MAC-NAT
// (package backends/internal/macnat), which a Wi-Fi link needs: auto, the
// default, turns it on for a Wi-Fi interface (package iftype).
package host
