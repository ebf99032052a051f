// Package bpfndrv is the macOS way of putting a host network interface on
// the fabric: frames are received through a BPF device (/dev/bpfN) and sent
// through a PF_NDRV socket, the pair the seed implementation and ZeroTier's
// macOS tap agent use. The host and feth backends build their darwin ports
// on it.
//
// Everything here except the system calls is portable and unit-tested on
// Linux: walking the bpf_hdr records a read returns (records.go), the
// filter program that admits broadcast, multicast and the unicast MACs that
// live behind the fabric's other ports (filter.go), the byte layouts of the
// kernel structures (encode.go), the ioctl sequence that configures a BPF
// descriptor (setup.go), and the port itself (port.go): batching, keeping
// the device open across the interface being deleted and re-created
// (through a linkwatch.Supervisor, which learns it from the PF_ROUTE
// socket), bounded waits on a full transmit queue, drop accounting. The darwin files
// only issue the system calls (bpfndrv_darwin.go) and check at compile time
// that the numbers pinned here equal golang.org/x/sys's (assert_darwin.go).
//
// Facts about the kernel come from the xnu sources (xnu-11417: bsd/net/bpf.h
// and bpf.c, bsd/net/ndrv.c, bsd/sys/sockio.h) and are pinned by this
// package's tests; the less obvious ones are marked "xnu:" where they are
// relied on.
package bpfndrv
