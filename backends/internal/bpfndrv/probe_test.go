package bpfndrv

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"
)

// probeRecorder is a probeSystem whose devices are recorders; reads
// return the queued buffers, then nothing.
type probeRecorder struct {
	r       *recorder
	busy    int // devices /dev/bpf0... that are in use
	reads   [][]byte
	readErr error
	ndrvErr error
	opened  []string
	closed  int
	ndrv    []string
	waits   []time.Duration
}

type probeRecorderDevice struct {
	*recorder
	p *probeRecorder
}

func (p *probeRecorder) openBPF(path string) (probeDevice, error) {
	var n int
	fmt.Sscanf(path, "/dev/bpf%d", &n)
	if n < p.busy {
		return nil, syscall.EBUSY
	}
	p.opened = append(p.opened, path)
	return probeRecorderDevice{p.r, p}, nil
}

func (p *probeRecorder) openNDRV(ifname string) error {
	p.ndrv = append(p.ndrv, ifname)
	return p.ndrvErr
}

func (d probeRecorderDevice) readWithin(buf []byte, wait time.Duration) (int, error) {
	d.p.waits = append(d.p.waits, wait)
	if d.p.readErr != nil {
		return 0, d.p.readErr
	}
	if len(d.p.reads) == 0 {
		return 0, nil
	}
	n := copy(buf, d.p.reads[0])
	d.p.reads = d.p.reads[1:]
	return n, nil
}

func (d probeRecorderDevice) close() error { d.p.closed++; return nil }

// TestProbeSequence: the probe opens the first free device, configures it
// as a port does but without promiscuous mode (the filter before the
// interface), reads what comes, opens NDRV, and closes the device.
func TestProbeSequence(t *testing.T) {
	p := &probeRecorder{r: newRecorder(), busy: 2}
	var buf []byte
	buf = appendRecord(buf, 18, frame(60, 1), 60)
	buf = appendRecord(buf, 18, frame(342, 2), 342)
	p.reads = [][]byte{nil, buf}
	r := probe(context.Background(), p, "en0", time.Second)
	if r.Device != "/dev/bpf2" || r.OpenErr != nil || r.ConfigErr != nil || r.ReadErr != nil || r.NDRVErr != nil {
		t.Fatalf("report %+v", r)
	}
	if r.Asked != DefaultBufferSize || r.Granted != 1<<20 || r.Frames != 2 || r.Bytes != 402 || r.FilterLen == 0 {
		t.Errorf("report %+v", r)
	}
	prog, _ := FilterProgram(nil)
	want := []ioctlCall{
		{biocSBLEN, fmt.Sprintf("*%d", DefaultBufferSize)},
		{biocIMMEDIATE, "*1"},
		{biocSSEESENT, "*0"},
		{biocSETFNR, fmt.Sprintf("program of %d", len(prog))},
		{biocSETIF, "ifreq en0"},
		{biocGDLT, "get"},
		{biocSHDRCMPLT, "*1"},
		{biocGBLEN, "get"},
	}
	if !slices.Equal(p.r.calls, want) {
		t.Errorf("calls\n%v\nwant\n%v", p.r.calls, want)
	}
	if !slices.Equal(p.ndrv, []string{"en0"}) || p.closed != 1 || len(p.waits) != 2 {
		t.Errorf("ndrv %v, closed %d, reads %d", p.ndrv, p.closed, len(p.waits))
	}
}

// TestProbeQuietLink: with nothing to read the probe waits its time, in
// steps, and reports no frame without an error.
func TestProbeQuietLink(t *testing.T) {
	p := &probeRecorder{r: newRecorder()}
	r := probe(context.Background(), p, "en0", 300*time.Millisecond)
	if r.Frames != 0 || r.ReadErr != nil || r.ConfigErr != nil {
		t.Errorf("report %+v", r)
	}
	if len(p.waits) < 3 || slices.ContainsFunc(p.waits, func(d time.Duration) bool { return d > 100*time.Millisecond }) {
		t.Errorf("waits %v: want steps of at most 100ms", p.waits)
	}
	// An interrupted probe stops waiting and says so.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	p = &probeRecorder{r: newRecorder()}
	if r := probe(ctx, p, "en0", time.Hour); !errors.Is(r.ReadErr, context.Canceled) || p.closed != 1 {
		t.Errorf("interrupted: %+v, closed %d", r, p.closed)
	}
}

func TestProbeFailures(t *testing.T) {
	// No device at all.
	p := &probeRecorder{r: newRecorder()}
	none := func(string) (probeDevice, error) {
		return nil, &fs.PathError{Op: "open", Path: "/dev/bpf0", Err: syscall.EACCES}
	}
	r := probe(context.Background(), probeFunc{p, none}, "en0", time.Second)
	if !errors.Is(r.OpenErr, ErrNeedRoot) || len(p.r.calls) != 0 || len(p.ndrv) != 1 {
		t.Errorf("no permission: %+v", r)
	}
	// BIOCSETIF fails: the granted size is still reported, nothing is
	// read, NDRV is still tried, the device closed.
	p = &probeRecorder{r: newRecorder(), ndrvErr: syscall.EADDRNOTAVAIL}
	p.r.errs[biocSETIF] = syscall.ENXIO
	r = probe(context.Background(), p, "en9", time.Second)
	if r.ConfigErr == nil || !strings.Contains(r.ConfigErr.Error(), "BIOCSETIF: no such interface") || r.BufferStepFailed() {
		t.Errorf("BIOCSETIF: %+v", r)
	}
	if r.Granted != 1<<20 || len(p.waits) != 0 || r.NDRVErr == nil || p.closed != 1 {
		t.Errorf("BIOCSETIF: %+v, %d reads, closed %d", r, len(p.waits), p.closed)
	}
	// BIOCSBLEN fails.
	p = &probeRecorder{r: newRecorder()}
	p.r.errs[biocSBLEN] = syscall.EINVAL
	if r := probe(context.Background(), p, "en0", time.Second); !r.BufferStepFailed() || r.Granted != 0 {
		t.Errorf("BIOCSBLEN: %+v", r)
	}
	// A read fails, or returns garbage.
	p = &probeRecorder{r: newRecorder(), readErr: syscall.ENXIO}
	if r := probe(context.Background(), p, "en0", time.Second); !errors.Is(r.ReadErr, syscall.ENXIO) {
		t.Errorf("read: %+v", r)
	}
	p = &probeRecorder{r: newRecorder(), reads: [][]byte{{1, 2, 3}}}
	if r := probe(context.Background(), p, "en0", 10*time.Millisecond); !errors.Is(r.ReadErr, ErrMalformed) {
		t.Errorf("malformed: %+v", r)
	}
	// A bad name never reaches the kernel.
	p = &probeRecorder{r: newRecorder()}
	if r := probe(context.Background(), p, "en0123456789abcdef", time.Millisecond); r.OpenErr == nil || r.NDRVErr == nil || len(p.opened) != 0 || len(p.ndrv) != 0 {
		t.Errorf("bad name: %+v", r)
	}
}

// probeFunc is a probeRecorder with another openBPF.
type probeFunc struct {
	*probeRecorder
	open func(string) (probeDevice, error)
}

func (p probeFunc) openBPF(path string) (probeDevice, error) { return p.open(path) }
