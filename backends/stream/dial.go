//go:build linux || darwin

package stream

import (
	"errors"
	"fmt"
	"net"
	"os"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/l2fabric/l2fabric/fabric"
)

// Reconnection backoff of a connect= port: the first retry after
// minBackoff, doubling up to maxBackoff. A connection that lasted
// stableAfter resets it.
const (
	minBackoff  = 50 * time.Millisecond
	maxBackoff  = 2 * time.Second
	stableAfter = time.Second
)

// dialPort is one port connected to a stream server (socket_vmnet, or
// another l2fabric). When the server goes away the port stays attached
// but goes down, which flushes its FDB entries, and it reconnects with
// backoff until the server is back.
type dialPort struct {
	path  string
	limit int
	link  *fabric.LinkState
	log   hclog.Logger
	quit  chan struct{} // closed by Close

	mu        sync.Mutex
	cur       *conn // nil while disconnected
	since     time.Time
	closed    bool
	closeOnce sync.Once
	backoff   time.Duration // before the next attempt
}

var (
	_ fabric.ViewReader = (*dialPort)(nil)
	_ fabric.Linker     = (*dialPort)(nil)
)

// openDial makes a connect= port and tries to connect once. A server that
// is not there yet is not an error: the port starts down and keeps trying.
func openDial(path string, mtu int, log hclog.Logger) *dialPort {
	p := &dialPort{path: path, limit: FrameLimit(mtu), link: fabric.NewLinkState(), log: log, quit: make(chan struct{}), backoff: minBackoff}
	if err := p.dial(); err != nil {
		p.link.Set(false, err.Error(), false)
		p.log.Warn("stream server not reachable yet; retrying", "path", path, "error", err)
	}
	return p
}

// dial makes one connection attempt.
func (p *dialPort) dial() error {
	nc, err := net.DialUnix("unix", nil, &net.UnixAddr{Name: p.path, Net: "unix"})
	if err != nil {
		return fmt.Errorf("connecting to %s: %w", p.path, errors.Unwrap(err))
	}
	c, err := newConn(nc, p.limit)
	if err != nil {
		return err
	}
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		c.close()
		return os.ErrClosed
	}
	p.cur, p.since = c, time.Now()
	p.mu.Unlock()
	p.link.Set(true, "connected to "+p.path, false)
	return nil
}

// connected returns the current connection, connecting first (with
// backoff) while there is none. It returns nil once the port is closed.
func (p *dialPort) connected() *conn {
	for {
		p.mu.Lock()
		c, closed, wait := p.cur, p.closed, p.backoff
		p.mu.Unlock()
		if closed {
			return nil
		}
		if c != nil {
			return c
		}
		t := time.NewTimer(wait)
		select {
		case <-p.quit:
			t.Stop()
			return nil
		case <-t.C:
		}
		if err := p.dial(); err != nil {
			p.mu.Lock()
			p.backoff = min(2*p.backoff, maxBackoff)
			p.mu.Unlock()
			p.log.Debug("reconnecting", "path", p.path, "error", err, "after", wait)
			continue
		}
		p.log.Info("reconnected to stream server", "path", p.path)
	}
}

// drop closes c, if it is still the current connection, and takes the
// link down.
func (p *dialPort) drop(c *conn, why error) {
	p.mu.Lock()
	if p.cur != c {
		p.mu.Unlock()
		return
	}
	p.cur = nil
	if time.Since(p.since) >= stableAfter {
		p.backoff = minBackoff
	} else { // a server that accepts and hangs up at once is not hammered
		p.backoff = min(2*p.backoff, maxBackoff)
	}
	closed := p.closed
	p.mu.Unlock()
	c.close()
	if closed {
		return
	}
	p.link.Set(false, fmt.Sprintf("disconnected from %s: %v", p.path, why), false)
	p.log.Warn("stream server connection lost; reconnecting", "path", p.path, "error", why)
}

// Read implements fabric.Port: it reads from the current connection,
// reconnecting whenever it breaks, until the port is closed.
func (p *dialPort) Read(bufs [][]byte, sizes []int) (int, error) {
	return p.next(bufs, sizes, (*conn).read)
}

// ReadViews implements fabric.ViewReader, as Read does fabric.Port.
func (p *dialPort) ReadViews(views [][]byte, sizes []int) (int, error) {
	return p.next(views, sizes, (*conn).readViews)
}

// next reads with read from the current connection, reconnecting
// whenever it breaks, until the port is closed.
func (p *dialPort) next(bufs [][]byte, sizes []int, read func(*conn, [][]byte, []int) (int, error)) (int, error) {
	for {
		c := p.connected()
		if c == nil {
			return 0, os.ErrClosed
		}
		n, err := read(c, bufs, sizes)
		if err != nil {
			p.drop(c, err)
		}
		if n > 0 {
			return n, nil // a bad length comes back as a dropped frame
		}
	}
}

// Write implements fabric.Port. While disconnected, frames are dropped as
// fabric.ErrLinkDown.
func (p *dialPort) Write(bufs [][]byte) (int, error) {
	p.mu.Lock()
	c := p.cur
	p.mu.Unlock()
	if c == nil {
		return 0, fmt.Errorf("%w: not connected to %s", fabric.ErrLinkDown, p.path)
	}
	n, err := c.write(bufs)
	if errors.Is(err, fabric.ErrPeerGone) {
		p.drop(c, err)
		return n, fmt.Errorf("%w: %v", fabric.ErrLinkDown, err)
	}
	return n, err
}

// BatchSize implements fabric.Port.
func (p *dialPort) BatchSize() int { return batchSize(p.limit) }

// LinkEvents implements fabric.Linker.
func (p *dialPort) LinkEvents() <-chan fabric.LinkEvent { return p.link.LinkEvents() }

// Close implements fabric.Port.
func (p *dialPort) Close() error {
	p.closeOnce.Do(func() {
		p.mu.Lock()
		p.closed = true
		c := p.cur
		p.cur = nil
		p.mu.Unlock()
		close(p.quit)
		if c != nil {
			c.close()
		}
		p.link.Close()
	})
	return nil
}
