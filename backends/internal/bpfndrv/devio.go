package bpfndrv

// The portable halves of the darwin device: what an errno means to the
// port, and a blocking read made of non-blocking ones.

import (
	"errors"
	"fmt"
	"sync/atomic"
	"syscall"
)

// readWaiting is a blocking read made of a non-blocking one: it calls
// tryRead until it returns data or fails, and wait (which returns when
// the descriptor may be readable, or when it is woken) whenever there is
// nothing to read. It returns errClosed once closed is
// set; tryRead and wait return errClosed when the descriptor is closed.
func readWaiting(closed *atomic.Bool, tryRead func() (int, error), wait func() error) (int, error) {
	for {
		if closed.Load() {
			return 0, errClosed
		}
		n, err := tryRead()
		switch {
		case err == nil && n > 0:
			return n, nil
		case err == nil, errors.Is(err, syscall.EAGAIN):
			// Nothing captured yet: wait below.
		case errors.Is(err, syscall.EINTR):
			continue
		default:
			return 0, readError(err)
		}
		if err := wait(); err != nil && !errors.Is(err, syscall.EINTR) {
			if errors.Is(err, errClosed) {
				return 0, err
			}
			return 0, fmt.Errorf("waiting for BPF: %w", err)
		}
	}
}

// sendError classifies the error of one send on the NDRV socket.
func sendError(err error) error {
	var errno syscall.Errno
	if err == nil || !errors.As(err, &errno) {
		return err
	}
	switch errno {
	case syscall.EAGAIN, syscall.ENOBUFS, syscall.EINTR:
		// No mbufs, or a signal. (xnu: a full interface queue, EQFULL,
		// is turned into success by dlil_output: the frame is dropped
		// silently, so ENOBUFS is rare.)
		return fmt.Errorf("%w: %v", errAgain, err)
	case syscall.ENETDOWN:
		return fmt.Errorf("%w: %v", errDown, err)
	case syscall.ENXIO, syscall.EPIPE, syscall.ENOTCONN:
		// The interface was detached: the kernel shut the socket down,
		// so sends fail with EPIPE (xnu: ndrv_handle_ifp_detach calls
		// socantsendmore; sosend then returns EPIPE).
		return fmt.Errorf("%w: %v", errGone, err)
	}
	return err
}

// readError classifies the error of a read on the BPF descriptor.
func readError(err error) error {
	if errors.Is(err, syscall.ENXIO) {
		// The interface was detached from the descriptor (xnu: bpfdetach
		// clears bd_bif; bpfread then returns ENXIO once the buffers
		// are empty).
		return fmt.Errorf("%w: %v", errGone, err)
	}
	return err
}
