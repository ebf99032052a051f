package bpfndrv

import (
	"errors"
	"fmt"
	"io/fs"
	"syscall"

	"golang.org/x/net/bpf"
)

// ErrNeedRoot is wrapped by the errors Open returns when the system
// refuses a BPF device or an NDRV socket for lack of privileges.
var ErrNeedRoot = errors.New("l2fabric needs root for BPF and NDRV")

// rootError wraps err, the failure of what, as ErrNeedRoot when it is a
// permission error.
func rootError(what string, err error) error {
	if errors.Is(err, fs.ErrPermission) {
		return fmt.Errorf("%w: %s: %v (run l2fabric as root)", ErrNeedRoot, what, err)
	}
	return fmt.Errorf("%s: %w", what, err)
}

// maxBPFDevices bounds the search for a free /dev/bpfN. macOS creates
// devices on demand up to debug.bpf_maxdevices (256 by default).
const maxBPFDevices = 1024

// openFirstFree opens the first BPF device that is not in use: /dev/bpf0,
// /dev/bpf1... A busy device (EBUSY) is skipped; a missing one (ENOENT)
// ends the search, since they are numbered without gaps.
func openFirstFree[F any](open func(path string) (F, error)) (F, string, error) {
	var zero F
	for n := 0; n < maxBPFDevices; n++ {
		path := fmt.Sprintf("/dev/bpf%d", n)
		f, err := open(path)
		switch {
		case err == nil:
			return f, path, nil
		case errors.Is(err, syscall.EBUSY):
			continue
		case errors.Is(err, fs.ErrNotExist):
			if n == 0 {
				return zero, "", fmt.Errorf("opening %s: %w (no BPF devices)", path, err)
			}
			return zero, "", fmt.Errorf("no free BPF device: /dev/bpf0 to /dev/bpf%d are all in use", n-1)
		default:
			return zero, "", rootError("opening "+path, err)
		}
	}
	return zero, "", fmt.Errorf("no free BPF device: /dev/bpf0 to /dev/bpf%d are all in use", maxBPFDevices-1)
}

// bpfControl is the ioctls the configuration of a BPF descriptor issues.
// The darwin glue implements it with system calls; tests record the
// calls.
type bpfControl interface {
	// setPointerInt issues an ioctl whose argument is a pointer to a
	// u_int holding v (_IOW and _IOWR requests).
	setPointerInt(req uint32, v int) error
	// setInt issues an ioctl whose argument is v itself (_IO requests).
	setInt(req uint32, v int) error
	// getInt issues an ioctl that writes a u_int and returns it.
	getInt(req uint32) (int, error)
	// setIfreq issues an ioctl whose argument is a pointer to ifr.
	setIfreq(req uint32, ifr *ifreq) error
	// setProgram issues an ioctl whose argument is a pointer to the
	// bpf_program for prog.
	setProgram(req uint32, prog []bpf.RawInstruction) error
}

// bufferSize returns the BPF buffer size to request for a configured
// size: the default for 0, capped at what the kernel grants at most.
func bufferSize(n int) (int, error) {
	switch {
	case n < 0:
		return 0, fmt.Errorf("BPF buffer size %d is negative", n)
	case n == 0:
		return DefaultBufferSize, nil
	case n < minBufferSize:
		return minBufferSize, nil
	}
	return min(n, maxBufferSize), nil
}

// configureBPF configures a freshly opened BPF descriptor in the order
// the kernel requires (xnu's bpf.c): the buffer size before the interface
// (BIOCSBLEN fails once one is attached), immediate mode (a read returns
// as soon as a frame is there), only received frames (not those the host
// sends, nor those we send through NDRV), then the filter, and only then
// the interface, link headers complete (a write sends the frame as given)
// and promiscuous mode if asked. It returns the buffer size the kernel
// granted, which every read must pass exactly.
//
// The filter goes in before BIOCSETIF because a descriptor without one
// captures every frame: attached first, it would buffer a burst of other
// hosts' unicast (promiscuously) that BIOCSETFNR keeps, and the fabric
// would forward it and learn those hosts' MACs on every open and reopen.
// xnu's bpf_setf needs no attached interface, and BIOCSETIF keeps the
// filter; BIOCPROMISC, which needs the interface, comes after it.
func configureBPF(c bpfControl, ifr *ifreq, size int, promisc bool, prog []bpf.RawInstruction) (int, error) {
	type step struct {
		name string
		do   func() error
	}
	steps := []step{
		{"BIOCSBLEN", func() error { return c.setPointerInt(biocSBLEN, size) }},
		{"BIOCIMMEDIATE", func() error { return c.setPointerInt(biocIMMEDIATE, 1) }},
		{"BIOCSSEESENT", func() error { return c.setPointerInt(biocSSEESENT, 0) }},
		{"BIOCSETFNR", func() error {
			if err := validateProgram(prog); err != nil {
				return err
			}
			return c.setProgram(biocSETFNR, prog)
		}},
		{"BIOCSETIF", func() error { return c.setIfreq(biocSETIF, ifr) }},
		{"BIOCGDLT", func() error {
			dlt, err := c.getInt(biocGDLT)
			if err == nil && dlt != dltEN10MB {
				return fmt.Errorf("data link type %d is not Ethernet (DLT_EN10MB): not an Ethernet interface", dlt)
			}
			return err
		}},
		{"BIOCSHDRCMPLT", func() error { return c.setPointerInt(biocSHDRCMPLT, 1) }},
	}
	if promisc {
		steps = append(steps, step{"BIOCPROMISC", func() error { return c.setInt(biocPROMISC, 0) }})
	}
	for _, s := range steps {
		if err := s.do(); err != nil {
			if s.name == "BIOCSETIF" && errors.Is(err, syscall.ENXIO) {
				return 0, fmt.Errorf("%s: no such interface (%w)", s.name, err)
			}
			return 0, fmt.Errorf("%s: %w", s.name, err)
		}
	}
	granted, err := c.getInt(biocGBLEN)
	if err != nil {
		return 0, fmt.Errorf("BIOCGBLEN: %w", err)
	}
	if granted < minBufferSize || granted > 1<<30 {
		return 0, fmt.Errorf("BIOCGBLEN: the kernel granted a %d-byte buffer", granted)
	}
	return granted, nil
}
