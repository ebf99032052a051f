package bpfndrv

import (
	"context"
	"time"

	"golang.org/x/sys/unix"
)

// Probe checks BPF and NDRV on ifname for `l2fabric doctor`: a free BPF
// device opens, is configured as a port's would be (buffer size, the
// filter, the interface) but without promiscuous mode, captures a
// broadcast or multicast frame within wait (none on a quiet link is not
// an error: Frames is 0), and a PF_NDRV socket binds and connects to the
// interface. Everything it opens is closed before it returns.
func Probe(ctx context.Context, ifname string, wait time.Duration) ProbeReport {
	return probe(ctx, darwinProbe{}, ifname, wait)
}

// darwinProbe is the probe's system calls.
type darwinProbe struct{}

func (darwinProbe) openBPF(path string) (probeDevice, error) {
	fd, err := unix.Open(path, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, err
	}
	return &probeFD{bpfIoctl: bpfIoctl(fd), kq: -1}, nil
}

func (darwinProbe) openNDRV(ifname string) error {
	sa, err := newSockaddrNDRV(ifname)
	if err != nil {
		return err
	}
	fd, err := openNDRV(&sa)
	if err != nil {
		return err
	}
	return unix.Close(fd)
}

// probeFD is a BPF descriptor the probe waits on with a kqueue.
type probeFD struct {
	bpfIoctl
	kq int
}

func (d *probeFD) readWithin(buf []byte, wait time.Duration) (int, error) {
	if d.kq < 0 {
		kq, err := openKqueue(int(d.bpfIoctl))
		if err != nil {
			return 0, err
		}
		d.kq = kq
	}
	timeout := unix.NsecToTimespec(int64(wait))
	var events [1]unix.Kevent_t
	for {
		n, err := unix.Kevent(d.kq, nil, events[:], &timeout)
		if err == unix.EINTR {
			continue
		}
		if err != nil || n == 0 {
			return 0, err
		}
		break
	}
	for {
		n, err := unix.Read(int(d.bpfIoctl), buf)
		if err == unix.EINTR {
			continue
		}
		return n, err
	}
}

func (d *probeFD) close() error {
	if d.kq >= 0 {
		unix.Close(d.kq)
	}
	return unix.Close(int(d.bpfIoctl))
}
