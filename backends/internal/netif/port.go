//go:build linux

package netif

import (
	"errors"
	"fmt"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/go-hclog"
	"golang.org/x/sys/unix"

	"github.com/l2fabric/l2fabric/fabric"
)

// PollInterval is how often a TapPort checks on its device, and calls its
// Ensure hook.
const PollInterval = 250 * time.Millisecond

// BatchSize is the number of frames a TapPort reads or writes per call:
// one system call per frame, but as many frames as are ready.
const BatchSize = 32

// removalWait bounds how long Close waits for a non-persistent TAP to be
// gone after its file is closed.
const removalWait = 2 * time.Second

// TapConfig configures a TapPort.
type TapConfig struct {
	TapOptions
	// Recreate makes the port create its device again when it is
	// deleted. Without it the port waits for a TAP of the same name to
	// appear and attaches to it.
	Recreate bool
	// Ensure, when set, is called with the device once it is open and
	// then at every poll. It repairs what it can (feth re-joins its
	// bridge), and returns an error while the link cannot be up: the
	// error's text is the link-down reason. The note it returns, if any,
	// is the reason given when the link comes back up. An error on the
	// first call fails OpenTapPort.
	Ensure func(dev Link) (note string, err error)
	// Log receives the port's logs.
	Log hclog.Logger
}

// TapPort is a fabric port on a TAP device: frames the kernel sends
// through the TAP are read, frames written reach the kernel as if received
// on it. When the device is deleted the port reports its link down
// (fabric.Linker) rather than failing, and re-attaches (or, with Recreate,
// re-creates) the device when it can, then reports it up. A device set
// administratively down (`ip link set DEV down`) is reported down too,
// until it is set up again.
type TapPort struct {
	cfg TapConfig
	mtu int
	log hclog.Logger

	cur     atomic.Pointer[tapFile]
	mu      sync.Mutex    // guards changed and the swap of cur
	changed chan struct{} // closed when cur changes

	first     *tapFile // the device as first opened, for Created
	kick      chan struct{}
	done      chan struct{}
	supDone   chan struct{}
	link      *fabric.LinkState
	closeOnce sync.Once

	// Supervisor state.
	up       bool
	reason   string
	lastWarn string
}

var (
	_ fabric.Port   = (*TapPort)(nil)
	_ fabric.Linker = (*TapPort)(nil)
)

// OpenTapPort opens (creating it if need be) the TAP cfg.Name, configures
// it and returns it as a port. Its link is up.
func OpenTapPort(cfg TapConfig) (*TapPort, error) {
	if cfg.Log == nil {
		cfg.Log = hclog.NewNullLogger()
	}
	tf, link, err := openTap(cfg.TapOptions, true)
	if err != nil {
		return nil, err
	}
	p := &TapPort{
		cfg:     cfg,
		mtu:     min(max(link.MTU, fabric.MinMTU), fabric.MaxMTU),
		log:     cfg.Log,
		changed: make(chan struct{}),
		first:   tf,
		kick:    make(chan struct{}, 1),
		done:    make(chan struct{}),
		supDone: make(chan struct{}),
		link:    fabric.NewLinkState(),
		up:      true,
	}
	if cfg.MTU > 0 {
		p.mtu = cfg.MTU
	}
	if cfg.Ensure != nil {
		if _, err := cfg.Ensure(link); err != nil {
			p.release(tf)
			return nil, err
		}
	}
	p.cur.Store(tf)
	go p.supervise()
	return p, nil
}

// Name returns the device name.
func (p *TapPort) Name() string { return p.cfg.Name }

// MTU returns the port's MTU: the mtu asked for, or the device's as it
// was opened.
func (p *TapPort) MTU() int { return p.mtu }

// Created reports whether opening the port created its device (rather
// than attaching one that existed).
func (p *TapPort) Created() bool { return p.first.created }

// Persistent reports whether the device as first opened outlives the
// port.
func (p *TapPort) Persistent() bool { return p.first.persistent }

// Read implements fabric.Port. While the device is gone it blocks until
// it is back or the port is closed.
func (p *TapPort) Read(bufs [][]byte, sizes []int) (int, error) {
	for {
		p.mu.Lock()
		tf, changed := p.cur.Load(), p.changed
		p.mu.Unlock()
		if tf != nil {
			n, err := tf.read(bufs, sizes)
			if n > 0 {
				return n, nil
			}
			if p.closed() {
				return 0, os.ErrClosed
			}
			switch {
			case p.cur.Load() != tf:
				// The supervisor found the device gone and closed the
				// file (which it swaps out first).
			case errors.Is(err, unix.EBADFD):
				// The device was deleted: the file is detached.
				p.markDead(tf)
			default:
				return 0, fmt.Errorf("reading TAP %s: %w", p.cfg.Name, err)
			}
		}
		select {
		case <-changed:
		case <-p.done:
			return 0, os.ErrClosed
		}
	}
}

// Write implements fabric.Port.
func (p *TapPort) Write(bufs [][]byte) (int, error) {
	tf := p.cur.Load()
	if tf == nil {
		if p.closed() {
			return 0, fmt.Errorf("%w: TAP %s closed", fabric.ErrPeerGone, p.cfg.Name)
		}
		return 0, fmt.Errorf("TAP %s is gone", p.cfg.Name)
	}
	n, err := tf.write(bufs)
	switch {
	case err == nil, errors.Is(err, fabric.ErrTxFull):
	case errors.Is(err, unix.EBADFD), p.cur.Load() != tf:
		p.markDead(tf)
		err = fmt.Errorf("TAP %s is gone", p.cfg.Name)
	default:
		err = fmt.Errorf("writing to TAP %s: %w", p.cfg.Name, err)
	}
	return n, err
}

// BatchSize implements fabric.Port.
func (p *TapPort) BatchSize() int { return BatchSize }

// LinkEvents implements fabric.Linker.
func (p *TapPort) LinkEvents() <-chan fabric.LinkEvent { return p.link.LinkEvents() }

// Close implements fabric.Port: it closes the TAP, which takes a
// non-persistent device away, and returns once it is gone.
func (p *TapPort) Close() error {
	p.closeOnce.Do(func() {
		close(p.done)
		<-p.supDone
		p.mu.Lock()
		tf := p.cur.Swap(nil)
		p.mu.Unlock()
		if tf != nil {
			p.release(tf)
		}
		p.link.Close()
	})
	return nil
}

// release closes tf and waits for its device to go away unless it
// persists. A device this port created is never left persistent unless
// the user asked for it.
func (p *TapPort) release(tf *tapFile) {
	if tf.created && tf.persistent && p.cfg.Persist != PersistOn {
		tf.rc.Control(func(fd uintptr) { unix.IoctlSetInt(int(fd), unix.TUNSETPERSIST, 0) })
		tf.persistent = false
	}
	tf.close()
	if tf.persistent {
		return
	}
	deadline := time.Now().Add(removalWait)
	for time.Now().Before(deadline) {
		if _, err := LinkByIndex(tf.index); errors.Is(err, ErrNotFound) {
			return
		}
		time.Sleep(5 * time.Millisecond)
	}
	p.log.Warn("TAP still there after closing it", "device", p.cfg.Name)
}

func (p *TapPort) closed() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// markDead notes that tf's device went away and wakes the supervisor.
func (p *TapPort) markDead(tf *tapFile) {
	tf.dead.Store(true)
	select {
	case p.kick <- struct{}{}:
	default:
	}
}

// swap makes tf the current file and wakes a reader waiting for a change.
func (p *TapPort) swap(tf *tapFile) {
	p.mu.Lock()
	p.cur.Store(tf)
	close(p.changed)
	p.changed = make(chan struct{})
	p.mu.Unlock()
}

// supervise checks on the device every PollInterval, and at once when the
// reader or writer finds it gone.
func (p *TapPort) supervise() {
	defer close(p.supDone)
	t := time.NewTicker(PollInterval)
	defer t.Stop()
	for {
		select {
		case <-p.done:
			return
		case <-t.C:
		case <-p.kick:
		}
		p.poll()
	}
}

// poll notices a deleted device, brings a device back, runs Ensure, and
// reports the link's state when it changes.
func (p *TapPort) poll() {
	name := p.cfg.Name
	tf := p.cur.Load()
	var dev Link
	if tf != nil {
		var err error
		dev, err = LinkByIndex(tf.index)
		switch {
		case tf.dead.Load() || errors.Is(err, ErrNotFound):
			p.swap(nil)
			tf.close()
			p.log.Warn("TAP deleted", "device", name)
			p.setLink(false, "interface "+name+" deleted")
			tf = nil
		case err != nil:
			p.warnOnce("checking TAP failed", err)
			return
		}
	}
	note := ""
	if tf == nil {
		ntf, link, err := openTap(p.cfg.TapOptions, p.cfg.Recreate)
		if err != nil {
			if !errors.Is(err, ErrNotFound) {
				p.warnOnce("TAP not re-attached", err)
			}
			return
		}
		select {
		case <-p.done: // Close is waiting for us: do not install it
			p.release(ntf)
			return
		default:
		}
		if p.cfg.MTU == 0 && link.MTU != p.mtu {
			p.log.Warn("TAP is back with another MTU: frames longer than the port's MTU will be dropped", "device", name, "mtu", link.MTU, "port_mtu", p.mtu)
		}
		p.swap(ntf)
		dev = link
		if ntf.created {
			note = "interface " + name + " re-created"
			p.log.Info("TAP re-created", "device", name)
		} else {
			note = "interface " + name + " back"
			p.log.Info("TAP re-attached", "device", name)
		}
	}
	if p.cfg.Ensure != nil {
		n, err := p.cfg.Ensure(dev)
		if err != nil {
			p.setLink(false, err.Error())
			return
		}
		if n != "" {
			note = n
		}
	}
	if !dev.Up() {
		// Set down by an administrator: the kernel would refuse what
		// the fabric sends (EIO). Left for them to set up again.
		p.setLink(false, "interface "+name+" set down")
		return
	}
	if note == "" {
		note = "interface " + name + " up"
	}
	p.lastWarn = ""
	p.setLink(true, note)
}

// warnOnce logs err unless it is the one logged last.
func (p *TapPort) warnOnce(msg string, err error) {
	if s := err.Error(); s != p.lastWarn {
		p.lastWarn = s
		p.log.Warn(msg, "device", p.cfg.Name, "error", err)
	}
}

// setLink reports the link's state if it changed (or, while down, if the
// reason did).
func (p *TapPort) setLink(up bool, reason string) {
	if up == p.up && (up || reason == p.reason) {
		return
	}
	p.up, p.reason = up, reason
	p.link.Set(up, reason, true)
}
