//go:build darwin

package bpfndrv

import (
	"fmt"
	"os"
	"runtime"
	"sync"
	"sync/atomic"
	"syscall"
	"unsafe"

	"golang.org/x/net/bpf"
	"golang.org/x/sys/unix"

	"github.com/l2fabric/l2fabric/backends/internal/linkwatch"
)

// Open opens a BPF device on ifname for receiving and a PF_NDRV socket for
// sending, and returns a port on them that implements fabric.Port,
// fabric.Linker, fabric.AddressFilter and fabric.RxDropper. Both need
// root: without it the error wraps ErrNeedRoot.
func Open(ifname string, cfg Config) (*Port, error) {
	return newPort(ifname, cfg, darwinSystem{}, defaultTiming())
}

// darwinSystem is the system a darwin port runs on.
type darwinSystem struct{}

func (darwinSystem) links() (linkwatch.Source, error) { return linkwatch.System() }

func (darwinSystem) open(ifname string, cfg Config, prog []bpf.RawInstruction) (device, error) {
	d, err := openDevice(ifname, cfg, prog)
	if err != nil {
		return nil, err // not a nil *darwinDevice in a non-nil device
	}
	return d, nil
}

// wakeIdent identifies the EVFILT_USER event that wakes a read blocked in
// kevent when the device closes.
const wakeIdent = 1

// darwinDevice is a BPF descriptor, the kqueue a read waits in, and an
// NDRV socket. The descriptors are held by *os.File, whose reference
// counting keeps one from being closed (and its number reused) while a
// system call uses it. None of them is in Go's poller: the runtime
// registers EVFILT_READ and EVFILT_WRITE in one kevent call and BPF
// rejects EVFILT_WRITE (xnu: bpfkqfilter accepts EVFILT_READ only), so the
// registration fails and os falls back to blocking I/O that Close cannot
// interrupt. The BPF descriptor waits in a kqueue of its own instead
// (EVFILT_READ, which xnu supports, plus an EVFILT_USER event that close
// triggers).
type darwinDevice struct {
	bpf, kq, ndrv       *os.File
	bpfRC, kqRC, ndrvRC syscall.RawConn
	blen                int
	events              [2]unix.Kevent_t // read's scratch
	closed              atomic.Bool
	once                sync.Once
}

// openDevice opens, configures and wraps the BPF descriptor, its kqueue
// and the NDRV socket.
func openDevice(ifname string, cfg Config, prog []bpf.RawInstruction) (_ *darwinDevice, err error) {
	size, err := bufferSize(cfg.BufferSize)
	if err != nil {
		return nil, err
	}
	ifr, err := newIfreq(ifname)
	if err != nil {
		return nil, err
	}
	sa, err := newSockaddrNDRV(ifname)
	if err != nil {
		return nil, err
	}
	var fds []int
	defer func() {
		if err != nil {
			for _, fd := range fds {
				unix.Close(fd)
			}
		}
	}()
	bpfFD, path, err := openFirstFree(func(path string) (int, error) {
		// xnu: bpfopen returns EBUSY for a device in use, and creates
		// the next device node when the last one is opened.
		return unix.Open(path, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	})
	if err != nil {
		return nil, fmt.Errorf("%s: BPF: %w", ifname, err)
	}
	fds = append(fds, bpfFD)
	blen, err := configureBPF(bpfIoctl(bpfFD), &ifr, size, cfg.Promisc, prog)
	if err != nil {
		return nil, fmt.Errorf("%s: BPF (%s): %w", ifname, path, err)
	}
	kqFD, err := openKqueue(bpfFD)
	if err != nil {
		return nil, fmt.Errorf("%s: BPF (%s): kqueue: %w", ifname, path, err)
	}
	fds = append(fds, kqFD)
	ndrvFD, err := openNDRV(&sa)
	if err != nil {
		return nil, fmt.Errorf("%s: NDRV: %w", ifname, err)
	}
	fds = append(fds, ndrvFD)

	// os.NewFile finds the descriptors blocking, so it leaves them out
	// of Go's poller and never touches their mode; only then are the BPF
	// descriptor and the NDRV socket made non-blocking, behind its back.
	d := &darwinDevice{
		bpf:  os.NewFile(uintptr(bpfFD), path),
		kq:   os.NewFile(uintptr(kqFD), "kqueue for "+path),
		ndrv: os.NewFile(uintptr(ndrvFD), "ndrv:"+ifname),
		blen: blen,
	}
	fds = nil // the files own them now
	fail := func(what string, err error) (*darwinDevice, error) {
		d.bpf.Close()
		d.kq.Close()
		d.ndrv.Close()
		return nil, fmt.Errorf("%s: %s: %w", ifname, what, err)
	}
	if err := unix.SetNonblock(bpfFD, true); err != nil {
		return fail("BPF ("+path+"): non-blocking", err)
	}
	if err := unix.SetNonblock(ndrvFD, true); err != nil {
		return fail("NDRV: non-blocking", err)
	}
	for _, c := range []struct {
		f  *os.File
		rc *syscall.RawConn
	}{{d.bpf, &d.bpfRC}, {d.kq, &d.kqRC}, {d.ndrv, &d.ndrvRC}} {
		if *c.rc, err = c.f.SyscallConn(); err != nil {
			return fail("SyscallConn", err)
		}
	}
	return d, nil
}

// openKqueue returns a kqueue watching bpfFD for reading (level
// triggered) and holding the EVFILT_USER event close triggers.
func openKqueue(bpfFD int) (int, error) {
	syscall.ForkLock.RLock()
	kq, err := unix.Kqueue()
	if err == nil {
		unix.CloseOnExec(kq)
	}
	syscall.ForkLock.RUnlock()
	if err != nil {
		return -1, err
	}
	changes := []unix.Kevent_t{
		{Ident: uint64(bpfFD), Filter: unix.EVFILT_READ, Flags: unix.EV_ADD},
		{Ident: wakeIdent, Filter: unix.EVFILT_USER, Flags: unix.EV_ADD | unix.EV_CLEAR},
	}
	if _, err := unix.Kevent(kq, changes, nil, nil); err != nil {
		unix.Close(kq)
		return -1, err
	}
	return kq, nil
}

// openNDRV opens a PF_NDRV socket bound and connected to the interface sa
// names, with a send buffer large enough for any frame. It is left
// blocking, for os.NewFile.
func openNDRV(sa *sockaddrNDRV) (int, error) {
	syscall.ForkLock.RLock()
	fd, err := unix.Socket(afNDRV, unix.SOCK_RAW, 0)
	if err == nil {
		unix.CloseOnExec(fd)
	}
	syscall.ForkLock.RUnlock()
	if err != nil {
		return -1, rootError("socket(PF_NDRV)", err)
	}
	fail := func(what string, err error) (int, error) {
		unix.Close(fd)
		return -1, fmt.Errorf("%s: %w", what, err)
	}
	if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_NOSIGPIPE, 1); err != nil {
		return fail("SO_NOSIGPIPE", err)
	}
	if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_SNDBUF, ndrvSendBuffer); err != nil {
		return fail("SO_SNDBUF", err)
	}
	for _, c := range []struct {
		name string
		trap uintptr
	}{{"bind", sysBind}, {"connect", sysConnect}} {
		_, _, errno := unix.Syscall(c.trap, uintptr(fd), uintptr(unsafe.Pointer(sa)), sizeofSockaddrNDRV)
		if errno != 0 {
			if errno == unix.EADDRNOTAVAIL {
				return fail(c.name, fmt.Errorf("no such interface (%w)", errno))
			}
			return fail(c.name, errno)
		}
	}
	return fd, nil
}

// bpfIoctl issues the configuration ioctls on a BPF descriptor.
type bpfIoctl int

func (fd bpfIoctl) setPointerInt(req uint32, v int) error {
	return unix.IoctlSetPointerInt(int(fd), uint(req), v)
}

func (fd bpfIoctl) setInt(req uint32, v int) error {
	return unix.IoctlSetInt(int(fd), uint(req), v)
}

func (fd bpfIoctl) getInt(req uint32) (int, error) {
	return unix.IoctlGetInt(int(fd), uint(req))
}

func (fd bpfIoctl) setIfreq(req uint32, ifr *ifreq) error {
	return ioctlPtr(int(fd), req, unsafe.Pointer(ifr))
}

func (fd bpfIoctl) setProgram(req uint32, prog []bpf.RawInstruction) error {
	bp := newBPFProgram(prog)
	err := ioctlPtr(int(fd), req, unsafe.Pointer(&bp))
	runtime.KeepAlive(prog)
	return err
}

// ioctlPtr issues an ioctl whose argument is a pointer to a structure.
func ioctlPtr(fd int, req uint32, arg unsafe.Pointer) error {
	_, _, errno := unix.Syscall(unix.SYS_IOCTL, uintptr(fd), uintptr(req), uintptr(arg))
	if errno != 0 {
		return errno
	}
	return nil
}

func (d *darwinDevice) bufLen() int { return d.blen }

// read reads the BPF buffer, waiting in the kqueue while it is empty.
func (d *darwinDevice) read(buf []byte) (int, error) {
	if len(buf) != d.blen {
		return 0, fmt.Errorf("BPF read of %d bytes: the kernel takes exactly %d", len(buf), d.blen)
	}
	tryRead := func() (int, error) {
		var n int
		var rerr error
		if err := d.bpfRC.Control(func(fd uintptr) { n, rerr = unix.Read(int(fd), buf) }); err != nil {
			return 0, errClosed
		}
		return n, rerr
	}
	wait := func() error {
		var kerr error
		// No timeout: xnu's bpfdetach wakes the knote but the filter
		// reports it ready only when data is buffered, so an interface
		// detached from an idle descriptor produces no event here; the
		// route socket reports the departure instead, and the supervisor
		// closes the device, which triggers the EVFILT_USER event.
		if err := d.kqRC.Control(func(fd uintptr) {
			_, kerr = unix.Kevent(int(fd), nil, d.events[:], nil)
		}); err != nil {
			return errClosed
		}
		return kerr
	}
	return readWaiting(&d.closed, tryRead, wait)
}

// write sends frame on the NDRV socket.
func (d *darwinDevice) write(frame []byte) error {
	var werr error
	if err := d.ndrvRC.Control(func(fd uintptr) { _, werr = unix.Write(int(fd), frame) }); err != nil {
		return errClosed
	}
	return sendError(werr)
}

// setFilter replaces the filter with BIOCSETFNR, which keeps the frames
// already captured.
func (d *darwinDevice) setFilter(prog []bpf.RawInstruction) error {
	if err := validateProgram(prog); err != nil {
		return err
	}
	var ierr error
	if err := d.bpfRC.Control(func(fd uintptr) { ierr = bpfIoctl(fd).setProgram(biocSETFNR, prog) }); err != nil {
		return errClosed
	}
	if ierr != nil {
		return fmt.Errorf("BIOCSETFNR: %w", ierr)
	}
	return nil
}

// kernelDrops returns bs_drop from BIOCGSTATS.
func (d *darwinDevice) kernelDrops() (uint32, error) {
	var st bpfStat
	var ierr error
	if err := d.bpfRC.Control(func(fd uintptr) { ierr = ioctlPtr(int(fd), biocGSTATS, unsafe.Pointer(&st)) }); err != nil {
		return 0, errClosed
	}
	if ierr != nil {
		return 0, fmt.Errorf("BIOCGSTATS: %w", ierr)
	}
	return st.Drop, nil
}

// close wakes a read waiting in the kqueue and closes the descriptors
// (each really closes when the last system call using it returns).
func (d *darwinDevice) close() error {
	d.once.Do(func() {
		d.closed.Store(true)
		d.kqRC.Control(func(fd uintptr) {
			wake := []unix.Kevent_t{{Ident: wakeIdent, Filter: unix.EVFILT_USER, Fflags: unix.NOTE_TRIGGER}}
			unix.Kevent(int(fd), wake, nil, nil)
		})
		d.bpf.Close()
		d.kq.Close()
		d.ndrv.Close()
	})
	return nil
}
