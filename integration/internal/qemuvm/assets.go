//go:build linux

// Package qemuvm boots tiny qemu guests for l2fabric's integration tests and
// runs shell commands in them over their serial console.
//
// A guest is a Debian cloud kernel with a busybox initramfs built in Go by
// [BuildInitramfs]. Its only NIC is a virtio-net device whose backend is
// qemu's `-netdev dgram` on unix datagram sockets: qemu binds
// [Config.LocalPath] and sends every frame the guest transmits, one frame per
// datagram, to [Config.RemotePath] (the switch under test); whatever is sent
// to LocalPath is delivered to the guest.
//
// The assets (qemu, busybox, the kernel and its modules) are installed by
// integration/setup.sh, run as root; [FindAssets] locates them, and
// [RequireAssets] skips a test without them (fails it under CI).
//
// Typical use in a test:
//
//	a := qemuvm.RequireAssets(t)
//	initrd, err := qemuvm.BuildInitramfs(a, t.TempDir())
//	...
//	g, err := qemuvm.Start(ctx, a, initrd, qemuvm.Config{
//		Name: "h1", MAC: "52:54:00:12:34:01", IP: "198.18.0.1/24",
//		LocalPath: dir + "/h1.sock", RemotePath: switchSocket,
//	})
//	...
//	defer g.Close()
//	out, code, err := g.Run(ctx, "ping -c1 -W1 198.18.0.2")
//
// Guests use addresses in 198.18.0.0/15 (RFC 2544); their only NIC is the
// datagram socket, so nothing they send can leave the machine.
//
// Under TCG a guest boots in about 2 s (3-4 s with three booting at once on
// 2 cores) and takes about 220 MB of host RSS, mostly qemu's translation
// cache.
package qemuvm

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
)

// DefaultCacheDir is where integration/setup.sh unpacks the guest kernel
// unless L2FABRIC_TEST_CACHE says otherwise.
const DefaultCacheDir = "/var/cache/l2fabric-test"

// CacheEnv names the environment variable that overrides [DefaultCacheDir].
const CacheEnv = "L2FABRIC_TEST_CACHE"

// AccelEnv names an environment variable that, when set to "kvm" or "tcg",
// forces qemu's accelerator instead of probing /dev/kvm.
const AccelEnv = "L2FABRIC_QEMU_ACCEL"

// SetupHint is the advice that errors about missing assets carry.
const SetupHint = "run `integration/setup.sh` as root (sudo bash integration/setup.sh) to install qemu, busybox and the guest kernel"

// Assets are the host files a guest is made of.
type Assets struct {
	// Kernel is the guest kernel image (boot/vmlinuz-* in the cache).
	Kernel string
	// ModulesDir is the kernel's lib/modules/<version> directory.
	ModulesDir string
	// Busybox is a statically linked busybox binary for the initramfs.
	Busybox string
	// QEMU is the qemu-system-x86_64 binary.
	QEMU string
}

// ErrAssetsMissing is wrapped by the error FindAssets returns when something
// is not installed.
var ErrAssetsMissing = errors.New("qemuvm: test assets missing")

// FindAssets locates the guest kernel and its modules in the cache directory
// (L2FABRIC_TEST_CACHE, else /var/cache/l2fabric-test), a static busybox at
// /bin/busybox and qemu-system-x86_64 in PATH. Its error wraps
// [ErrAssetsMissing] and tells to run integration/setup.sh as root.
func FindAssets() (Assets, error) {
	var a Assets
	var problems []string

	cache := os.Getenv(CacheEnv)
	if cache == "" {
		cache = DefaultCacheDir
	}
	kernels, _ := filepath.Glob(filepath.Join(cache, "boot", "vmlinuz-*"))
	sort.Strings(kernels)
	for i := len(kernels) - 1; i >= 0; i-- {
		k := kernels[i]
		ver := strings.TrimPrefix(filepath.Base(k), "vmlinuz-")
		md := filepath.Join(cache, "lib", "modules", ver)
		if fi, err := os.Stat(filepath.Join(md, "kernel")); err == nil && fi.IsDir() {
			a.Kernel, a.ModulesDir = k, md
			break
		}
	}
	if a.Kernel == "" {
		problems = append(problems, fmt.Sprintf("no guest kernel with modules under %s (boot/vmlinuz-<ver> and lib/modules/<ver>/kernel)", cache))
	}

	for _, bb := range []string{"/bin/busybox", "/usr/bin/busybox"} {
		if fi, err := os.Stat(bb); err == nil && fi.Mode().IsRegular() {
			a.Busybox = bb
			break
		}
	}
	if a.Busybox == "" {
		problems = append(problems, "no /bin/busybox (Debian package busybox-static)")
	} else if static, err := isStatic(a.Busybox); err != nil || !static {
		problems = append(problems, fmt.Sprintf("%s is not statically linked (install busybox-static)", a.Busybox))
		a.Busybox = ""
	}

	if q, err := exec.LookPath("qemu-system-x86_64"); err == nil {
		a.QEMU = q
	} else {
		problems = append(problems, "no qemu-system-x86_64 in PATH (Debian package qemu-system-x86)")
	}

	if len(problems) > 0 {
		return a, fmt.Errorf("%w: %s; %s", ErrAssetsMissing, strings.Join(problems, "; "), SetupHint)
	}
	return a, nil
}

// KVMUsable reports whether qemu should use KVM here: the CPU shows
// hardware virtualization (vmx or svm in /proc/cpuinfo), and /dev/kvm opens
// read-write, speaks the stable API and lets us create a VM. [AccelEnv]
// overrides it.
//
// The cpuinfo check matters: some sandboxes offer a /dev/kvm that passes the
// ioctl probe while the CPU flags show no vmx/svm, and there a guest under
// KVM took over 30 s to get out of the kernel decompressor, where TCG boots
// it in about 2 s.
func KVMUsable() bool {
	switch os.Getenv(AccelEnv) {
	case "kvm":
		return true
	case "tcg":
		return false
	}
	if !cpuHasVirt() {
		return false
	}
	f, err := os.OpenFile("/dev/kvm", os.O_RDWR|syscall.O_CLOEXEC, 0)
	if err != nil {
		return false
	}
	defer f.Close()
	const (
		kvmGetAPIVersion = 0xAE00
		kvmCreateVM      = 0xAE01
	)
	v, _, errno := syscall.Syscall(syscall.SYS_IOCTL, f.Fd(), kvmGetAPIVersion, 0)
	if errno != 0 || v != 12 {
		return false
	}
	vm, _, errno := syscall.Syscall(syscall.SYS_IOCTL, f.Fd(), kvmCreateVM, 0)
	if errno != 0 {
		return false
	}
	syscall.Close(int(vm))
	return true
}

// cpuHasVirt reports whether /proc/cpuinfo lists the vmx or svm flag.
func cpuHasVirt() bool {
	b, err := os.ReadFile("/proc/cpuinfo")
	if err != nil {
		return false
	}
	for _, line := range strings.Split(string(b), "\n") {
		k, v, ok := strings.Cut(line, ":")
		if !ok || strings.TrimSpace(k) != "flags" {
			continue
		}
		for _, f := range strings.Fields(v) {
			if f == "vmx" || f == "svm" {
				return true
			}
		}
		return false
	}
	return false
}
