//go:build linux || darwin

package stream

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/l2fabric/l2fabric/fabric"
)

// listener is a listening stream socket whose every connection is a port
// of its own, named DEVICE/<n> with n counting connections from 1.
type listener struct {
	name     string
	sock     *socketFile
	cfg      fabric.PortConfig // template for connections
	attacher fabric.Attacher
	log      hclog.Logger

	mu     sync.Mutex
	conns  map[*connPort]struct{}
	next   int
	closed bool

	// desynced counts connections closed for a length out of bounds.
	desynced  atomic.Uint64
	done      chan struct{} // closed when accept returns
	closeOnce sync.Once
	closeErr  error
}

var _ fabric.Device = (*listener)(nil)

// listen opens the socket file and starts accepting connections until
// ctx ends or the device is closed.
func listen(ctx context.Context, o options, cfg fabric.PortConfig, a fabric.Attacher) (*listener, error) {
	sock, err := listenUnix(o.path, o.perm)
	if err != nil {
		return nil, err
	}
	l := &listener{
		name: cfg.Name, sock: sock, cfg: cfg, attacher: a, log: a.Logger().Named("stream"),
		conns: map[*connPort]struct{}{}, done: make(chan struct{}),
	}
	go l.accept()
	go func() {
		select {
		case <-ctx.Done():
			l.Close()
		case <-l.done:
		}
	}()
	l.log.Info("listening", "device", l.name, "path", o.path)
	return l, nil
}

func (l *listener) Name() string { return l.name }

// SocketFile is the listening socket's path.
func (l *listener) SocketFile() string { return l.sock.path }

func (l *listener) Info() string {
	l.mu.Lock()
	n := len(l.conns)
	l.mu.Unlock()
	s := l.sock.path + ", " + fabric.Count(n, "client")
	if d := l.desynced.Load(); d > 0 {
		s += fmt.Sprintf(", %d closed for bad framing", d)
	}
	return s
}

// accept attaches every connection as a port until the socket is closed.
func (l *listener) accept() {
	defer close(l.done)
	backoff := 5 * time.Millisecond
	for {
		nc, err := l.sock.ln.AcceptUnix()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			// Out of file descriptors, most likely: wait and retry,
			// as net/http's server does.
			l.log.Warn("accepting a connection", "device", l.name, "error", err, "retry_in", backoff)
			time.Sleep(backoff)
			backoff = min(2*backoff, time.Second)
			continue
		}
		backoff = 5 * time.Millisecond
		l.attach(nc)
	}
}

// attach makes a port of a new connection.
func (l *listener) attach(nc *net.UnixConn) {
	c, err := newConn(nc, FrameLimit(l.cfg.MTU))
	if err != nil {
		l.log.Warn("connection not attached", "device", l.name, "error", err)
		return
	}
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		c.close()
		return
	}
	l.next++
	n := l.next
	p := &connPort{c: c, l: l}
	l.conns[p] = struct{}{}
	l.mu.Unlock()

	cfg := l.cfg
	cfg.Name = l.name + "/" + strconv.Itoa(n)
	cfg.Device = l.name
	cfg.Info = c.peer()
	p.name = cfg.Name
	if err := l.attacher.Attach(p, cfg); err != nil {
		l.log.Warn("connection not attached", "device", l.name, "port", cfg.Name, "error", err)
		p.Close()
	}
}

// forget drops a closed connection's port.
func (l *listener) forget(p *connPort) {
	l.mu.Lock()
	delete(l.conns, p)
	l.mu.Unlock()
}

// Close stops listening, detaches every connection and removes the
// socket file. Concurrent and repeated calls all return once that is done.
func (l *listener) Close() error {
	l.closeOnce.Do(func() {
		l.mu.Lock()
		l.closed = true
		ports := make([]*connPort, 0, len(l.conns))
		for p := range l.conns {
			ports = append(ports, p)
		}
		l.mu.Unlock()
		l.closeErr = l.sock.close()
		<-l.done
		for _, p := range ports {
			if err := l.attacher.Detach(p.name); err != nil {
				p.Close() // never attached
			}
		}
		l.log.Info("stopped listening", "device", l.name, "path", l.sock.path)
	})
	return l.closeErr
}

// connPort is one connection as a port: a listener's client, or an
// inherited socket (l nil).
type connPort struct {
	c      *conn
	l      *listener
	name   string
	closed atomic.Bool
}

var _ fabric.ViewReader = (*connPort)(nil)

// Read implements fabric.Port. A length out of bounds ends the port: the
// stream cannot be followed past it.
func (p *connPort) Read(bufs [][]byte, sizes []int) (int, error) {
	n, err := p.c.read(bufs, sizes)
	p.countDesync(err)
	return n, err
}

// countDesync counts a connection a listener closed for being out of step.
func (p *connPort) countDesync(err error) {
	var fe *FramingError
	if p.l != nil && errors.As(err, &fe) {
		p.l.desynced.Add(1)
	}
}

// ReadViews implements fabric.ViewReader, as Read does fabric.Port.
func (p *connPort) ReadViews(views [][]byte, sizes []int) (int, error) {
	n, err := p.c.readViews(views, sizes)
	p.countDesync(err)
	return n, err
}

// Write implements fabric.Port.
func (p *connPort) Write(bufs [][]byte) (int, error) { return p.c.write(bufs) }

// BatchSize implements fabric.Port.
func (p *connPort) BatchSize() int { return p.c.batch }

// Close implements fabric.Port.
func (p *connPort) Close() error {
	if p.closed.Swap(true) {
		return nil
	}
	if p.l != nil {
		p.l.forget(p)
	}
	return p.c.close()
}
