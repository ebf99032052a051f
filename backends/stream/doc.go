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
// The framing and its reassembly are in framing.go, free of system calls
// and fuzzed; conn.go moves frames over one connection (reads reassembled
// and handed to the fabric as views of the reassembly buffer, with no
// copy: fabric.ViewReader; writes gathered into writev; a bounded wait
// for a busy peer);
// listener.go makes every accepted connection a port, on a socket file
// that socketfile.go creates; dial.go is the connect= port that
// reconnects; kind.go turns a port spec into them. sockopt_linux.go and
// sockopt_darwin.go hold the two socket options that differ.
//
// A length prefix under 14 bytes or over what the port's MTU allows
// leaves the stream impossible to follow: that connection is closed (a
// connect= port reconnects) and the bad frame counted as a runt or
// oversize; every other connection carries on.
package stream
