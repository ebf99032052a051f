package doctor

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/l2fabric/l2fabric/backends/internal/bpfndrv"
	"github.com/l2fabric/l2fabric/backends/internal/iftype"
)

func TestEffectiveCaps(t *testing.T) {
	status := "Name:\tl2fabric\nCapInh:\t0000000000000000\nCapPrm:\t000001ffffffffff\nCapEff:\t0000000000003000\n"
	caps, err := effectiveCaps(status)
	if err != nil || caps != 0x3000 {
		t.Fatalf("effectiveCaps = %#x, %v", caps, err)
	}
	if r := capResult(caps, capNetRaw, "CAP_NET_RAW", "x"); r.Status != Pass || r.Name != "cap-net-raw" {
		t.Errorf("%+v", r)
	}
	if r := capResult(0x1000, capNetRaw, "CAP_NET_RAW", "x"); r.Status != Fail || !strings.Contains(r.Fix, "setcap") {
		t.Errorf("%+v", r)
	}
	for _, bad := range []string{"", "CapEff:\tzz\n"} {
		if _, err := effectiveCaps(bad); err == nil {
			t.Errorf("effectiveCaps(%q) succeeded", bad)
		}
	}
}

func TestDgramQlenResult(t *testing.T) {
	low, high := dgramQlenResult(10), dgramQlenResult(1024)
	if low.Status != Pass || !strings.Contains(low.Detail, "at most 11 datagrams") || !strings.Contains(low.Detail, "sysctl -w net.unix.max_dgram_qlen=512") {
		t.Errorf("10: %+v", low)
	}
	if high.Status != Pass || strings.Contains(high.Detail, "sysctl -w") {
		t.Errorf("1024: %+v", high)
	}
}

// statuses maps each result's name to its status.
func statuses(rs []Result) map[string]Status {
	m := map[string]Status{}
	for _, r := range rs {
		m[r.Name] = r.Status
	}
	return m
}

func TestBPFResults(t *testing.T) {
	ok := bpfndrv.ProbeReport{Device: "/dev/bpf3", Asked: 4 << 20, Granted: 512 << 10, FilterLen: 9, Frames: 2, Bytes: 402, Waited: 30 * time.Millisecond}
	rs := bpfResults("en0", ok)
	want := map[string]Status{"bpf-device": Pass, "bpf-buffer": Pass, "bpf-attach:en0": Pass, "bpf-capture:en0": Pass, "ndrv:en0": Pass}
	if got := statuses(rs); !mapsEqual(got, want) {
		t.Errorf("all fine: %v", got)
	}
	if !strings.Contains(rs[1].Detail, "granted 512 KiB (asked 4 MiB)") || !strings.Contains(rs[1].Detail, "debug.bpf_maxbufsize") {
		t.Errorf("buffer: %+v", rs[1])
	}

	quiet := ok
	quiet.Frames = 0
	if got := statuses(bpfResults("en0", quiet)); got["bpf-capture:en0"] != Skip {
		t.Errorf("quiet link: %v", got)
	}

	noRoot := bpfndrv.ProbeReport{OpenErr: fmt.Errorf("%w: opening /dev/bpf0", bpfndrv.ErrNeedRoot), NDRVErr: fmt.Errorf("%w: socket", bpfndrv.ErrNeedRoot)}
	rs = bpfResults("en0", noRoot)
	want = map[string]Status{"bpf-device": Fail, "bpf-buffer": Skip, "bpf-attach:en0": Skip, "bpf-capture:en0": Skip, "ndrv:en0": Fail}
	if got := statuses(rs); !mapsEqual(got, want) || !strings.Contains(rs[0].Fix, "sudo") {
		t.Errorf("no root: %v %+v", got, rs[0])
	}

	noIf := bpfndrv.ProbeReport{Device: "/dev/bpf0", Asked: 4 << 20, Granted: 4 << 20, FilterLen: 9,
		ConfigErr: fmt.Errorf("BIOCSETIF: no such interface (%w)", syscall.ENXIO), NDRVErr: errors.New("bind: no such interface")}
	rs = bpfResults("en9", noIf)
	want = map[string]Status{"bpf-device": Pass, "bpf-buffer": Pass, "bpf-attach:en9": Fail, "bpf-capture:en9": Skip, "ndrv:en9": Fail}
	if got := statuses(rs); !mapsEqual(got, want) || !strings.Contains(rs[2].Fix, "networksetup") {
		t.Errorf("no interface: %v", got)
	}

	blen := bpfndrv.ProbeReport{Device: "/dev/bpf0", Asked: 4 << 20, ConfigErr: fmt.Errorf("BIOCSBLEN: %w", syscall.EINVAL)}
	if got := statuses(bpfResults("en0", blen)); got["bpf-buffer"] != Fail || got["bpf-attach:en0"] != Skip {
		t.Errorf("BIOCSBLEN: %v", got)
	}

	interrupted := ok
	interrupted.Frames, interrupted.ReadErr = 0, context.Canceled
	if got := statuses(bpfResults("en0", interrupted)); got["bpf-capture:en0"] != Skip {
		t.Errorf("interrupted: %v", got)
	}

	readErr := ok
	readErr.ReadErr = syscall.EIO
	if got := statuses(bpfResults("en0", readErr)); got["bpf-capture:en0"] != Fail {
		t.Errorf("read error: %v", got)
	}
}

func mapsEqual(a, b map[string]Status) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

func TestSysctlResults(t *testing.T) {
	if r := bpfMaxBufResult(512 << 10); r.Status != Pass || !strings.Contains(r.Detail, "512 KiB buffers instead of 4 MiB") {
		t.Errorf("512 KiB: %+v", r)
	}
	if r := bpfMaxBufResult(32 << 20); r.Status != Pass || strings.Contains(r.Detail, "sysctl -w") {
		t.Errorf("32 MiB: %+v", r)
	}
	if r := msgxSysctlResult(256, 256); r.Status != Pass || !strings.Contains(r.Detail, "up to 64") {
		t.Errorf("256: %+v", r)
	}
	if r := msgxSysctlResult(16, 256); r.Status != Pass || !strings.Contains(r.Detail, "fewer than") {
		t.Errorf("16: %+v", r)
	}
	if r := msgxSysctlResult(0, 256); r.Status != Fail {
		t.Errorf("0: %+v", r)
	}
}

func TestWifiResult(t *testing.T) {
	for ft, want := range map[iftype.Functional]Status{iftype.Wired: Pass, iftype.WiFiInfra: Pass, iftype.WiFiAWDL: Fail, iftype.Loopback: Fail, iftype.Cellular: Fail, iftype.Unknown: Pass} {
		if r := wifiResult("en0", ft); r.Status != want || r.Name != "wifi:en0" {
			t.Errorf("type %d: %+v", ft, r)
		}
	}
	if r := wifiResult("en0", iftype.WiFiInfra); !strings.Contains(r.Detail, "Wi-Fi") || !strings.Contains(r.Detail, "MAC-NAT") {
		t.Errorf("Wi-Fi: %+v", r)
	}
}

func TestKernelFormat(t *testing.T) {
	image := make([]byte, 0x400)
	binary.LittleEndian.PutUint32(image[56:], 0x644d5241)
	bz := make([]byte, 0x400)
	copy(bz[0x202:], "HdrS")
	zboot := append([]byte("MZ\x00\x00zimg"), make([]byte, 64)...)
	for _, tc := range []struct {
		head   []byte
		format string
		arm64  Status
		amd64  Status
	}{
		{image, "arm64 Image", Pass, Fail},
		{[]byte{0x1f, 0x8b, 8, 0}, "gzip", Fail, Fail},
		{zboot, "EFI zboot", Fail, Fail},
		{bz, "x86 bzImage", Fail, Pass},
		{[]byte("\x7fELF\x02\x01"), "ELF", Fail, Pass},
		{nil, "unknown", Fail, Fail},
		{[]byte("#!/bin/sh"), "unknown", Fail, Fail},
	} {
		if f := kernelFormat(tc.head); f != tc.format {
			t.Errorf("kernelFormat = %q, want %q", f, tc.format)
		}
		if r := kernelResult("router", "/k", "arm64", tc.head); r.Status != tc.arm64 || r.Name != "vm-kernel:router" {
			t.Errorf("%s on arm64: %+v", tc.format, r)
		}
		if r := kernelResult("router", "/k", "amd64", tc.head); r.Status != tc.amd64 {
			t.Errorf("%s on amd64: %+v", tc.format, r)
		}
	}
	if r := kernelResult("router", "/k/vmlinuz", "arm64", []byte{0x1f, 0x8b}); !strings.Contains(r.Fix, "gunzip -c /k/vmlinuz > Image") {
		t.Errorf("gzip fix: %+v", r)
	}
}

// superBlob builds a code signature with the given (slot, blob) entries.
func superBlob(entries ...[]byte) []byte {
	be := binary.BigEndian
	head := make([]byte, 12+8*len(entries))
	be.PutUint32(head, csMagicEmbeddedSignature)
	be.PutUint32(head[8:], uint32(len(entries)))
	var body []byte
	for i, e := range entries {
		slot := be.Uint32(e)
		be.PutUint32(head[12+8*i:], slot)
		be.PutUint32(head[16+8*i:], uint32(len(head)+len(body)))
		body = append(body, e[4:]...)
	}
	sig := append(head, body...)
	be.PutUint32(sig[4:], uint32(len(sig)))
	return sig
}

// entry is a (slot, blob) entry with a blob of magic and payload.
func entry(slot, magic uint32, payload []byte) []byte {
	b := binary.BigEndian.AppendUint32(nil, slot)
	b = binary.BigEndian.AppendUint32(b, magic)
	b = binary.BigEndian.AppendUint32(b, uint32(8+len(payload)))
	return append(b, payload...)
}

func TestSignatureEntitlements(t *testing.T) {
	ents, err := os.ReadFile("../vm/vz.entitlements")
	if err != nil {
		t.Fatal(err)
	}
	sig := superBlob(entry(0, 0xfade0c02, []byte("code directory")), entry(csSlotEntitlements, csMagicEmbeddedEntitle, ents))
	xml, err := signatureEntitlements(sig)
	if err != nil || string(xml) != string(ents) {
		t.Fatalf("entitlements = %q, %v", xml, err)
	}
	if r := entitlementResult("/usr/local/bin/l2fabric", xml, nil); r.Status != Pass {
		t.Errorf("the repository's entitlements: %+v", r)
	}
	other := []byte(`<plist><dict><key>com.apple.security.virtualization</key><false/><key>com.apple.security.network.client</key><true/></dict></plist>`)
	if r := entitlementResult("/l2fabric", other, nil); r.Status != Fail || !strings.Contains(r.Fix, "codesign --entitlements backends/vm/vz.entitlements") {
		t.Errorf("false: %+v", r)
	}
	if _, err := signatureEntitlements(superBlob(entry(0, 0xfade0c02, []byte("cd")))); !errors.Is(err, errNotSigned) {
		t.Errorf("no entitlements slot: %v", err)
	}
	if r := entitlementResult("/l2fabric", nil, errNotSigned); r.Status != Fail || !strings.Contains(r.Detail, "not signed") {
		t.Errorf("unsigned: %+v", r)
	}
	for _, bad := range [][]byte{nil, []byte("garbage garbage"), superBlob(entry(csSlotEntitlements, 0x12345678, []byte("x")))} {
		if _, err := signatureEntitlements(bad); err == nil {
			t.Errorf("signatureEntitlements(%q) succeeded", bad)
		}
	}
	// An index that claims more entries than there are bytes.
	huge := superBlob()
	binary.BigEndian.PutUint32(huge[8:], 1<<30)
	if _, err := signatureEntitlements(huge); err == nil {
		t.Error("a huge index was accepted")
	}
}

// TestMachoEntitlements reads a real darwin/arm64 binary, which Go's
// linker signs ad hoc, without entitlements.
func TestMachoEntitlements(t *testing.T) {
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go command")
	}
	dir := t.TempDir()
	src := filepath.Join(dir, "main.go")
	os.WriteFile(src, []byte("package main\nfunc main() {}\n"), 0o644)
	out := filepath.Join(dir, "hello")
	cmd := exec.Command(goBin, "build", "-o", out, src)
	cmd.Env = append(os.Environ(), "GOOS=darwin", "GOARCH=arm64", "CGO_ENABLED=0", "GOFLAGS=")
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("building for darwin/arm64: %v\n%s", err, b)
	}
	f, err := os.Open(out)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := machoEntitlements(f); !errors.Is(err, errNotSigned) {
		t.Errorf("an ad hoc signed binary: %v, want errNotSigned", err)
	}
	self, _ := os.Open(os.Args[0])
	defer self.Close()
	if _, err := machoEntitlements(self); err == nil || errors.Is(err, fs.ErrNotExist) {
		t.Errorf("a %s binary: %v, want a format error", "non-Mach-O", err)
	}
}

// loopPair is a msgxPair over a queue: sendX takes at most perCall
// datagrams per call, recvX hands them back, at most perCall per call;
// corrupt shortens the third.
type loopPair struct {
	queue   [][]byte
	perCall int
	corrupt bool
	sendErr error
}

func (p *loopPair) sendX(bufs [][]byte) (int, error) {
	if p.sendErr != nil {
		return 0, p.sendErr
	}
	n := min(len(bufs), p.perCall)
	for _, b := range bufs[:n] {
		p.queue = append(p.queue, slices.Clone(b))
	}
	return n, nil
}

func (p *loopPair) recvX(bufs [][]byte, sizes []int) (int, error) {
	n := min(len(bufs), len(p.queue), p.perCall)
	if n == 0 {
		return 0, syscall.EAGAIN
	}
	for i := range n {
		d := p.queue[0]
		p.queue = p.queue[1:]
		if p.corrupt && len(d) == 260 {
			d = d[:10]
		}
		sizes[i] = copy(bufs[i], d)
	}
	return n, nil
}

func TestMsgxRoundTrip(t *testing.T) {
	if r := msgxRoundTrip(&loopPair{perCall: 64}); r.Status != Pass || !strings.Contains(r.Detail, "1 sendmsg_x and 1 recvmsg_x") {
		t.Errorf("one batch: %+v", r)
	}
	if r := msgxRoundTrip(&loopPair{perCall: 3}); r.Status != Pass || !strings.Contains(r.Detail, "3 sendmsg_x and 3 recvmsg_x") {
		t.Errorf("batches of 3: %+v", r)
	}
	if r := msgxRoundTrip(&loopPair{perCall: 64, corrupt: true}); r.Status != Fail || !strings.Contains(r.Detail, "datagram 2") {
		t.Errorf("corrupt: %+v", r)
	}
	if r := msgxRoundTrip(&loopPair{perCall: 64, sendErr: syscall.ENOSYS}); r.Status != Fail {
		t.Errorf("ENOSYS: %+v", r)
	}
	if r := msgxRoundTrip(&loopPair{perCall: 0}); r.Status != Fail {
		t.Errorf("nothing taken: %+v", r)
	}
}
