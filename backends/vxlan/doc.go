// Package vxlan is l2fabric's VXLAN tunnel endpoint (RFC 7348): a port
// whose frames travel in UDP to remote VTEPs, speaking VXLAN as the Linux
// kernel's vxlan device does, so a fabric joins Linux bridges, Open
// vSwitch, hardware VTEPs and other l2fabrics on other machines.
//
// Forms:
//
//	vxlan:REMOTE[+REMOTE...],vni=N[,local=IP][,port=4789][,ttl=N][,df=on|off]
//	vxlan:REMOTE[+REMOTE...],vnis=VNI:VLAN+VNI:VLAN...[,...]
//
// vni= carries one VNI as the port's access VLAN (vlan=); vnis= carries
// several, each mapped to a fabric VLAN, like a trunk whose tag is the VNI.
// Inner VLAN tags never cross the tunnel.
//
// Forwarding is flood-and-learn, as the kernel's: broadcast, multicast and
// unknown unicast go to every remote of the VNI (head-end replication);
// the source MAC of a frame from a VTEP is learned behind the port in the
// fabric's FDB and, in the port's RemoteTable, behind that VTEP, so known
// unicast goes to that VTEP only. Static entries pin a MAC to a VTEP.
//
// The files, by concern:
//   - wire.go: the header and flow hash, as byte views (pure, fuzzed).
//   - spec.go: the port spec.
//   - remotes.go: RemoteTable, the flood lists and MAC-to-VTEP table.
//   - plan.go: a Write's datagrams grouped into UDP GSO messages (pure).
//   - ring.go: decapsulated frames on their way to a port's Read.
//   - gro.go: consecutive TCP segments joined into super-frames (pure).
//   - socket.go: sockets shared by the ports on one local address and
//     UDP port, and the reader that demultiplexes by VNI.
//   - port.go: the fabric.Port.
//   - conn_linux.go: recvmmsg/sendmmsg with UDP_GRO and UDP_SEGMENT;
//     conn_others.go: one datagram per system call elsewhere (macOS).
package vxlan
