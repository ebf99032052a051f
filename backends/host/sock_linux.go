//go:build linux

package host

import (
	"errors"
	"fmt"
	"os"
	"syscall"

	"golang.org/x/sys/unix"

	"github.com/l2fabric/l2fabric/internal/sockbuf"
)

// sock is one AF_PACKET socket bound to one interface index. When the
// interface is deleted and re-created the port opens a new one.
type sock struct {
	f       *os.File
	rc      syscall.RawConn
	ifindex int
}

// openSocket opens an AF_PACKET socket on ifindex with virtio-net headers
// (so GSO super-frames and partial checksums are described, not silently
// passed on), VLAN auxdata (the kernel strips received tags), our own
// sent frames ignored, and promiscuous membership if asked.
func openSocket(ifname string, ifindex int, promisc bool) (*sock, error) {
	// Protocol 0 receives nothing until bind sets ETH_P_ALL on one
	// interface, so no frame from another interface slips in.
	fd, err := unix.Socket(unix.AF_PACKET, unix.SOCK_RAW|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		if errors.Is(err, unix.EPERM) || errors.Is(err, unix.EACCES) {
			return nil, fmt.Errorf("host:%s: opening an AF_PACKET socket needs root (CAP_NET_RAW): %w", ifname, err)
		}
		return nil, fmt.Errorf("host:%s: AF_PACKET socket: %w", ifname, err)
	}
	fail := func(what string, err error) (*sock, error) {
		unix.Close(fd)
		return nil, fmt.Errorf("host:%s: %s: %w", ifname, what, err)
	}
	for _, o := range []struct {
		name string
		opt  int
	}{{"PACKET_VNET_HDR", unix.PACKET_VNET_HDR}, {"PACKET_AUXDATA", unix.PACKET_AUXDATA}, {"PACKET_IGNORE_OUTGOING (Linux 4.20 or later)", unix.PACKET_IGNORE_OUTGOING}} {
		if err := unix.SetsockoptInt(fd, unix.SOL_PACKET, o.opt, 1); err != nil {
			return fail(o.name, err)
		}
	}
	// Bypassing the qdisc is an optimisation; old kernels lack it.
	_ = unix.SetsockoptInt(fd, unix.SOL_PACKET, unix.PACKET_QDISC_BYPASS, 1)
	sockbuf.Set(fd, 4<<20, 8<<20)
	if err := unix.Bind(fd, &unix.SockaddrLinklayer{Protocol: htons(unix.ETH_P_ALL), Ifindex: ifindex}); err != nil {
		return fail("bind", err)
	}
	if promisc {
		mreq := unix.PacketMreq{Ifindex: int32(ifindex), Type: unix.PACKET_MR_PROMISC}
		if err := unix.SetsockoptPacketMreq(fd, unix.SOL_PACKET, unix.PACKET_ADD_MEMBERSHIP, &mreq); err != nil {
			return fail("promiscuous mode", err)
		}
	}
	f := os.NewFile(uintptr(fd), "packet:"+ifname)
	rc, err := f.SyscallConn()
	if err != nil {
		f.Close()
		return nil, err
	}
	return &sock{f: f, rc: rc, ifindex: ifindex}, nil
}

func htons(v uint16) uint16 { return v<<8 | v>>8 }
