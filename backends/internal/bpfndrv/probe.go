package bpfndrv

// What `l2fabric doctor` asks of BPF and NDRV on an interface, step by
// step, through the same configuration sequence a port uses
// (configureBPF), with a filter that admits broadcast and multicast and
// without promiscuous mode, so that the probe changes nothing on the
// interface.

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"
)

// ProbeReport is what Probe found.
type ProbeReport struct {
	// Device is the BPF device opened, e.g. /dev/bpf3; OpenErr why none
	// could be.
	Device  string
	OpenErr error
	// Asked and Granted are the buffer sizes asked for (BIOCSBLEN) and
	// granted (BIOCGBLEN); Granted is 0 when it could not be read.
	Asked, Granted int
	// FilterLen is the number of instructions of the filter installed.
	FilterLen int
	// ConfigErr is the failure of the configuration, naming the ioctl
	// (e.g. "BIOCSETIF: no such interface"); nil when it all worked.
	ConfigErr error
	// Frames and Bytes are what was captured within the wait; Waited is
	// how long the probe waited (Frames 0: nothing came).
	Frames, Bytes int
	Waited        time.Duration
	// ReadErr is the failure of a read, or of the records it returned.
	ReadErr error
	// NDRVErr is the failure of opening, binding and connecting a PF_NDRV
	// socket to the interface (tried whether BPF worked or not).
	NDRVErr error
}

// BufferStepFailed reports whether the configuration failed at the
// buffer size (BIOCSBLEN or BIOCGBLEN), rather than later.
func (r ProbeReport) BufferStepFailed() bool {
	return r.ConfigErr != nil && (strings.HasPrefix(r.ConfigErr.Error(), "BIOCSBLEN") || strings.HasPrefix(r.ConfigErr.Error(), "BIOCGBLEN"))
}

// probeSystem is the system calls a probe makes: the darwin glue issues
// them, tests record them.
type probeSystem interface {
	// openBPF opens a BPF device (EBUSY when it is in use).
	openBPF(path string) (probeDevice, error)
	// openNDRV opens a PF_NDRV socket, binds and connects it to ifname,
	// and closes it.
	openNDRV(ifname string) error
}

// probeDevice is an open BPF descriptor.
type probeDevice interface {
	bpfControl
	// readWithin waits at most d for captured frames and reads them
	// into buf, whose length is the granted size; 0 and no error when
	// nothing came.
	readWithin(buf []byte, d time.Duration) (int, error)
	close() error
}

// probe runs the steps on ifname, waiting at most wait (or until ctx
// ends) for a frame. Every descriptor it opens is closed before it
// returns.
func probe(ctx context.Context, sys probeSystem, ifname string, wait time.Duration) ProbeReport {
	var r ProbeReport
	ifr, err := newIfreq(ifname)
	if err != nil {
		r.OpenErr, r.NDRVErr = err, err
		return r
	}
	dev, path, err := openFirstFree(sys.openBPF)
	if err != nil {
		r.OpenErr = err
		r.NDRVErr = sys.openNDRV(ifname)
		return r
	}
	r.Device = path
	defer dev.close()
	prog, _ := FilterProgram(nil)
	r.FilterLen = len(prog)
	r.Asked = DefaultBufferSize
	r.Granted, r.ConfigErr = configureBPF(dev, &ifr, r.Asked, false, prog)
	if r.ConfigErr != nil && !r.BufferStepFailed() {
		// The buffer was granted before a later step failed.
		if g, err := dev.getInt(biocGBLEN); err == nil {
			r.Granted = g
		}
	}
	if r.ConfigErr == nil {
		r.Frames, r.Bytes, r.Waited, r.ReadErr = readSome(ctx, dev, r.Granted, wait)
	}
	r.NDRVErr = sys.openNDRV(ifname)
	return r
}

// readSome reads until at least one frame came or wait passed, in steps
// short enough to notice ctx ending.
func readSome(ctx context.Context, dev probeDevice, blen int, wait time.Duration) (frames, bytes int, waited time.Duration, err error) {
	const step = 100 * time.Millisecond
	buf := make([]byte, blen)
	start := time.Now()
	var rr RecordReader
	for waited < wait && ctx.Err() == nil {
		n, err := dev.readWithin(buf, min(step, wait-waited))
		waited = time.Since(start)
		if err != nil {
			return frames, bytes, waited, err
		}
		rr.Reset(buf[:n])
		for rr.Pending() {
			rec, err := rr.Next()
			if err != nil {
				return frames, bytes, waited, fmt.Errorf("the records read are malformed: %w", err)
			}
			frames++
			bytes += rec.WireLen
		}
		if frames > 0 {
			return frames, bytes, waited, nil
		}
	}
	if err := ctx.Err(); err != nil && !errors.Is(err, context.DeadlineExceeded) {
		return frames, bytes, waited, err
	}
	return frames, bytes, waited, nil
}
