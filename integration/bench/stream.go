//go:build linux

package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/l2fabric/l2fabric/backends/stream"
)

// The stream attach style: each VM a unix stream connection to one
// listening socket, frames behind a 4-byte big-endian length, as lima
// attaches qemu, vz and krunkit VMs to socket_vmnet (and so to
// `--port stream:PATH`). Its limit is relayStream: a process that accepts
// the two endpoints' connections and moves whole frames from one to the
// other, reassembling each read and writing batches of 64 with writev,
// with no switching decision and no copy.

// streamReadBuffer is how much of a stream one read takes.
const streamReadBuffer = 256 << 10

// streamConn is the framing state of a stream-style endpoint.
type streamConn struct {
	rd   *stream.Reassembler
	g    stream.Gather
	segs [][]byte
	iovs []unix.Iovec
}

// newStreamEndpoint makes an endpoint that will connect to a stream
// listener (see dialStream).
func newStreamEndpoint(name string, mac [6]byte) *endpoint {
	return &endpoint{name: name, fd: -1, mac: mac,
		st: &streamConn{rd: stream.NewReassembler(stream.MaxFrameLen, streamReadBuffer)}}
}

// dialStream connects the endpoint to the stream listener at path, with
// blocking sends and receives that give up after pollTimeout.
func (e *endpoint) dialStream(path string) error {
	fd, err := unix.Socket(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("socket: %w", err)
	}
	setBuffers(fd)
	tv := unix.NsecToTimeval(pollTimeout.Nanoseconds())
	unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &tv)
	unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_SNDTIMEO, &tv)
	if err := unix.Connect(fd, &unix.SockaddrUnix{Name: path}); err != nil {
		unix.Close(fd)
		return fmt.Errorf("%s: connecting to %s: %w", e.name, path, err)
	}
	e.fd = fd
	return nil
}

// send writes bufs as frames with writev, as many per call as the socket
// takes. A frame once begun is always finished; it gives up (unix.EAGAIN)
// only between frames, after pollTimeout without room.
func (s *streamConn) send(fd int, bufs [][]byte) (int, error) {
	s.g.Reset(bufs)
	for !s.g.Done() {
		s.segs = s.g.Segments(s.segs[:0], 1024)
		n, err := writev(fd, s.segs, &s.iovs)
		switch {
		case err == unix.EINTR, err == unix.EAGAIN && s.g.InFlight():
			continue
		case err != nil:
			return s.g.Written(), err
		}
		s.g.Advance(n)
	}
	return len(bufs), nil
}

// recv returns the frames buffered, reading first if there are none; it
// waits up to pollTimeout (then unix.EAGAIN).
func (s *streamConn) recv(fd int, bufs [][]byte, sizes []int) (int, error) {
	for {
		n := 0
		for n < len(bufs) {
			f, err := s.rd.Next()
			if err != nil {
				return n, err
			}
			if f == nil {
				break
			}
			sizes[n] = copy(bufs[n], f)
			n++
		}
		if n > 0 {
			return n, nil
		}
		r, err := unix.Read(fd, s.rd.Space())
		switch {
		case err == unix.EINTR:
			continue
		case err != nil:
			return 0, err
		case r == 0:
			return 0, errors.New("stream closed")
		}
		s.rd.Commit(r)
	}
}

// drain discards every whole frame queued without waiting.
func (s *streamConn) drain(fd int) {
	for {
		for {
			if f, err := s.rd.Next(); f == nil || err != nil {
				break
			}
		}
		r, _, err := unix.Recvfrom(fd, s.rd.Space(), unix.MSG_DONTWAIT)
		if err != nil || r == 0 {
			return
		}
		s.rd.Commit(r)
	}
}

// writev writes segs with one writev(2), building the iovecs in *iovs.
func writev(fd int, segs [][]byte, iovs *[]unix.Iovec) (int, error) {
	v := (*iovs)[:0]
	for _, s := range segs {
		var iov unix.Iovec
		iov.Base = unsafe.SliceData(s)
		iov.SetLen(len(s))
		v = append(v, iov)
	}
	*iovs = v
	r, _, errno := unix.Syscall(unix.SYS_WRITEV, uintptr(fd), uintptr(unsafe.Pointer(unsafe.SliceData(v))), uintptr(len(v)))
	if errno != 0 {
		return 0, errno
	}
	return int(r), nil
}

// connectStream connects every endpoint of t to the stream listener at
// path, in order.
func (t *topo) connectStream(path string) error {
	for _, ep := range t.eps {
		if err := ep.dialStream(path); err != nil {
			return err
		}
	}
	return nil
}

// startStreamRelay runs this program as the stream relay and connects
// the two endpoints to it.
func (e *env) startStreamRelay(t *topo) error {
	path := filepath.Join(t.dir, "relay.sock")
	p, err := startProc("relay", false, []string{relayEnv + "=" + path + ",stream"}, nil, e.self)
	if err != nil {
		return err
	}
	t.proc = p
	t.cleanup = append(t.cleanup, func() { os.Remove(path) })
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(p.out.String(), "ready") {
		if err := p.alive(); err != nil {
			return err
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("stream relay not ready within 10 s: %s", p.out)
		}
		time.Sleep(10 * time.Millisecond)
	}
	return t.connectStream(path)
}

// runStreamRelay listens at path, accepts two connections and moves
// frames between them until one closes.
func runStreamRelay(path string) error {
	os.Remove(path)
	ln, err := unix.Socket(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return err
	}
	if err := unix.Bind(ln, &unix.SockaddrUnix{Name: path}); err != nil {
		return fmt.Errorf("relay: binding %s: %w", path, err)
	}
	defer os.Remove(path)
	if err := unix.Listen(ln, 8); err != nil {
		return err
	}
	return serveRelay(func() error {
		var fds [2]int
		for i := range fds {
			fd, _, err := unix.Accept(ln)
			if err != nil {
				return fmt.Errorf("relay: accept: %w", err)
			}
			setBuffers(fd)
			fds[i] = fd
		}
		errs := make(chan error, 1)
		go func() { errs <- streamRelayLoop(fds[1], fds[0]) }()
		if err := streamRelayLoop(fds[0], fds[1]); err != nil {
			return err
		}
		return <-errs
	})
}

// streamRelayLoop moves whole frames from in to out: each read is
// reassembled into frames, written on in batches of 64 with writev
// straight from the read buffer, blocking while out is full.
func streamRelayLoop(in, out int) error {
	rd := stream.NewReassembler(stream.MaxFrameLen, streamReadBuffer)
	var g stream.Gather
	frames := make([][]byte, 0, batch)
	var segs [][]byte
	var iovs []unix.Iovec
	for {
		n, err := unix.Read(in, rd.Space())
		switch {
		case err == unix.EINTR:
			continue
		case err != nil:
			return fmt.Errorf("relay: read: %w", err)
		case n == 0:
			return nil
		}
		rd.Commit(n)
		for {
			frames = frames[:0]
			for len(frames) < batch {
				f, err := rd.Next()
				if err != nil {
					return fmt.Errorf("relay: %w", err)
				}
				if f == nil {
					break
				}
				frames = append(frames, f)
			}
			if len(frames) == 0 {
				break
			}
			for g.Reset(frames); !g.Done(); {
				segs = g.Segments(segs[:0], 1024)
				w, err := writev(out, segs, &iovs)
				if err == unix.EINTR {
					continue
				}
				if err != nil {
					return fmt.Errorf("relay: writev: %w", err)
				}
				g.Advance(w)
			}
		}
	}
}
