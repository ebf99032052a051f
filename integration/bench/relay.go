//go:build linux

package main

import (
	"errors"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/l2fabric/l2fabric/internal/mmsg"
)

// relayEnv, when set to "PATH,listen", makes this program the
// listener-style relay (see runListenRelay); "PATH,stream" makes it the
// stream relay (see runStreamRelay). When set to
// "A,PEER_A,B,PEER_B[,connect]", it makes this
// program the bare relay: sockets bound at A and B and connected to
// PEER_A and PEER_B, each datagram read on A sent to PEER_B from B and each
// read on B sent to PEER_A from A, with recvmmsg and sendmmsg batches of 64
// and no switching decision, blocking while the peer is full instead of
// dropping: the fastest a process can move frames between two VM sockets
// on this machine.
//
// The relay's sockets are connected as l2fabric's are (a connected send
// skips the path lookup a sendto does for every datagram). Without
// "connect" the endpoints send unconnected, as qemu's -netdev dgram does,
// so each side's receiver accepts at most net.unix.max_dgram_qlen + 1
// queued datagrams from it. With "connect" the endpoints connect back, as
// libvdeplug does and as the two ends of a socketpair are, and the kernel
// then applies no queue limit but the send buffer.
const relayEnv = "L2FABRIC_BENCH_RELAY"

func runRelay(spec string) error {
	p := strings.Split(spec, ",")
	if len(p) == 2 && p[1] == "listen" {
		return runListenRelay(p[0])
	}
	if len(p) == 2 && p[1] == "stream" {
		return runStreamRelay(p[0])
	}
	if len(p) != 4 && !(len(p) == 5 && p[4] == "connect") {
		return fmt.Errorf("%s=%q: want A,PEER_A,B,PEER_B[,connect]", relayEnv, spec)
	}
	a, err := relaySocket(p[0])
	if err != nil {
		return err
	}
	defer os.Remove(p[0])
	b, err := relaySocket(p[2])
	if err != nil {
		return err
	}
	defer os.Remove(p[2])
	if err := unix.Connect(a, &unix.SockaddrUnix{Name: p[1]}); err != nil {
		return fmt.Errorf("relay: connecting to %s: %w", p[1], err)
	}
	if err := unix.Connect(b, &unix.SockaddrUnix{Name: p[3]}); err != nil {
		return fmt.Errorf("relay: connecting to %s: %w", p[3], err)
	}
	return serveRelay(func() error { return relayLoop(a, b) }, func() error { return relayLoop(b, a) })
}

// serveRelay runs loops, says "ready", and returns at SIGTERM or SIGINT
// (nil) or when a loop fails (its error).
func serveRelay(loops ...func() error) error {
	errs := make(chan error, len(loops))
	for _, loop := range loops {
		go func() { errs <- loop() }()
	}
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM, syscall.SIGINT)
	fmt.Println("ready")
	select {
	case <-sig:
		return nil
	case err := <-errs:
		return err
	}
}

// sendAll sends the n datagrams of hdrs on fd with sendmmsg, blocking
// while the receiver is full; datagrams for a peer that is gone are
// dropped.
func sendAll(fd int, hdrs []mmsg.Hdr, n int) error {
	for sent := 0; sent < n; {
		r, err := mmsg.Send(fd, hdrs[sent:n], 0)
		switch {
		case errors.Is(err, unix.EINTR):
			continue
		case errors.Is(err, unix.ECONNREFUSED), errors.Is(err, unix.ENOENT):
			sent = n // no peer: drop
		case err != nil:
			return fmt.Errorf("relay: sendmmsg: %w", err)
		default:
			sent += r
		}
	}
	return nil
}

func relaySocket(path string) (int, error) {
	fd, err := unix.Socket(unix.AF_UNIX, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return -1, err
	}
	setBuffers(fd)
	os.Remove(path)
	if err := unix.Bind(fd, &unix.SockaddrUnix{Name: path}); err != nil {
		return -1, fmt.Errorf("relay: binding %s: %w", path, err)
	}
	return fd, nil
}

// relayLoop moves datagrams from socket in to the peer of socket out until
// an error other than the peer being absent.
func relayLoop(in, out int) error {
	bufs := make([][]byte, batch)
	for i := range bufs {
		bufs[i] = make([]byte, 65536)
	}
	rh := make([]mmsg.Hdr, batch)
	ri := make([]unix.Iovec, batch)
	sh := make([]mmsg.Hdr, batch)
	si := make([]unix.Iovec, batch)
	for i := range rh {
		ri[i].Base = &bufs[i][0]
		ri[i].SetLen(len(bufs[i]))
		rh[i].Msg.Iov = &ri[i]
		rh[i].Msg.SetIovlen(1)
		si[i].Base = &bufs[i][0]
		sh[i].Msg.Iov = &si[i]
		sh[i].Msg.SetIovlen(1)
	}
	for {
		r, err := mmsg.Recv(in, rh, unix.MSG_WAITFORONE)
		if errors.Is(err, unix.EINTR) {
			continue
		}
		if err != nil {
			return fmt.Errorf("relay: recvmmsg: %w", err)
		}
		n := r
		for i := 0; i < n; i++ {
			si[i].SetLen(int(rh[i].Len))
		}
		if err := sendAll(out, sh, n); err != nil {
			return err
		}
	}
}

// runListenRelay is the relay for vfkit-style endpoints: one socket bound
// at path that both endpoints connect to (each first sending a VFKT
// hello), every datagram from one sent to the other's address with
// sendmmsg from that same socket, as l2fabric's listener does, blocking
// while the receiver is full. Datagrams before both endpoints are known
// are dropped.
func runListenRelay(path string) error {
	fd, err := relaySocket(path)
	if err != nil {
		return err
	}
	defer os.Remove(path)
	return serveRelay(func() error { return listenRelayLoop(fd) })
}

func listenRelayLoop(fd int) error {
	bufs := make([][]byte, batch)
	for i := range bufs {
		bufs[i] = make([]byte, 65536)
	}
	rh := make([]mmsg.Hdr, batch)
	ri := make([]unix.Iovec, batch)
	from := make([]sockaddr, batch)
	sh := make([]mmsg.Hdr, batch)
	si := make([]unix.Iovec, batch)
	var peers [2]sockaddr
	known := 0
	for i := range rh {
		ri[i].Base = &bufs[i][0]
		rh[i].Msg.Iov = &ri[i]
		rh[i].Msg.SetIovlen(1)
		sh[i].Msg.Iov = &si[i]
		sh[i].Msg.SetIovlen(1)
	}
	same := func(a, b *sockaddr) bool { return a.len == b.len && a.raw.Path == b.raw.Path }
	for {
		for i := range rh {
			ri[i].SetLen(len(bufs[i]))
			rh[i].Msg.Name = (*byte)(unsafe.Pointer(&from[i].raw))
			rh[i].Msg.Namelen = uint32(unsafe.Sizeof(from[i].raw))
		}
		r, err := mmsg.Recv(fd, rh, unix.MSG_WAITFORONE)
		if errors.Is(err, unix.EINTR) {
			continue
		}
		if err != nil {
			return fmt.Errorf("relay: recvmmsg: %w", err)
		}
		n := 0
		for i := 0; i < r; i++ {
			from[i].len = rh[i].Msg.Namelen
			src := -1
			for j := 0; j < known; j++ {
				if same(&peers[j], &from[i]) {
					src = j
				}
			}
			if src < 0 && known < 2 {
				peers[known] = from[i]
				src = known
				known++
			}
			if src < 0 || known < 2 || rh[i].Len == 4 { // a third sender, the other unknown, or a hello
				continue
			}
			dst := &peers[1-src]
			si[n].Base = &bufs[i][0]
			si[n].SetLen(int(rh[i].Len))
			sh[n].Msg.Name = (*byte)(unsafe.Pointer(&dst.raw))
			sh[n].Msg.Namelen = dst.len
			n++
		}
		if err := sendAll(fd, sh, n); err != nil {
			return err
		}
	}
}
