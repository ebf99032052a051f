//go:build linux || darwin

package dgram

import (
	"errors"
	"fmt"
	"os"
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/l2fabric/l2fabric/backends/internal/sockfile"
	"github.com/l2fabric/l2fabric/fabric"
	"github.com/l2fabric/l2fabric/internal/sockbuf"
)

// Socket buffer sizes, as vfkit sets them: Apple recommends a receive
// buffer at least twice, ideally four times, the send buffer.
const (
	sendBufferSize = 1 << 20
	recvBufferSize = 4 << 20
)

// sendTimeout bounds how long a Write waits for a peer that is not reading
// before the rest of the batch is dropped as ErrTxFull.
const sendTimeout = 50 * time.Millisecond

// addr is a unix socket address in the kernel's layout, ready for
// sendmsg, with the length the kernel reported or that we computed.
type addr struct {
	raw unix.RawSockaddrUnix
	len uint32
}

// pathBytes returns the socket path (or, on Linux, the abstract name with
// its leading NUL) without the trailing NUL padding.
func (a *addr) pathBytes() []byte {
	off := uint32(unsafe.Offsetof(a.raw.Path))
	if a.len <= off {
		return nil
	}
	n := int(a.len - off)
	b := unsafe.Slice((*byte)(unsafe.Pointer(&a.raw.Path[0])), len(a.raw.Path))[:min(n, len(a.raw.Path))]
	if len(b) > 0 && b[0] != 0 { // pathname: stop at the first NUL
		for i, c := range b {
			if c == 0 {
				return b[:i]
			}
		}
		return b
	}
	// An unbound sender: Linux gives no path at all, macOS a zeroed one.
	// (A Linux abstract name starts with a NUL but is not all NULs.)
	for _, c := range b {
		if c != 0 {
			return b
		}
	}
	return nil
}

// String returns the path, or "@name" for a Linux abstract address.
func (a *addr) String() string {
	b := a.pathBytes()
	if len(b) > 0 && b[0] == 0 {
		return "@" + string(b[1:])
	}
	return string(b)
}

// conn is one unixgram socket, non-blocking and registered with Go's
// poller so that reads park the goroutine rather than a thread and Close
// wakes them.
type conn struct {
	// exclusive is set when one port owns the socket and may wait for it
	// in the poller (see send).
	exclusive bool
	f         *os.File
	rc        syscall.RawConn
	fd        int // valid inside rc callbacks only
	rx        recvScratch
}

// newConn takes ownership of fd, an AF_UNIX SOCK_DGRAM socket.
func newConn(fd int, name string, batch int) (*conn, error) {
	if err := unix.SetNonblock(fd, true); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("setting socket non-blocking: %w", err)
	}
	f := os.NewFile(uintptr(fd), name)
	rc, err := f.SyscallConn()
	if err != nil {
		f.Close()
		return nil, err
	}
	c := &conn{f: f, rc: rc}
	c.rx.init(batch)
	return c, nil
}

// setBuffers sizes the socket buffers as vfkit does.
func setBuffers(fd int) { sockbuf.Set(fd, sendBufferSize, recvBufferSize) }

// recv reads up to len(bufs) datagrams, storing each length in sizes (a
// truncated datagram gets a size larger than its buffer) and, when from is
// not nil, each sender's address. It blocks until at least one arrives.
func (c *conn) recv(bufs [][]byte, sizes []int, from []addr) (int, error) {
	var n int
	var err error
	rerr := c.rc.Read(func(fd uintptr) bool {
		n, err = recvBatch(int(fd), &c.rx, bufs, sizes, from)
		return !errors.Is(err, unix.EAGAIN)
	})
	if rerr != nil {
		return 0, rerr
	}
	return n, err
}

// send writes bufs as datagrams to the address to, or to the connected
// peer when to is nil, using s as scratch space. It waits up to
// sendTimeout for a peer that is not keeping up.
//
// On Linux, a socket a port has to itself (NewPort, connect=) waits for
// room in Go's poller. A shared one (a listener's, whose clients each have
// a writer) must not: the poller wait holds the socket's write lock, so
// one client whose queue is full would hold up every other client's sends,
// and an unconnected receiver's full queue (net.unix.max_dgram_qlen) does
// not show in poll at all. There a full peer is retried after a short
// sleep, outside any lock, against this call's own deadline. On macOS a
// full peer fails the send with ENOBUFS, which the poller does not wait
// for: that is retried the same way, on every socket.
func (c *conn) send(s *sendScratch, bufs [][]byte, to *addr) (int, error) {
	sent := 0
	deadline := time.Now().Add(sendTimeout)
	if c.exclusive {
		c.f.SetWriteDeadline(deadline)
	}
	backoff := 20 * time.Microsecond
	for sent < len(bufs) {
		var n int
		var err error
		werr := c.rc.Write(func(fd uintptr) bool {
			n, err = sendBatch(int(fd), s, bufs[sent:], to)
			return !c.exclusive || !errors.Is(err, unix.EAGAIN)
		})
		if werr != nil {
			if errors.Is(werr, os.ErrDeadlineExceeded) {
				return sent, fmt.Errorf("%w for %v", fabric.ErrTxFull, sendTimeout)
			}
			return sent, werr
		}
		sent += n
		if err == nil {
			continue
		}
		// EAGAIN on a shared socket, or ENOBUFS, which is how macOS
		// reports a full send buffer and which the poller does not wait
		// for: back off briefly, as vmnet-helper does.
		if errors.Is(err, unix.EAGAIN) || errors.Is(err, unix.ENOBUFS) {
			if time.Now().After(deadline) {
				return sent, fmt.Errorf("%w for %v", fabric.ErrTxFull, sendTimeout)
			}
			time.Sleep(backoff)
			backoff = min(2*backoff, time.Millisecond)
			continue
		}
		return sent, classifySendError(err)
	}
	return sent, nil
}

// classifySendError maps the errors that mean the peer socket no longer
// exists to fabric.ErrPeerGone.
func classifySendError(err error) error {
	switch {
	case errors.Is(err, unix.ECONNREFUSED), errors.Is(err, unix.ENOENT),
		errors.Is(err, unix.ENOTCONN), errors.Is(err, unix.EPIPE), errors.Is(err, unix.ECONNRESET):
		return fmt.Errorf("%w: %v", fabric.ErrPeerGone, err)
	}
	return err
}

// close closes the socket, waking a pending recv.
func (c *conn) close() error { return c.f.Close() }

// socket creates an AF_UNIX SOCK_DGRAM socket with close-on-exec set.
func socket() (int, error) {
	fd, err := unix.Socket(unix.AF_UNIX, unix.SOCK_DGRAM, 0)
	if err != nil {
		return -1, fmt.Errorf("creating unix datagram socket: %w", err)
	}
	unix.CloseOnExec(fd)
	setBuffers(fd)
	return fd, nil
}

// makeAddr builds the kernel form of a pathname socket address.
func makeAddr(path string) (addr, error) {
	var a addr
	if err := sockfile.CheckPathLen(path); err != nil {
		return a, fmt.Errorf("%s: %w", path, err)
	}
	a.raw.Family = unix.AF_UNIX
	for i := 0; i < len(path); i++ {
		a.raw.Path[i] = int8(path[i])
	}
	a.len = uint32(unsafe.Offsetof(a.raw.Path)) + uint32(len(path)) + 1
	setAddrLen(&a)
	return a, nil
}

func closeFD(fd int) { unix.Close(fd) }
