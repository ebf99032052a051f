package doctor

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime"
	"strconv"
	"strings"
	"time"
	"unsafe"

	"github.com/hashicorp/go-hclog"
	"golang.org/x/sys/unix"

	"github.com/l2fabric/l2fabric/backends/feth"
	"github.com/l2fabric/l2fabric/backends/internal/bpfndrv"
	"github.com/l2fabric/l2fabric/backends/internal/iftype"
	"github.com/l2fabric/l2fabric/backends/vm"
)

// Defaults returns the arguments doctor checks a kind with when no spec
// names one: host ports on en0, which nearly every Mac has.
func Defaults() map[string]string { return map[string]string{"host": "en0"} }

// captureWait is how long the BPF check waits for a frame.
const captureWait = 3 * time.Second

// ChecksFor returns the checks a port of target's kind relies on.
func ChecksFor(t Target) []Check {
	switch t.Kind {
	case "host":
		return []Check{bpfCheck(t.Arg), wifiCheck(t.Arg), bpfMaxBufCheck()}
	case "feth":
		return []Check{fethCheck(t.Arg)}
	case "dgram":
		return []Check{msgxSysctlCheck(), msgxRoundTripCheck()}
	case "vm":
		return []Check{vzCheck(), entitlementCheck(), vmFilesCheck(t.Arg)}
	}
	return nil
}

// bpfCheck probes BPF and NDRV on ifname as a host port uses them.
func bpfCheck(ifname string) Check {
	return Check{Name: "bpf:" + ifname, Run: func(ctx context.Context) []Result {
		return bpfResults(ifname, bpfndrv.Probe(ctx, ifname, captureWait))
	}}
}

// wifiCheck asks the kernel for ifname's functional type.
func wifiCheck(ifname string) Check {
	name := "wifi:" + ifname
	return Check{Name: name, Run: func(context.Context) []Result {
		ft, err := iftype.Query(ifname)
		if err != nil {
			return []Result{skip(name, "SIOCGIFFUNCTIONALTYPE on "+ifname+": "+err.Error())}
		}
		return []Result{wifiResult(ifname, ft)}
	}}
}

// bpfMaxBufCheck reads debug.bpf_maxbufsize.
func bpfMaxBufCheck() Check {
	const name = "sysctl-bpf-maxbufsize"
	return Check{Name: name, Run: func(context.Context) []Result {
		v, err := unix.SysctlUint32("debug.bpf_maxbufsize")
		if err != nil {
			return []Result{skip(name, "reading debug.bpf_maxbufsize: "+err.Error())}
		}
		return []Result{bpfMaxBufResult(int(v))}
	}}
}

// fethCheck makes, bridges and destroys a throwaway feth pair.
func fethCheck(bridge string) Check {
	name := "feth-pair:" + bridge
	if bridge == "" {
		name = "feth-pair"
	}
	return Check{Name: name, Run: func(ctx context.Context) []Result {
		if bridge == "" {
			return []Result{skip(name, "no feth:BRIDGE given: name the bridge to check a feth pair in it")}
		}
		got, err := feth.Probe(ctx, bridge, hclog.NewNullLogger())
		if errors.Is(err, context.Canceled) {
			return []Result{skip(name, "interrupted")}
		}
		if err != nil {
			fix := "create the bridge first: sudo ifconfig " + bridge + " create up (docs/macos.md, section 4)"
			if os.Geteuid() != 0 {
				fix = "run doctor (and l2fabric) as root: sudo"
			}
			return []Result{fail(name, "a throwaway feth pair in "+bridge+": "+err.Error(), fix)}
		}
		return []Result{pass(name, got)}
	}}
}

// msgxSysctlCheck reads kern.ipc.maxsendmsgx and maxrecvmsgx.
func msgxSysctlCheck() Check {
	const name = "sysctl-msgx"
	return Check{Name: name, Run: func(context.Context) []Result {
		send, err := unix.SysctlUint32("kern.ipc.maxsendmsgx")
		if err != nil {
			return []Result{skip(name, "reading kern.ipc.maxsendmsgx: "+err.Error())}
		}
		recv, err := unix.SysctlUint32("kern.ipc.maxrecvmsgx")
		if err != nil {
			return []Result{skip(name, "reading kern.ipc.maxrecvmsgx: "+err.Error())}
		}
		return []Result{msgxSysctlResult(int(send), int(recv))}
	}}
}

// msgxRoundTripCheck moves datagrams through a socketpair with
// sendmsg_x and recvmsg_x.
func msgxRoundTripCheck() Check {
	const name = "msgx-roundtrip"
	return Check{Name: name, Run: func(context.Context) []Result {
		fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_DGRAM, 0)
		if err != nil {
			return []Result{fail(name, "socketpair: "+err.Error(), "report this, with the output of doctor")}
		}
		defer unix.Close(fds[0])
		defer unix.Close(fds[1])
		// A bounded wait, should the datagrams never arrive.
		tv := unix.NsecToTimeval(int64(time.Second))
		unix.SetsockoptTimeval(fds[1], unix.SOL_SOCKET, unix.SO_RCVTIMEO, &tv)
		return []Result{msgxRoundTrip(darwinMsgx{send: fds[0], recv: fds[1]})}
	}}
}

// msghdrX is struct msghdr_x: struct msghdr and size_t msg_datalen.
type msghdrX struct {
	hdr     unix.Msghdr
	datalen uint64
}

// darwinMsgx issues sendmsg_x and recvmsg_x on a socketpair.
type darwinMsgx struct{ send, recv int }

func (p darwinMsgx) sendX(bufs [][]byte) (int, error) {
	n, _, err := msgx(unix.SYS_SENDMSG_X, p.send, bufs)
	return n, err
}

func (p darwinMsgx) recvX(bufs [][]byte, sizes []int) (int, error) {
	n, hdrs, err := msgx(unix.SYS_RECVMSG_X, p.recv, bufs)
	for i := 0; i < n; i++ {
		sizes[i] = int(hdrs[i].datalen)
	}
	return n, err
}

// msgx issues sendmsg_x or recvmsg_x (trap) on fd with one msghdr_x per
// buffer, and returns how many datagrams it moved and the headers.
func msgx(trap uintptr, fd int, bufs [][]byte) (int, []msghdrX, error) {
	hdrs := make([]msghdrX, len(bufs))
	iovs := make([]unix.Iovec, len(bufs))
	for i, b := range bufs {
		iovs[i].Base = &b[0]
		iovs[i].SetLen(len(b))
		hdrs[i].hdr.Iov = &iovs[i]
		hdrs[i].hdr.SetIovlen(1)
	}
	r, _, errno := unix.Syscall6(trap, uintptr(fd), uintptr(unsafe.Pointer(&hdrs[0])), uintptr(len(hdrs)), 0, 0, 0)
	runtime.KeepAlive(bufs)
	runtime.KeepAlive(iovs)
	if errno != 0 {
		return 0, nil, errno
	}
	return int(r), hdrs, nil
}

// vzCheck checks that this binary can use Virtualization.framework: built
// with cgo, on a macOS that has the framework.
func vzCheck() Check {
	const name = "vz"
	return Check{Name: name, Run: func(context.Context) []Result {
		if !builtWithVZ {
			return []Result{fail(name, "this l2fabric was built without cgo, so without Virtualization.framework: vm: ports cannot start",
				"build it on a Mac with CGO_ENABLED=1 and sign it (docs/release.md), or install it with Homebrew")}
		}
		const framework = "/System/Library/Frameworks/Virtualization.framework"
		if _, err := os.Stat(framework); err != nil {
			return []Result{fail(name, framework+" is missing: this macOS has no Virtualization.framework", "macOS 11 or later (13 for NIC MTUs above 1500)")}
		}
		ver, _ := unix.Sysctl("kern.osproductversion")
		major, _ := strconv.Atoi(strings.SplitN(ver, ".", 2)[0])
		if major != 0 && major < 11 {
			return []Result{fail(name, "macOS "+ver+" is older than 11, the first with what l2fabric uses of Virtualization.framework", "macOS 11 or later")}
		}
		detail := "built with cgo; " + framework + " is there (macOS " + ver + ")"
		if major != 0 && major < 13 {
			detail += "; NIC MTUs above 1500 need macOS 13"
		}
		return []Result{pass(name, detail)}
	}}
}

// entitlementCheck reads the running binary's code signature.
func entitlementCheck() Check {
	return Check{Name: "vz-entitlement", Run: func(context.Context) []Result {
		path, err := os.Executable()
		if err != nil {
			return []Result{skip("vz-entitlement", "finding this binary: "+err.Error())}
		}
		f, err := os.Open(path)
		if err != nil {
			return []Result{entitlementResult(path, nil, err)}
		}
		defer f.Close()
		xml, err := machoEntitlements(f)
		return []Result{entitlementResult(path, xml, err)}
	}}
}

// vmFilesCheck finds VM name's definition and checks that its kernel and
// initrd can be read, and the kernel's format.
func vmFilesCheck(name string) Check {
	check := "vm-files:" + name
	if name == "" {
		check = "vm-files"
	}
	return Check{Name: check, Run: func(context.Context) []Result {
		if name == "" {
			return []Result{skip(check, "no vm:NAME given: name a VM to check its kernel and initrd")}
		}
		def, err := vm.NewCatalog().Lookup(name)
		if err != nil {
			fix := "define it: sudo l2fabric vm create " + name + " --kernel PATH ... (docs/macos.md, section 3)"
			if errors.Is(err, vm.ErrNotFound) {
				return []Result{fail(check, err.Error(), fix)}
			}
			return []Result{fail(check, "the definition of "+name+": "+err.Error(), "correct the definition the error names")}
		}
		var out []Result
		var head []byte
		for _, f := range []struct{ what, path string }{{"kernel", def.Kernel}, {"initrd", def.Initrd}} {
			if f.path == "" {
				continue
			}
			b, err := readHead(f.path, 0x400)
			if err != nil {
				return append(out, fail(check, fmt.Sprintf("the %s of %s: %v", f.what, name, err), "give a readable file ("+def.Source+")"))
			}
			if f.what == "kernel" {
				head = b
			}
		}
		out = append(out, pass(check, fmt.Sprintf("the kernel %s and initrd %q of %s (%s) are readable", def.Kernel, def.Initrd, name, def.Source)))
		return append(out, kernelResult(name, def.Kernel, runtime.GOARCH, head))
	}}
}

// readHead reads up to n bytes from the start of path.
func readHead(path string, n int) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b := make([]byte, n)
	m, err := io.ReadFull(f, b)
	if err != nil && !errors.Is(err, io.ErrUnexpectedEOF) {
		return nil, err
	}
	return b[:m], nil
}
