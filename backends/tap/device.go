//go:build linux

package tap

import (
	"errors"
	"fmt"
	"os"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/l2fabric/l2fabric/backends/internal/netif"
	"github.com/l2fabric/l2fabric/fabric"
)

// tunDevice is the clone device TAPs are made from.
const tunDevice = "/dev/net/tun"

// Persist says what to do with a TAP's persist flag (TUNSETPERSIST).
type Persist int

const (
	// PersistKeep leaves the flag alone: a TAP l2fabric creates is not
	// persistent and vanishes when it is closed; an existing persistent
	// TAP stays.
	PersistKeep Persist = iota
	// PersistOn makes the TAP persistent: it stays after l2fabric closes
	// it.
	PersistOn
	// PersistOff makes the TAP non-persistent: it vanishes when l2fabric
	// closes it, even if it existed before.
	PersistOff
)

// Options says how to open a TAP.
type Options struct {
	// Name is the device name.
	Name string
	// Persist is what to do with the persist flag.
	Persist Persist
	// Owner and Group, when not -1, are set with TUNSETOWNER and
	// TUNSETGROUP.
	Owner, Group int
	// MTU, when not 0, is set on the device.
	MTU int
}

// tapFile is one open /dev/net/tun file attached to a TAP, in Go's poller.
type tapFile struct {
	f          *os.File
	rc         syscall.RawConn
	index      int
	created    bool // the device did not exist before it was opened
	persistent bool // the device outlives the file
}

// openTap attaches to the TAP o.Name, creating it when it does not exist
// and create is set (else the error wraps netif.ErrNotFound), and configures it:
// persist, owner, group, MTU, up. It returns the device as configured.
func openTap(o Options, create bool) (*tapFile, netif.Link, error) {
	if err := netif.ValidName(o.Name); err != nil {
		return nil, netif.Link{}, err
	}
	before, err := netif.LinkByName(o.Name)
	exists := err == nil
	switch {
	case err != nil && !errors.Is(err, netif.ErrNotFound):
		return nil, netif.Link{}, err
	case exists && !before.IsTap():
		return nil, netif.Link{}, fmt.Errorf("%s exists and is %s, not a TAP: choose another name", o.Name, before.Describe())
	case !exists && !create:
		return nil, netif.Link{}, err
	}
	fd, err := unix.Open(tunDevice, unix.O_RDWR|unix.O_CLOEXEC|unix.O_NONBLOCK, 0)
	if err != nil {
		if errors.Is(err, unix.ENOENT) || errors.Is(err, unix.ENODEV) || errors.Is(err, unix.ENXIO) {
			return nil, netif.Link{}, fmt.Errorf("opening %s: %w (is the tun module loaded? modprobe tun)", tunDevice, err)
		}
		return nil, netif.Link{}, netif.Privileged("opening "+tunDevice, err)
	}
	ok := false
	defer func() {
		if !ok {
			unix.Close(fd)
		}
	}()
	flags := uint16(unix.IFF_TAP | unix.IFF_NO_PI)
	if !exists {
		flags |= unix.IFF_TUN_EXCL // create, never attach by surprise
	}
	ifr, err := unix.NewIfreq(o.Name)
	if err != nil {
		return nil, netif.Link{}, err
	}
	ifr.SetUint16(flags)
	err = unix.IoctlIfreq(fd, unix.TUNSETIFF, ifr)
	if errors.Is(err, unix.EBUSY) && !exists {
		// Someone created it between the look-up and now: attach.
		ifr.SetUint16(flags &^ unix.IFF_TUN_EXCL)
		err = unix.IoctlIfreq(fd, unix.TUNSETIFF, ifr)
	}
	switch {
	case errors.Is(err, unix.EBUSY):
		return nil, netif.Link{}, fmt.Errorf("TAP %s is in use: it is open elsewhere (another port or process)", o.Name)
	case errors.Is(err, unix.EINVAL) && exists:
		return nil, netif.Link{}, fmt.Errorf("attaching TAP %s: %w (is it a multi_queue TAP? l2fabric attaches single-queue TAPs)", o.Name, err)
	case err != nil && exists:
		return nil, netif.Link{}, netif.Privileged("attaching TAP "+o.Name, err)
	case err != nil:
		return nil, netif.Link{}, netif.Privileged("creating TAP "+o.Name, err)
	}
	tf := &tapFile{}
	// From here on a failure must not leave behind a device this call
	// created: TUNSETPERSIST 0 before closing takes it away.
	cleanup := func() {
		if tf.created {
			unix.IoctlSetInt(fd, unix.TUNSETPERSIST, 0)
		}
	}
	now, err := netif.LinkByName(o.Name)
	if err != nil {
		cleanup()
		return nil, netif.Link{}, err
	}
	tf.index = now.Index
	tf.created = !exists || now.Index != before.Index
	tf.persistent = now.TunPersist
	if o.Owner >= 0 {
		if err := unix.IoctlSetInt(fd, unix.TUNSETOWNER, o.Owner); err != nil {
			cleanup()
			return nil, netif.Link{}, netif.Privileged("setting the owner of TAP "+o.Name, err)
		}
	}
	if o.Group >= 0 {
		if err := unix.IoctlSetInt(fd, unix.TUNSETGROUP, o.Group); err != nil {
			cleanup()
			return nil, netif.Link{}, netif.Privileged("setting the group of TAP "+o.Name, err)
		}
	}
	if tf.created && len(now.HardwareAddr) == 6 {
		// The kernel's random address could be the lowest of a bridge
		// the TAP joins (feth:, or a bridge the user adds a tap: to),
		// and the bridge would take it as its own.
		if err := netif.SetHardwareAddr(o.Name, netif.NeverLowest(now.HardwareAddr)); err != nil {
			cleanup()
			return nil, netif.Link{}, err
		}
	}
	if o.MTU > 0 && o.MTU != now.MTU {
		if err := netif.SetMTU(o.Name, o.MTU); err != nil {
			cleanup()
			return nil, netif.Link{}, err
		}
	}
	if err := netif.SetUp(o.Name); err != nil {
		cleanup()
		return nil, netif.Link{}, err
	}
	// Persist last, so that a failure above never leaves a device this
	// call made persistent, nor removes one it made non-persistent.
	switch o.Persist {
	case PersistOn, PersistOff:
		on := o.Persist == PersistOn
		if err := unix.IoctlSetInt(fd, unix.TUNSETPERSIST, boolInt(on)); err != nil {
			cleanup()
			return nil, netif.Link{}, netif.Privileged("setting persist on TAP "+o.Name, err)
		}
		tf.persistent = on
	}
	if now, err = netif.LinkByIndex(tf.index); err != nil {
		cleanup()
		return nil, netif.Link{}, err
	}
	tf.f = os.NewFile(uintptr(fd), tunDevice+":"+o.Name)
	ok = true // the os.File owns fd now
	if tf.rc, err = tf.f.SyscallConn(); err != nil {
		cleanup()
		tf.f.Close()
		return nil, netif.Link{}, err
	}
	return tf, now, nil
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// read reads frames, one per read(2), until bufs is full or none is
// ready; it blocks until the first. A frame longer than its buffer gets
// its full length (tun reports it), larger than the buffer.
func (t *tapFile) read(bufs [][]byte, sizes []int) (int, error) {
	n := 0
	var rerr error
	err := t.rc.Read(func(fd uintptr) bool {
		rerr = nil
		for n < len(bufs) {
			r, err := unix.Read(int(fd), bufs[n])
			if err == unix.EINTR {
				continue
			}
			if err != nil {
				rerr = err
				break
			}
			if r == 0 { // not a frame; never seen from tun
				rerr = unix.EAGAIN
				break
			}
			sizes[n] = r
			n++
		}
		return n > 0 || rerr != unix.EAGAIN
	})
	if n > 0 {
		return n, nil
	}
	if err != nil {
		return 0, err
	}
	return 0, rerr
}

// sendTimeout bounds how long a Write waits for a TAP whose queue is full
// before the rest of the batch is dropped as fabric.ErrTxFull.
const sendTimeout = 50 * time.Millisecond

// write writes each of bufs as one frame.
func (t *tapFile) write(bufs [][]byte) (int, error) {
	t.f.SetWriteDeadline(time.Now().Add(sendTimeout))
	for i, b := range bufs {
		var werr error
		err := t.rc.Write(func(fd uintptr) bool {
			for {
				_, werr = unix.Write(int(fd), b)
				if werr != unix.EINTR {
					return werr != unix.EAGAIN
				}
			}
		})
		if err != nil {
			if errors.Is(err, os.ErrDeadlineExceeded) {
				return i, fmt.Errorf("%w for %v", fabric.ErrTxFull, sendTimeout)
			}
			return i, err
		}
		if werr != nil {
			return i, werr
		}
	}
	return len(bufs), nil
}

// close closes the file. A non-persistent device goes with it.
func (t *tapFile) close() error { return t.f.Close() }
