//go:build linux

package tap

import (
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/hashicorp/go-hclog"
	"golang.org/x/sys/unix"

	"github.com/l2fabric/l2fabric/backends/internal/linkwatch"
	"github.com/l2fabric/l2fabric/backends/internal/netif"
	"github.com/l2fabric/l2fabric/fabric"
)

// BatchSize is the number of frames a Port reads or writes per call: one
// system call per frame, but as many frames as are ready.
const BatchSize = 32

// removalWait bounds how long Close waits for a non-persistent TAP to be
// gone after its file is closed.
const removalWait = 2 * time.Second

// PortConfig configures a Port.
type PortConfig struct {
	Options
	// Recreate makes the port create its device again when it is
	// deleted. Without it the port waits for a TAP of the same name to
	// appear and attaches to it.
	Recreate bool
	// Also names other interfaces whose link events matter to Ensure
	// (the bridge feth joins the TAP to).
	Also []string
	// Ensure, when set, is called with the device once it is open and
	// then on every link event of the device or of an Also interface,
	// lookup giving their state. It repairs what it can (feth re-joins
	// its bridge), and returns an error while the link cannot be up: the
	// error's text is the link-down reason. The note it returns, if any,
	// is the reason given when the link comes back up. An error on the
	// first call fails OpenPort.
	Ensure func(dev linkwatch.Link, lookup func(name string) (linkwatch.Link, bool)) (note string, err error)
	// Log receives the port's logs.
	Log hclog.Logger
}

// Port is a fabric port on a TAP device: frames the kernel sends through
// the TAP are read, frames written reach the kernel as if received on
// it. Its device is kept by a linkwatch.Supervisor: when the device is
// deleted the port reports its link down (fabric.Linker) rather than
// failing, and re-attaches (or, with Recreate, re-creates) the device as
// the link events say, then reports it up. A device set administratively
// down (`ip link set DEV down`) is reported down too, until it is set up
// again.
type Port struct {
	cfg   PortConfig
	mtu   int
	log   hclog.Logger
	first *tapFile // the device as first opened, for Created
	sup   *linkwatch.Supervisor[tapFile]
}

var (
	_ fabric.Port   = (*Port)(nil)
	_ fabric.Linker = (*Port)(nil)
)

// OpenPort opens (creating it if need be) the TAP cfg.Name, configures it
// and returns it as a port. Its link is up.
func OpenPort(cfg PortConfig) (*Port, error) {
	if cfg.Log == nil {
		cfg.Log = hclog.NewNullLogger()
	}
	p := &Port{cfg: cfg, log: cfg.Log}
	sup, err := linkwatch.NewSupervisor(linkwatch.Config[tapFile]{
		Name:   cfg.Name,
		Also:   cfg.Also,
		Open:   p.open,
		Close:  p.release,
		Create: cfg.Recreate,
		Check:  cfg.Ensure,
		Log:    cfg.Log,
	})
	if err != nil {
		if errors.Is(err, unix.EPERM) || errors.Is(err, unix.EACCES) {
			return nil, netif.Privileged("TAP "+cfg.Name, err)
		}
		return nil, err
	}
	p.sup = sup
	return p, nil
}

// open attaches to the device (creating it the first time, and with
// Recreate) and returns it as the supervisor wants it.
func (p *Port) open(linkwatch.Link) (*tapFile, linkwatch.Link, error) {
	tf, dev, err := openTap(p.cfg.Options, p.first == nil || p.cfg.Recreate)
	if err != nil {
		return nil, linkwatch.Link{}, err
	}
	mtu := min(max(dev.MTU, fabric.MinMTU), fabric.MaxMTU)
	switch {
	case p.first == nil:
		p.first, p.mtu = tf, mtu
		if p.cfg.MTU > 0 {
			p.mtu = p.cfg.MTU
		}
	case p.cfg.MTU == 0 && mtu != p.mtu:
		p.log.Warn("TAP is back with another MTU: frames longer than the port's MTU will be dropped", "device", p.cfg.Name, "mtu", dev.MTU, "port_mtu", p.mtu)
	}
	return tf, linkwatch.Link{Index: dev.Index, Name: dev.Name, Up: dev.Up(), Running: dev.Flags&unix.IFF_RUNNING != 0, Master: dev.Master, MTU: dev.MTU}, nil
}

// Name returns the device name.
func (p *Port) Name() string { return p.cfg.Name }

// MTU returns the port's MTU: the mtu asked for, or the device's as it
// was first opened.
func (p *Port) MTU() int { return p.mtu }

// Created reports whether opening the port created its device (rather
// than attaching one that existed).
func (p *Port) Created() bool { return p.first.created }

// Persistent reports whether the device as first opened outlives the
// port.
func (p *Port) Persistent() bool { return p.first.persistent }

// Read implements fabric.Port. While the device is gone it blocks until
// it is back or the port is closed.
func (p *Port) Read(bufs [][]byte, sizes []int) (int, error) {
	for {
		tf, changed := p.sup.Handle()
		if tf != nil {
			n, err := tf.read(bufs, sizes)
			if n > 0 {
				return n, nil
			}
			switch {
			case p.sup.Closed():
				return 0, os.ErrClosed
			case p.sup.Current() != tf:
				// The supervisor closed it: the device is gone.
				continue
			case errors.Is(err, unix.EBADFD), p.deviceGone(tf):
				// The device was deleted: the file is detached (and
				// one opened while it was being deleted is not even
				// pollable).
				p.sup.Dead(tf)
			default:
				return 0, fmt.Errorf("reading TAP %s: %w", p.cfg.Name, err)
			}
		}
		select {
		case <-changed:
		case <-p.sup.Done():
			return 0, os.ErrClosed
		}
	}
}

// deviceGone reports whether tf's device no longer exists.
func (p *Port) deviceGone(tf *tapFile) bool {
	_, err := netif.LinkByIndex(tf.index)
	return errors.Is(err, netif.ErrNotFound)
}

// Write implements fabric.Port.
func (p *Port) Write(bufs [][]byte) (int, error) {
	tf := p.sup.Current()
	if tf == nil {
		if p.sup.Closed() {
			return 0, fmt.Errorf("%w: TAP %s closed", fabric.ErrPeerGone, p.cfg.Name)
		}
		return 0, fmt.Errorf("%w: TAP %s is gone", fabric.ErrLinkDown, p.cfg.Name)
	}
	n, err := tf.write(bufs)
	switch {
	case err == nil, errors.Is(err, fabric.ErrTxFull):
	case errors.Is(err, unix.EBADFD), p.sup.Current() != tf:
		p.sup.Dead(tf)
		err = fmt.Errorf("%w: TAP %s is gone", fabric.ErrLinkDown, p.cfg.Name)
	default:
		err = fmt.Errorf("writing to TAP %s: %w", p.cfg.Name, err)
	}
	return n, err
}

// BatchSize implements fabric.Port.
func (p *Port) BatchSize() int { return BatchSize }

// LinkEvents implements fabric.Linker.
func (p *Port) LinkEvents() <-chan fabric.LinkEvent { return p.sup.LinkEvents() }

// Close implements fabric.Port: it closes the TAP, which takes a
// non-persistent device away, and returns once it is gone.
func (p *Port) Close() error {
	p.sup.Close()
	return nil
}

// release closes tf and waits for its device to go away unless it
// persists. A device this port created is never left persistent unless
// the user asked for it.
func (p *Port) release(tf *tapFile) {
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
		if _, err := netif.LinkByIndex(tf.index); errors.Is(err, netif.ErrNotFound) {
			return
		}
		time.Sleep(5 * time.Millisecond)
	}
	p.log.Warn("TAP still there after closing it", "device", p.cfg.Name)
}
