package bpfndrv

import (
	"errors"
	"fmt"
	"io/fs"
	"slices"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"

	"golang.org/x/net/bpf"
)

// ioctlCall is one ioctl a recorder saw.
type ioctlCall struct {
	req uint32
	arg string
}

// recorder is a bpfControl that records the calls and answers from a
// table.
type recorder struct {
	calls  []ioctlCall
	ints   map[uint32]int   // getInt answers
	errs   map[uint32]error // failures
	prog   []bpf.RawInstruction
	ifname string
}

func (r *recorder) add(req uint32, arg string) error {
	r.calls = append(r.calls, ioctlCall{req, arg})
	return r.errs[req]
}

func (r *recorder) setPointerInt(req uint32, v int) error {
	return r.add(req, fmt.Sprintf("*%d", v))
}

func (r *recorder) setInt(req uint32, v int) error { return r.add(req, fmt.Sprint(v)) }

func (r *recorder) getInt(req uint32) (int, error) {
	err := r.add(req, "get")
	return r.ints[req], err
}

func (r *recorder) setIfreq(req uint32, ifr *ifreq) error {
	r.ifname = strings.TrimRight(string(ifr.Name[:]), "\x00")
	return r.add(req, "ifreq "+r.ifname)
}

func (r *recorder) setProgram(req uint32, prog []bpf.RawInstruction) error {
	r.prog = prog
	return r.add(req, fmt.Sprintf("program of %d", len(prog)))
}

func newRecorder() *recorder {
	return &recorder{ints: map[uint32]int{biocGBLEN: 1 << 20, biocGDLT: dltEN10MB}, errs: map[uint32]error{}}
}

// TestConfigureBPFSequence pins the order xnu's bpf.c requires: the buffer
// size first (it fails once an interface is attached), the filter before
// the interface, promiscuous mode after it, the granted size read back.
func TestConfigureBPFSequence(t *testing.T) {
	prog, _ := FilterProgram(nil)
	ifr, _ := newIfreq("en7")
	for _, promisc := range []bool{true, false} {
		r := newRecorder()
		blen, err := configureBPF(r, &ifr, 4<<20, promisc, prog)
		if err != nil {
			t.Fatal(err)
		}
		if blen != 1<<20 {
			t.Errorf("granted %d, want what BIOCGBLEN said", blen)
		}
		want := []ioctlCall{
			{biocSBLEN, "*4194304"},
			{biocIMMEDIATE, "*1"},
			{biocSSEESENT, "*0"},
			{biocSETFNR, fmt.Sprintf("program of %d", len(prog))},
			{biocSETIF, "ifreq en7"},
			{biocGDLT, "get"},
			{biocSHDRCMPLT, "*1"},
		}
		if promisc {
			want = append(want, ioctlCall{biocPROMISC, "0"})
		}
		want = append(want, ioctlCall{biocGBLEN, "get"})
		if !slices.Equal(r.calls, want) {
			t.Errorf("promisc %v: calls\n%v\nwant\n%v", promisc, r.calls, want)
		}
		if !slices.Equal(r.prog, prog) {
			t.Error("the filter set is not the one given")
		}
	}
}

// TestConfigureBPFNeverCapturesUnfiltered replays the configuration
// against what xnu does with it: from BIOCSETIF on, the descriptor
// captures every frame its filter admits, and with no filter that is
// every frame (promiscuously, once BIOCPROMISC is on); BIOCSETFNR keeps
// what was captured. A frame for another host must never be captured.
func TestConfigureBPFNeverCapturesUnfiltered(t *testing.T) {
	prog, _ := FilterProgram(nil) // broadcast and multicast only
	ifr, _ := newIfreq("en7")
	r := newRecorder()
	if _, err := configureBPF(r, &ifr, 1<<20, true, prog); err != nil {
		t.Fatal(err)
	}
	otherHost := []byte{0x02, 0, 0, 0, 0, 0x99, 0x02, 0, 0, 0, 0, 0x42, 0x08, 0x00}
	var attached, filtered bool
	for _, c := range r.calls {
		switch c.req {
		case biocSETIF:
			attached = true
		case biocSETF, biocSETFNR:
			filtered = true
		}
		// Between any two ioctls a frame may arrive.
		if attached && !filtered {
			t.Fatalf("after %v the descriptor is attached with no filter: it would capture %x, a frame for another host", c, otherHost[:6])
		}
	}
	if !attached || !filtered {
		t.Fatalf("attached %v, filtered %v: want both", attached, filtered)
	}
	vm, err := bpf.NewVM(bpfInstructions(t, prog))
	if err != nil {
		t.Fatal(err)
	}
	if n, err := vm.Run(otherHost); err != nil || n != 0 {
		t.Errorf("the filter installed admits a frame for another host: %d, %v", n, err)
	}
}

// bpfInstructions disassembles a raw program for bpf.NewVM.
func bpfInstructions(t *testing.T, prog []bpf.RawInstruction) []bpf.Instruction {
	t.Helper()
	insns, ok := bpf.Disassemble(prog)
	if !ok {
		t.Fatal("the filter does not disassemble")
	}
	return insns
}

func TestConfigureBPFErrors(t *testing.T) {
	prog, _ := FilterProgram(nil)
	ifr, _ := newIfreq("en7")
	r := newRecorder()
	r.errs[biocSETIF] = syscall.ENXIO
	if _, err := configureBPF(r, &ifr, 1<<20, true, prog); err == nil || !strings.Contains(err.Error(), "no such interface") {
		t.Errorf("BIOCSETIF ENXIO: %v", err)
	}
	r = newRecorder()
	r.ints[biocGDLT] = 12 // DLT_RAW
	if _, err := configureBPF(r, &ifr, 1<<20, true, prog); err == nil || !strings.Contains(err.Error(), "not an Ethernet") {
		t.Errorf("non-Ethernet DLT: %v", err)
	}
	r = newRecorder()
	if _, err := configureBPF(r, &ifr, 1<<20, true, nil); err == nil {
		t.Error("an empty filter was accepted")
	}
	if slices.ContainsFunc(r.calls, func(c ioctlCall) bool { return c.req == biocSETFNR }) {
		t.Error("an invalid filter reached the kernel")
	}
	r = newRecorder()
	r.ints[biocGBLEN] = 0
	if _, err := configureBPF(r, &ifr, 1<<20, true, prog); err == nil {
		t.Error("a zero granted size was accepted")
	}
	r = newRecorder()
	r.errs[biocSBLEN] = syscall.EINVAL
	if _, err := configureBPF(r, &ifr, 1<<20, true, prog); !errors.Is(err, syscall.EINVAL) || !strings.HasPrefix(err.Error(), "BIOCSBLEN") {
		t.Errorf("BIOCSBLEN failure: %v", err)
	}
	if len(r.calls) != 1 {
		t.Errorf("%d ioctls after the first failed", len(r.calls)-1)
	}
}

func TestBufferSize(t *testing.T) {
	for _, tc := range []struct{ in, want int }{
		{0, 4 << 20}, {1, 32}, {1 << 20, 1 << 20}, {64 << 20, 32 << 20},
	} {
		if got, err := bufferSize(tc.in); err != nil || got != tc.want {
			t.Errorf("bufferSize(%d) = %d, %v, want %d", tc.in, got, err, tc.want)
		}
	}
	if _, err := bufferSize(-1); err == nil {
		t.Error("a negative size was accepted")
	}
}

func TestOpenFirstFree(t *testing.T) {
	// fakeDevs answers open with busy for the first busy devices, then
	// success; devices from exist on do not exist.
	fakeDevs := func(busy, exist int, other error) func(string) (string, error) {
		return func(path string) (string, error) {
			var n int
			fmt.Sscanf(path, "/dev/bpf%d", &n)
			switch {
			case n >= exist:
				return "", &fs.PathError{Op: "open", Path: path, Err: syscall.ENOENT}
			case other != nil:
				return "", other
			case n < busy:
				return "", syscall.EBUSY
			}
			return path, nil
		}
	}
	f, path, err := openFirstFree(fakeDevs(3, 10, nil))
	if err != nil || f != "/dev/bpf3" || path != "/dev/bpf3" {
		t.Errorf("got %q %q %v, want /dev/bpf3", f, path, err)
	}
	if _, _, err := openFirstFree(fakeDevs(0, 10, nil)); err != nil {
		t.Error(err)
	}
	if _, _, err := openFirstFree(fakeDevs(5, 5, nil)); err == nil || !strings.Contains(err.Error(), "/dev/bpf0 to /dev/bpf4 are all in use") {
		t.Errorf("all busy: %v", err)
	}
	if _, _, err := openFirstFree(fakeDevs(0, 0, nil)); err == nil || !strings.Contains(err.Error(), "no BPF devices") {
		t.Errorf("none: %v", err)
	}
	for _, perm := range []error{syscall.EACCES, syscall.EPERM} {
		_, _, err := openFirstFree(fakeDevs(0, 10, perm))
		if !errors.Is(err, ErrNeedRoot) || !strings.Contains(err.Error(), "l2fabric needs root for BPF and NDRV") {
			t.Errorf("%v: %v", perm, err)
		}
	}
	if _, _, err := openFirstFree(fakeDevs(0, 10, syscall.EIO)); err == nil || errors.Is(err, ErrNeedRoot) {
		t.Errorf("EIO: %v", err)
	}
	if _, _, err := openFirstFree(func(string) (int, error) { return 0, syscall.EBUSY }); err == nil {
		t.Error("endless busy devices: no error")
	}
}

func TestRootError(t *testing.T) {
	err := rootError("socket(PF_NDRV)", syscall.EPERM)
	if !errors.Is(err, ErrNeedRoot) || !strings.Contains(err.Error(), "socket(PF_NDRV)") {
		t.Errorf("EPERM: %v", err)
	}
	if err := rootError("x", syscall.EINVAL); errors.Is(err, ErrNeedRoot) || !errors.Is(err, syscall.EINVAL) {
		t.Errorf("EINVAL: %v", err)
	}
}

func TestErrnoClassification(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want error
	}{
		{syscall.ENOBUFS, errAgain},
		{syscall.EAGAIN, errAgain},
		{syscall.EINTR, errAgain},
		{syscall.ENETDOWN, errDown},
		{syscall.ENXIO, errGone},
		{syscall.EPIPE, errGone},
		{syscall.ENOTCONN, errGone},
		{fmt.Errorf("write: %w", syscall.EPIPE), errGone},
	} {
		if got := sendError(tc.err); !errors.Is(got, tc.want) {
			t.Errorf("sendError(%v) = %v, want %v", tc.err, got, tc.want)
		}
	}
	for _, e := range []error{syscall.EMSGSIZE, syscall.EINVAL, errors.New("other")} {
		got := sendError(e)
		if errors.Is(got, errAgain) || errors.Is(got, errDown) || errors.Is(got, errGone) || !errors.Is(got, e) {
			t.Errorf("sendError(%v) = %v, want it as is", e, got)
		}
	}
	if sendError(nil) != nil {
		t.Error("sendError(nil) != nil")
	}
	if !errors.Is(readError(syscall.ENXIO), errGone) {
		t.Error("a read's ENXIO is not errGone")
	}
	if got := readError(syscall.EINVAL); errors.Is(got, errGone) || !errors.Is(got, syscall.EINVAL) {
		t.Errorf("readError(EINVAL) = %v", got)
	}
}

func TestReadWaiting(t *testing.T) {
	var closed atomic.Bool
	results := []error{syscall.EAGAIN, syscall.EINTR, nil, nil}
	ns := []int{0, 0, 0, 42}
	calls, waits := 0, 0
	tryRead := func() (int, error) {
		i := calls
		calls++
		return ns[i], results[i]
	}
	wait := func() error { waits++; return nil }
	if n, err := readWaiting(&closed, tryRead, wait); n != 42 || err != nil {
		t.Fatalf("readWaiting = %d, %v", n, err)
	}
	if calls != 4 || waits != 2 {
		t.Errorf("%d reads, %d waits; want 4 reads, 2 waits (none after EINTR)", calls, waits)
	}

	if _, err := readWaiting(&closed, func() (int, error) { return 0, syscall.ENXIO }, wait); !errors.Is(err, errGone) {
		t.Errorf("ENXIO: %v, want errGone", err)
	}
	if _, err := readWaiting(&closed, func() (int, error) { return 0, errClosed }, wait); !errors.Is(err, errClosed) {
		t.Errorf("closed descriptor: %v", err)
	}
	again := func() (int, error) { return 0, syscall.EAGAIN }
	if _, err := readWaiting(&closed, again, func() error { return errClosed }); !errors.Is(err, errClosed) {
		t.Errorf("closed while waiting: %v", err)
	}
	if _, err := readWaiting(&closed, again, func() error { return syscall.EBADF }); !errors.Is(err, syscall.EBADF) || !strings.Contains(err.Error(), "waiting for BPF") {
		t.Errorf("wait failure: %v", err)
	}
	// Closing wakes the wait; the next round sees the flag.
	woken := 0
	if _, err := readWaiting(&closed, again, func() error { woken++; closed.Store(true); return nil }); !errors.Is(err, errClosed) || woken != 1 {
		t.Errorf("closed: %v after %d waits", err, woken)
	}
}
