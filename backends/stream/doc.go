// Package stream attaches VMs over unix stream sockets that carry each
// Ethernet frame behind its length as a 4-byte big-endian integer: the
// protocol of socket_vmnet, and so of lima's qemu, vz and krunkit VMs
// (`networks: - socket: PATH`), of qemu's -netdev stream and -netdev
// socket, and of libkrun's unixstream.
//
// Forms:
//
//	stream:PATH            listen at PATH; every connection is a port NAME/<n>
//	stream:connect=PATH    one port: connect to a stream server (socket_vmnet,
//	                       another l2fabric), reconnecting when it comes back
//	stream:fd=N            one port: an inherited connected stream socket
//	                       (as socket_vmnet_client hands to its command)
//
// The framing and its reassembly are in framing.go, free of system calls;
// conn.go moves frames over one connection; listener.go and dial.go are the
// listening and connecting ends; kind.go turns a port spec into them.
package stream
