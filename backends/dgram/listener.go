//go:build linux || darwin

package dgram

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"

	"github.com/hashicorp/go-hclog"

	"github.com/l2fabric/l2fabric/backends/internal/sockfile"
	"github.com/l2fabric/l2fabric/fabric"
	"github.com/l2fabric/l2fabric/fabric/flowq"
	"github.com/l2fabric/l2fabric/frames"
)

// clientQueueLen is how many frames a client's receive queue holds between
// the listener's demultiplexer and the fabric's reader for that client.
const clientQueueLen = 256

// maxRedeliver bounds the new ports deliver makes for one run of frames.
const maxRedeliver = 3

// listener is a bound socket that any number of VMs send to. Each distinct
// sender address is a port of its own, named DEVICE/<its socket file name>,
// and replies go back to that address from the same socket.
type listener struct {
	name     string
	path     string
	file     *sockfile.File
	cfg      fabric.PortConfig // template for clients
	attacher fabric.Attacher
	log      hclog.Logger
	c        *conn

	mu      sync.Mutex
	clients map[string]*client
	closed  bool

	done          chan struct{} // closed when run returns
	closeOnce     sync.Once
	closeErr      error
	unaddressable atomic.Uint64
	orphaned      atomic.Uint64 // frames for a client closed before its port read them
	warnedUnnamed atomic.Bool
	bufLen        int
}

var (
	_ fabric.Device    = (*listener)(nil)
	_ fabric.RxDropper = (*listener)(nil)
)

func listen(ctx context.Context, path string, perm sockfile.Perm, cfg fabric.PortConfig, a fabric.Attacher) (*listener, error) {
	fd, err := socket()
	if err != nil {
		return nil, err
	}
	file, err := sockfile.Bind(fd, path, perm)
	if err != nil {
		closeFD(fd)
		return nil, err
	}
	c, err := newConn(fd, path, batchSize)
	if err != nil {
		file.Remove()
		return nil, err
	}
	mtu := cfg.MTU
	if mtu == 0 {
		mtu = fabric.DefaultMTU
	}
	l := &listener{
		name: cfg.Name, path: path, file: file, cfg: cfg, attacher: a, log: a.Logger().Named("dgram"), c: c,
		clients: map[string]*client{}, done: make(chan struct{}),
		bufLen: mtu + frames.TaggedHeaderLen,
	}
	go l.run()
	go func() {
		select {
		case <-ctx.Done():
			l.Close()
		case <-l.done:
		}
	}()
	l.log.Info("listening", "device", l.name, "path", path)
	return l, nil
}

func (l *listener) Name() string { return l.name }

// RxDropped counts the frames the listener dropped before any port had
// them: from senders without an address to reply to, and for clients
// detached before their port read them (a VM that sent and vanished).
func (l *listener) RxDropped() uint64 { return l.unaddressable.Load() + l.orphaned.Load() }

func (l *listener) Info() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.path + ", " + fabric.Count(len(l.clients), "client")
}

// SocketFile is the listening socket's path.
func (l *listener) SocketFile() string { return l.path }

// run reads datagrams and hands each to its sender's port, creating the
// port on a sender's first datagram.
func (l *listener) run() {
	defer close(l.done)
	bufs := make([][]byte, batchSize)
	for i := range bufs {
		bufs[i] = make([]byte, l.bufLen)
	}
	sizes := make([]int, batchSize)
	from := make([]addr, batchSize)
	run := make([]int, 0, batchSize)
	hold := flowq.NewHold(l.attacher.FlowControl())
	for {
		n, err := l.c.recv(bufs, sizes, from)
		if err != nil {
			l.mu.Lock()
			closed := l.closed
			l.mu.Unlock()
			if !closed {
				l.log.Error("listener socket failed", "device", l.name, "error", err)
			}
			return
		}
		// Consecutive datagrams from one sender go to its queue in one
		// operation.
		hold.Start()
		var cur *client
		run = run[:0]
		for i := 0; i < n; i++ {
			key := from[i].pathBytes()
			if len(key) == 0 {
				l.unaddressable.Add(1)
				if !l.warnedUnnamed.Swap(true) {
					l.log.Warn("dropping datagrams from an unbound socket: the sender must bind an address so replies can reach it", "device", l.name)
				}
				continue
			}
			if cur == nil || cur.key != string(key) {
				if cur != nil {
					l.deliver(cur, bufs, sizes, run, hold)
				}
				run = run[:0]
				l.mu.Lock()
				cur = l.clients[string(key)]
				l.mu.Unlock()
				if cur == nil {
					cur = l.newClient(&from[i])
					if cur == nil {
						continue
					}
					if sizes[i] == len(Hello) && string(bufs[i][:len(Hello)]) == Hello {
						continue
					}
				}
			}
			run = append(run, i)
		}
		if cur != nil {
			l.deliver(cur, bufs, sizes, run, hold)
		}
	}
}

// deliver hands frames run of bufs to client c. A client closed since it
// was looked up (its port detached because a send to it failed: a VM that
// sent and vanished) refuses them; they go to a new port for the same
// address, as any datagram from an address without a port does, so that
// what a VM sent before it went is still forwarded. Frames no port takes
// are counted as the listener's.
func (l *listener) deliver(c *client, bufs [][]byte, sizes []int, run []int, hold *flowq.Hold) {
	for try := 0; ; try++ {
		refused := c.rx.push(bufs, sizes, run, hold)
		if refused == 0 {
			return
		}
		run = run[len(run)-refused:]
		if try == maxRedeliver {
			l.orphaned.Add(uint64(refused))
			return
		}
		if c = l.newClient(&c.addr); c == nil {
			l.orphaned.Add(uint64(refused))
			return
		}
	}
}

// newClient attaches a port for a new sender. It returns nil if the
// fabric refused it.
func (l *listener) newClient(a *addr) *client {
	key := string(a.pathBytes())
	name := filepath.Base(key)
	if key[0] == 0 {
		name = "@" + key[1:]
	}
	c := &client{l: l, key: key, addr: *a, tx: newSendScratch(batchSize), rx: newRxQueue(clientQueueLen, l.bufLen)}
	cfg := l.cfg
	cfg.Device = l.name
	cfg.Info = a.String()
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return nil
	}
	l.clients[key] = c
	l.mu.Unlock()
	// Two clients in different directories may share a file name: the
	// second gets a numbered name.
	var err error
	for i := 1; i <= 100; i++ {
		c.name = l.name + "/" + name
		if i > 1 {
			c.name = fmt.Sprintf("%s/%s~%d", l.name, name, i)
		}
		cfg.Name = c.name
		if err = l.attacher.Attach(c, cfg); !errors.Is(err, fabric.ErrNameInUse) {
			break
		}
	}
	if err != nil {
		l.log.Warn("client not attached", "device", l.name, "client", a.String(), "error", err)
		l.forget(c)
		return nil
	}
	return c
}

func (l *listener) forget(c *client) {
	l.mu.Lock()
	if l.clients[c.key] == c {
		delete(l.clients, c.key)
	}
	l.mu.Unlock()
}

// Close stops listening, detaches every client and removes the socket
// file. Concurrent and repeated calls all return once that is done (the
// fabric's shutdown and the context watcher both call it).
func (l *listener) Close() error {
	l.closeOnce.Do(func() {
		l.mu.Lock()
		l.closed = true
		clients := make([]*client, 0, len(l.clients))
		for _, c := range l.clients {
			clients = append(clients, c)
		}
		l.mu.Unlock()
		l.closeErr = l.c.close()
		<-l.done
		for _, c := range clients {
			l.attacher.Detach(c.name)
		}
		l.file.Remove()
		l.log.Info("stopped listening", "device", l.name, "path", l.path)
	})
	return l.closeErr
}

// client is one sender of a listener: a port whose frames the listener
// demultiplexes into rx and whose replies go out of the listener's socket.
type client struct {
	l      *listener
	key    string
	addr   addr
	rx     *rxQueue
	tx     *sendScratch
	name   string // port name, set before it is attached
	closed atomic.Bool
}

var _ fabric.Port = (*client)(nil)

func (c *client) Read(bufs [][]byte, sizes []int) (int, error) {
	return c.rx.pop(bufs, sizes)
}

func (c *client) Write(bufs [][]byte) (int, error) {
	return c.l.c.send(c.tx, bufs, &c.addr)
}

func (c *client) BatchSize() int { return batchSize }

// RxDropped counts frames dropped because the fabric's reader for this
// client fell behind the listener.
func (c *client) RxDropped() uint64 { return c.rx.drops.Load() }

func (c *client) Close() error {
	if c.closed.Swap(true) {
		return nil
	}
	c.l.forget(c)
	c.rx.close()
	return nil
}

// rxSlot is one frame in a client's receive queue.
type rxSlot struct {
	buf  []byte
	size int
}

// rxQueue carries frames from the listener's demultiplexer to a client's
// reader: a flowq.Queue, so that when it is full the listener waits for
// the reader or drops as the fabric's flow control says (see package
// flowq). The reader is busy when the ports it sends to are, and the wait
// passes that back to the VMs, whose sends then block on the listener's
// socket. push swaps the listener's filled buffer for the slot's empty one
// rather than copying; pop copies into the fabric's buffers.
type rxQueue struct {
	q      *flowq.Queue[rxSlot]
	bufLen int
	drops  atomic.Uint64
}

func newRxQueue(n, bufLen int) *rxQueue {
	return &rxQueue{q: flowq.New[rxSlot](n), bufLen: bufLen}
}

// push takes the frames bufs[i] for i in run, of lengths sizes[i],
// replacing each bufs[i] with an empty buffer of the same length instead
// of copying. When the queue is full it waits for room as hold allows;
// what still does not fit is dropped and counted as the client's. It
// returns how many frames it refused because the client is closed: the
// port's counters are final then, so the caller counts those.
func (r *rxQueue) push(bufs [][]byte, sizes []int, run []int, hold *flowq.Hold) (closed int) {
	if len(run) == 0 {
		return 0
	}
	pushed := 0
	r.q.Lock()
	for k, i := range run {
		if r.q.Closed() {
			closed = len(run) - k
			break
		}
		s := r.q.Reserve()
		for s == nil && r.q.WaitRoom(hold) {
			s = r.q.Reserve()
		}
		if s == nil {
			if r.q.Closed() {
				closed = len(run) - k
				break
			}
			r.drops.Add(1)
			continue
		}
		if s.buf == nil {
			s.buf = make([]byte, r.bufLen)
		}
		s.buf, bufs[i] = bufs[i], s.buf
		s.size = sizes[i]
		r.q.Commit(1)
		pushed++
	}
	r.q.Unlock()
	if pushed > 0 {
		r.q.Notify()
	}
	return closed
}

// pop copies up to len(bufs) frames out, blocking until there is one.
// Once the queue is closed it still hands out what it holds, so that the
// frames of a client that sent and vanished are forwarded, then fails.
func (r *rxQueue) pop(bufs [][]byte, sizes []int) (int, error) {
	for {
		r.q.Lock()
		n := r.q.Take(len(bufs))
		for k := 0; k < n; k++ {
			s := r.q.Taken(k)
			if s.size > len(bufs[k]) || s.size > len(s.buf) {
				sizes[k] = len(bufs[k]) + 1 // oversize: report, do not truncate
			} else {
				sizes[k] = copy(bufs[k], s.buf[:s.size])
			}
		}
		r.q.Release()
		closed := r.q.Closed()
		r.q.Unlock()
		if n > 0 {
			return n, nil
		}
		if closed {
			return 0, os.ErrClosed
		}
		<-r.q.Wake()
	}
}

// close makes pop fail and push drop, and releases a waiting push.
func (r *rxQueue) close() {
	r.q.Lock()
	r.q.Close()
	r.q.Unlock()
}

// randomID returns a random number for private socket names.
func randomID() uint32 {
	var b [4]byte
	rand.Read(b[:])
	return binary.LittleEndian.Uint32(b[:])
}
