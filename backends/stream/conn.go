//go:build linux || darwin

package stream

import (
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/l2fabric/l2fabric/fabric"
	"github.com/l2fabric/l2fabric/internal/sockbuf"
)

const (
	// maxBatch is the most frames the fabric reads and writes per call
	// on a stream port (the fabric's own limit): a stream carries many
	// frames per system call, so larger batches save writev calls and
	// wake-ups of the port's writer goroutine. At 64 bytes, batches of
	// 256 took a quarter less CPU per frame than batches of 64, and 512
	// another 10% less.
	maxBatch = 512
	// batchBytes bounds a batch's buffers for ports with a large MTU.
	batchBytes = 1 << 20
	// readBufferSize is how much of the stream one read may take: many
	// frames per system call.
	readBufferSize = 256 << 10
	// maxSegments bounds the iovecs of one writev (IOV_MAX is 1024 on
	// Linux and macOS).
	maxSegments = 1024
	// copyMax is the largest frame a write copies, with its prefix, into
	// the connection's staging buffer (see Gather), so that a run of
	// frames is one contiguous segment of a writev instead of two per
	// frame; larger frames are written from the fabric's buffers. On
	// Linux 6.x, writing batches of 256 frames to a unix stream socket,
	// the copy takes 40% less CPU per frame at 64 B, 17% less at 1 KiB,
	// the same at 1500 B, and 15-20% more from 4 KiB up.
	copyMax = 1024
	// sendTimeout bounds how long a Write waits for a peer that is not
	// reading before the rest of its batch is dropped as ErrTxFull (the
	// fabric then stops waiting for the port, see fabric.FlowControl).
	sendTimeout = 50 * time.Millisecond
	// Socket buffer sizes, as vfkit and lima's vz pump set them. macOS's
	// default for unix stream sockets is 8 KiB, a handful of frames.
	sendBufferSize = 1 << 20
	recvBufferSize = 4 << 20
)

// batchSize returns the number of frames a stream port with this frame
// limit reads and writes per call: maxBatch, fewer for a large MTU so that
// the fabric's buffers for one batch stay within batchBytes.
func batchSize(limit int) int { return min(maxBatch, max(16, batchBytes/max(limit, 1))) }

// conn moves frames over one stream connection. One goroutine reads and
// another writes, concurrently; Close (from any goroutine) ends both.
type conn struct {
	nc *net.UnixConn
	rc syscall.RawConn

	// Reader state.
	rd    *Reassembler
	runt  [MinFrameLen]byte // what readViews shows of a runt
	batch int               // frames per Read and Write (batchSize)
	rdN   int
	rdErr error
	rdFn  func(fd uintptr) bool // c.readSome, bound once

	// Writer state.
	g       Gather
	segs    [][]byte
	iovs    []unix.Iovec
	pending []byte // the rest of a frame begun by an earlier Write
	wrErr   error
	wrDone  bool                  // what the last writeSome returned
	waiting bool                  // this write has set its deadline
	wrFn    func(fd uintptr) bool // c.writeSome, bound once
	tryFn   func(fd uintptr)      // c.writeSome into wrDone, bound once
}

// newConn takes over nc for frames of at most limit bytes.
func newConn(nc *net.UnixConn, limit int) (*conn, error) {
	rc, err := nc.SyscallConn()
	if err != nil {
		nc.Close()
		return nil, err
	}
	c := &conn{
		nc:      nc,
		rc:      rc,
		rd:      NewReassembler(limit, readBufferSize),
		batch:   batchSize(limit),
		g:       Gather{CopyMax: copyMax},
		segs:    make([][]byte, 0, 2*maxBatch+1), // the rest of a frame begun, then two per frame
		iovs:    make([]unix.Iovec, 0, 2*maxBatch+1),
		pending: make([]byte, 0, HeaderLen+limit),
	}
	c.rdFn, c.wrFn = c.readSome, c.writeSome
	c.tryFn = func(fd uintptr) { c.wrDone = c.writeSome(fd) }
	rc.Control(func(fd uintptr) {
		sockbuf.Set(int(fd), sendBufferSize, recvBufferSize)
	})
	return c, nil
}

// peer describes the process at the other end, for dumps: "pid 1234".
func (c *conn) peer() string {
	pid := -1
	c.rc.Control(func(fd uintptr) { pid = peerPID(int(fd)) })
	if pid <= 0 {
		return "connected"
	}
	return fmt.Sprintf("pid %d", pid)
}

// read reads frames into bufs, storing their lengths in sizes, and
// blocks until there is at least one. A length prefix out of bounds is
// returned as one more frame the fabric counts as dropped (a size under
// 14 is a runt, one larger than its buffer oversize), together with the
// *FramingError: the connection cannot be read further. io.EOF means the
// peer closed the connection between frames.
func (c *conn) read(bufs [][]byte, sizes []int) (int, error) { return c.next(bufs, sizes, true) }

// readViews is read without the copy (fabric.ViewReader): it sets views
// to the frames where they lie in the reassembly buffer, valid until the
// next call. A runt's view is that many zero bytes, a frame too long has
// an empty view and size 1: both are counted and dropped as read's are.
func (c *conn) readViews(views [][]byte, sizes []int) (int, error) {
	return c.next(views, sizes, false)
}

// next is read (copy) or readViews (not copy).
func (c *conn) next(bufs [][]byte, sizes []int, copyOut bool) (int, error) {
	for {
		n := 0
		for n < len(bufs) {
			f, err := c.rd.Next()
			if err != nil {
				var fe *FramingError
				switch {
				case errors.As(err, &fe) && fe.Runt():
					sizes[n] = int(fe.Length)
					if !copyOut {
						bufs[n] = c.runt[:fe.Length]
					}
				case copyOut:
					sizes[n] = len(bufs[n]) + 1
				default:
					bufs[n], sizes[n] = nil, 1
				}
				return n + 1, err
			}
			if f == nil {
				break
			}
			switch {
			case !copyOut:
				bufs[n], sizes[n] = f, len(f)
			case len(f) > len(bufs[n]):
				sizes[n] = len(bufs[n]) + 1 // cannot happen with the fabric's buffers; never truncate
			default:
				sizes[n] = copy(bufs[n], f)
			}
			n++
		}
		if n > 0 {
			return n, nil
		}
		if err := c.fill(); err != nil {
			return 0, err
		}
	}
}

// fill reads what the connection has into the reassembler, waiting in the
// poller until there is something.
func (c *conn) fill() error {
	if err := c.rc.Read(c.rdFn); err != nil {
		return err
	}
	switch {
	case c.rdErr != nil:
		return c.rdErr
	case c.rdN == 0 && c.rd.Buffered() > 0:
		return fmt.Errorf("connection closed in the middle of a frame (%d bytes of it received)", c.rd.Buffered())
	case c.rdN == 0:
		return io.EOF
	}
	c.rd.Commit(c.rdN)
	return nil
}

// readSome is the read callback: one read(2) into the reassembler's space.
func (c *conn) readSome(fd uintptr) bool {
	space := c.rd.Space()
	for {
		n, err := unix.Read(int(fd), space)
		switch {
		case err == unix.EINTR:
			continue
		case err == unix.EAGAIN:
			return false
		case err != nil:
			c.rdN, c.rdErr = 0, err
		default:
			c.rdN, c.rdErr = n, nil
		}
		return true
	}
}

// write sends bufs, each behind its length prefix, with as few writev
// calls as the socket allows. It waits up to sendTimeout for a peer that
// is not keeping up; then the frames not begun are left (fabric.ErrTxFull)
// and a frame already begun is finished by the next write, before any
// other, so the stream never goes out of step.
func (c *conn) write(bufs [][]byte) (int, error) {
	c.waiting = false
	if len(c.pending) > 0 {
		c.g.Reset(nil)
		if err := c.writeGather(); err != nil {
			return 0, err
		}
	}
	c.g.Reset(bufs)
	err := c.writeGather()
	n := c.g.Written()
	if c.g.InFlight() {
		c.pending = c.g.Rest(c.pending[:0])
		n++
	}
	return n, err
}

// writeGather writes c.pending and then the batch in c.g, until done or
// the deadline passes. It writes at once while the socket has room, and
// only when it is full sets the deadline (the first time in a write) and
// waits in the poller: most batches then cost no timer update.
func (c *conn) writeGather() error {
	c.wrErr = nil
	if err := c.rc.Control(c.tryFn); err != nil {
		return fmt.Errorf("%w: %v", fabric.ErrPeerGone, err)
	}
	var err error
	if !c.wrDone {
		if !c.waiting {
			c.nc.SetWriteDeadline(time.Now().Add(sendTimeout))
			c.waiting = true
		}
		err = c.rc.Write(c.wrFn)
	}
	switch {
	case errors.Is(err, os.ErrDeadlineExceeded):
		return fmt.Errorf("%w for %v", fabric.ErrTxFull, sendTimeout)
	case err != nil:
		return fmt.Errorf("%w: %v", fabric.ErrPeerGone, err)
	case c.wrErr != nil:
		return classifyWriteError(c.wrErr)
	}
	return nil
}

// writeSome is the write callback: writev until everything is written
// (true), the socket is full (false: wait in the poller), or an error.
func (c *conn) writeSome(fd uintptr) bool {
	for len(c.pending) > 0 || !c.g.Done() {
		c.segs = c.segs[:0]
		if len(c.pending) > 0 {
			c.segs = append(c.segs, c.pending)
		}
		c.segs = c.g.Segments(c.segs, maxSegments)
		n, err := writev(int(fd), c.segs, &c.iovs)
		switch {
		case err == unix.EINTR:
			continue
		case err == unix.EAGAIN:
			return false
		case err != nil:
			c.wrErr = err
			return true
		}
		if p := len(c.pending); p > 0 {
			k := min(n, p)
			c.pending = c.pending[:copy(c.pending, c.pending[k:])]
			n -= k
		}
		c.g.Advance(n)
	}
	return true
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
	if len(v) == 0 {
		return 0, nil
	}
	r, _, errno := unix.Syscall(unix.SYS_WRITEV, uintptr(fd), uintptr(unsafe.Pointer(unsafe.SliceData(v))), uintptr(len(v)))
	if errno != 0 {
		return 0, errno
	}
	return int(r), nil
}

// classifyWriteError maps the errors that mean the peer has gone to
// fabric.ErrPeerGone, and macOS's way of saying it is out of socket
// buffers for now (which the poller does not wait out) to fabric.ErrTxFull.
func classifyWriteError(err error) error {
	switch {
	case errors.Is(err, unix.EPIPE), errors.Is(err, unix.ECONNRESET), errors.Is(err, unix.ENOTCONN):
		return fmt.Errorf("%w: %v", fabric.ErrPeerGone, err)
	case errors.Is(err, unix.ENOBUFS):
		return fmt.Errorf("%w: %v", fabric.ErrTxFull, err)
	}
	return err
}

// close closes the connection, waking a pending read or write.
func (c *conn) close() error { return c.nc.Close() }
