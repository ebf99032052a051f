//go:build linux

package qemuvm

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"debug/elf"
	_ "embed"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
)

//go:embed init.sh
var initScript []byte

// InitramfsModules are the kernel modules (by name) that BuildInitramfs puts
// in the initramfs, with everything they depend on, and /init loads in
// dependency order: the NIC driver and both virtio transports (mmio for
// -M microvm, pci for -M pc/q35). A module that the kernel has built in, or
// a transport the kernel lacks, is skipped; virtio_net must be there.
var InitramfsModules = []string{"virtio_mmio", "virtio_pci", "virtio_net"}

// InitramfsName is the file name BuildInitramfs writes in its directory.
const InitramfsName = "initramfs.cpio"

// InitramfsOptions adds host programs to the image built by
// [BuildInitramfsWith].
type InitramfsOptions struct {
	// Binaries are host executables, absolute paths or names looked up in
	// PATH (e.g. "iperf3", "tcpdump"), copied into the guest at their host
	// path together with the dynamic loader and every shared library they
	// need (found through DT_NEEDED in the usual Debian library
	// directories). Each adds its libraries' size to the image, and so to
	// boot time: add only what a test uses.
	Binaries []string
}

// BuildInitramfs writes dir/initramfs.cpio, an uncompressed newc cpio archive
// made in Go (no external cpio tool) holding a.Busybox as /bin/busybox with a
// symlink for each of its applets, the modules in [InitramfsModules] and
// their dependencies (resolved from modules.dep when the kernel package ships
// one, else from each module's .modinfo "depends="), and the /init that
// [Start] expects. It returns the archive's path. dir is created if needed.
//
// Modules may be .ko or .ko.gz (decompressed here with the standard library);
// .ko.xz and .ko.zst are refused because no decompressor for them is
// available without a new dependency (Debian 12's kernels ship plain .ko).
func BuildInitramfs(a Assets, dir string) (string, error) {
	return BuildInitramfsWith(a, dir, InitramfsOptions{})
}

// BuildInitramfsWith is [BuildInitramfs] plus what opt adds.
func BuildInitramfsWith(a Assets, dir string, opt InitramfsOptions) (string, error) {
	if a.Busybox == "" || a.ModulesDir == "" {
		return "", fmt.Errorf("%w: Assets has no busybox or modules directory; %s", ErrAssetsMissing, SetupHint)
	}
	bb, err := os.ReadFile(a.Busybox)
	if err != nil {
		return "", fmt.Errorf("qemuvm: read busybox: %w", err)
	}
	applets, err := busyboxApplets(a.Busybox)
	if err != nil {
		return "", err
	}
	mods, err := resolveModules(a.ModulesDir, InitramfsModules)
	if err != nil {
		return "", err
	}
	kver := filepath.Base(a.ModulesDir)
	extra, err := collectBinaries(opt.Binaries)
	if err != nil {
		return "", err
	}

	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", fmt.Errorf("qemuvm: %w", err)
	}
	out := filepath.Join(dir, InitramfsName)
	tmp, err := os.CreateTemp(dir, ".initramfs-*")
	if err != nil {
		return "", fmt.Errorf("qemuvm: %w", err)
	}
	defer os.Remove(tmp.Name()) // no-op after the rename

	c := newCPIOWriter(tmp)
	for _, d := range []string{"bin", "sbin", "usr/bin", "usr/sbin", "dev", "proc", "sys", "tmp", "run", "root", "etc", "var/run", "lib/modules/" + kver} {
		c.mkdirAll(d)
	}
	c.chardev("dev/console", 0o600, 5, 1)
	c.chardev("dev/null", 0o666, 1, 3)
	c.file("bin/busybox", 0o755, bb)
	have := map[string]bool{"bin/busybox": true}
	for _, f := range extra {
		rel := strings.TrimPrefix(f.guestPath, "/")
		data, err := os.ReadFile(f.hostPath)
		if err != nil {
			return "", fmt.Errorf("qemuvm: %w", err)
		}
		c.file(rel, 0o755, data)
		have[rel] = true
	}
	for _, ap := range append([]string{"bin/sh"}, applets...) {
		if have[ap] {
			continue
		}
		have[ap] = true
		c.symlink(ap, "/bin/busybox")
	}
	c.file("init", 0o755, initScript)
	// tcpdump, as Debian builds it, drops privileges to user tcpdump.
	c.file("etc/passwd", 0o644, []byte("root:x:0:0:root:/root:/bin/sh\ntcpdump:x:100:100::/nonexistent:/bin/false\n"))
	c.file("etc/group", 0o644, []byte("root:x:0:\ntcpdump:x:100:\n"))
	c.file("etc/hosts", 0o644, []byte("127.0.0.1 localhost\n"))

	var order bytes.Buffer
	for _, m := range mods {
		data, err := readModule(filepath.Join(a.ModulesDir, m.file))
		if err != nil {
			return "", err
		}
		p := "lib/modules/" + kver + "/" + strings.TrimSuffix(m.file, ".gz")
		c.file(p, 0o644, data)
		fmt.Fprintf(&order, "/%s\n", p)
	}
	c.file("etc/l2f-modules", 0o644, order.Bytes())

	if err := c.close(); err != nil {
		tmp.Close()
		return "", fmt.Errorf("qemuvm: write initramfs: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return "", fmt.Errorf("qemuvm: write initramfs: %w", err)
	}
	if err := os.Rename(tmp.Name(), out); err != nil {
		return "", fmt.Errorf("qemuvm: %w", err)
	}
	return out, nil
}

// busyboxApplets lists the applets' install paths ("usr/bin/awk"), asking
// the static busybox itself. /init also runs `busybox --install -s` if the
// list came back empty.
func busyboxApplets(bb string) ([]string, error) {
	out, err := exec.Command(bb, "--list-full").Output()
	if err != nil {
		return nil, fmt.Errorf("qemuvm: %s --list-full: %w", bb, err)
	}
	var list []string
	for _, l := range strings.Split(string(out), "\n") {
		l = strings.Trim(strings.TrimSpace(l), "/")
		if l != "" && !strings.Contains(l, "..") {
			list = append(list, l)
		}
	}
	return list, nil
}

// isStatic reports whether the ELF file at p has no program interpreter.
func isStatic(p string) (bool, error) {
	f, err := elf.Open(p)
	if err != nil {
		return false, err
	}
	defer f.Close()
	for _, prog := range f.Progs {
		if prog.Type == elf.PT_INTERP {
			return false, nil
		}
	}
	return true, nil
}

// module is one kernel module to ship: its path relative to the modules
// directory ("kernel/drivers/net/virtio_net.ko").
type module struct {
	name string
	file string
}

// modName turns a module file name or dependency name into the kernel's
// canonical module name (dashes become underscores, suffixes go).
func modName(s string) string {
	s = filepath.Base(s)
	for _, suf := range []string{".gz", ".xz", ".zst"} {
		s = strings.TrimSuffix(s, suf)
	}
	s = strings.TrimSuffix(s, ".ko")
	return strings.ReplaceAll(s, "-", "_")
}

// resolveModules returns roots and their dependencies, dependencies first.
func resolveModules(modDir string, roots []string) ([]module, error) {
	files := map[string]string{} // name -> relative path
	err := filepath.WalkDir(filepath.Join(modDir, "kernel"), func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() || !strings.Contains(d.Name(), ".ko") {
			return nil
		}
		rel, _ := filepath.Rel(modDir, p)
		files[modName(rel)] = filepath.ToSlash(rel)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("qemuvm: scan modules: %w; %s", err, SetupHint)
	}
	builtin := map[string]bool{}
	if b, err := os.ReadFile(filepath.Join(modDir, "modules.builtin")); err == nil {
		for _, l := range strings.Fields(string(b)) {
			builtin[modName(l)] = true
		}
	}
	depsOf, err := depsFunc(modDir, files)
	if err != nil {
		return nil, err
	}

	var out []module
	state := map[string]int{} // 1 visiting, 2 done
	var visit func(name string, chain []string) error
	visit = func(name string, chain []string) error {
		switch state[name] {
		case 1:
			return fmt.Errorf("qemuvm: module dependency cycle: %s", strings.Join(append(chain, name), " -> "))
		case 2:
			return nil
		}
		f, ok := files[name]
		if !ok {
			if builtin[name] {
				state[name] = 2
				return nil
			}
			return fmt.Errorf("qemuvm: module %s (needed by %s) not found under %s", name, strings.Join(chain, " -> "), modDir)
		}
		state[name] = 1
		deps, err := depsOf(name, f)
		if err != nil {
			return err
		}
		for _, d := range deps {
			if err := visit(d, append(chain, name)); err != nil {
				return err
			}
		}
		state[name] = 2
		out = append(out, module{name: name, file: f})
		return nil
	}
	for _, r := range roots {
		if _, ok := files[r]; !ok && r != "virtio_net" {
			continue // optional transport, absent or built in
		}
		if err := visit(r, nil); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// depsFunc returns a function giving a module's direct dependencies: from
// modules.dep if present, else from the module's own .modinfo section.
func depsFunc(modDir string, files map[string]string) (func(name, file string) ([]string, error), error) {
	f, err := os.Open(filepath.Join(modDir, "modules.dep"))
	if err == nil {
		defer f.Close()
		dep := map[string][]string{}
		sc := bufio.NewScanner(f)
		sc.Buffer(make([]byte, 64*1024), 1024*1024)
		for sc.Scan() {
			mod, rest, ok := strings.Cut(sc.Text(), ":")
			if !ok {
				continue
			}
			// modules.dep lists the full closure; direct or not, the
			// topological visit handles it.
			var names []string
			for _, d := range strings.Fields(rest) {
				names = append(names, modName(d))
			}
			dep[modName(mod)] = names
		}
		if err := sc.Err(); err != nil {
			return nil, fmt.Errorf("qemuvm: read modules.dep: %w", err)
		}
		return func(name, _ string) ([]string, error) { return dep[name], nil }, nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("qemuvm: %w", err)
	}
	return func(name, file string) ([]string, error) {
		data, err := readModule(filepath.Join(modDir, file))
		if err != nil {
			return nil, err
		}
		return modinfoDepends(data, name)
	}, nil
}

// modinfoDepends reads the "depends=" entry of a module's .modinfo section.
func modinfoDepends(ko []byte, name string) ([]string, error) {
	ef, err := elf.NewFile(bytes.NewReader(ko))
	if err != nil {
		return nil, fmt.Errorf("qemuvm: module %s: %w", name, err)
	}
	sec := ef.Section(".modinfo")
	if sec == nil {
		return nil, fmt.Errorf("qemuvm: module %s has no .modinfo section", name)
	}
	info, err := sec.Data()
	if err != nil {
		return nil, fmt.Errorf("qemuvm: module %s: %w", name, err)
	}
	var deps []string
	for _, kv := range bytes.Split(info, []byte{0}) {
		if v, ok := bytes.CutPrefix(kv, []byte("depends=")); ok {
			for _, d := range strings.Split(string(v), ",") {
				if d = strings.TrimSpace(d); d != "" {
					deps = append(deps, modName(d))
				}
			}
		}
	}
	sort.Strings(deps)
	return deps, nil
}

// readModule returns a module's ELF bytes, decompressing .ko.gz.
func readModule(p string) ([]byte, error) {
	switch {
	case strings.HasSuffix(p, ".ko"):
		return os.ReadFile(p)
	case strings.HasSuffix(p, ".ko.gz"):
		f, err := os.Open(p)
		if err != nil {
			return nil, err
		}
		defer f.Close()
		zr, err := gzip.NewReader(f)
		if err != nil {
			return nil, fmt.Errorf("qemuvm: %s: %w", p, err)
		}
		return io.ReadAll(zr)
	default:
		return nil, fmt.Errorf("qemuvm: %s: compressed modules (.ko.xz, .ko.zst) are not supported: no decompressor in the standard library or module cache; use a kernel with plain .ko modules (Debian 12's cloud kernel)", p)
	}
}

// hostFile is a file copied from the host into the guest.
type hostFile struct {
	hostPath  string // read from here (symlinks followed)
	guestPath string // absolute path in the guest
}

// libDirs are searched, in order, for a DT_NEEDED library; the guest's
// loader (Debian's glibc, multiarch) searches the same directories.
var libDirs = []string{"/lib/x86_64-linux-gnu", "/usr/lib/x86_64-linux-gnu", "/lib64", "/usr/lib64", "/lib", "/usr/lib"}

// collectBinaries resolves names to host executables and adds, transitively,
// their program interpreter and shared libraries.
func collectBinaries(names []string) ([]hostFile, error) {
	var out []hostFile
	seen := map[string]bool{}
	var addELF func(hostPath, guestPath string) error
	addELF = func(hostPath, guestPath string) error {
		if seen[guestPath] {
			return nil
		}
		seen[guestPath] = true
		out = append(out, hostFile{hostPath, guestPath})
		ef, err := elf.Open(hostPath)
		if err != nil {
			return fmt.Errorf("qemuvm: %s: %w", hostPath, err)
		}
		defer ef.Close()
		for _, prog := range ef.Progs {
			if prog.Type != elf.PT_INTERP {
				continue
			}
			b, err := io.ReadAll(prog.Open())
			if err != nil {
				return fmt.Errorf("qemuvm: %s: interpreter: %w", hostPath, err)
			}
			interp := strings.TrimRight(string(b), "\x00")
			if err := addELF(interp, interp); err != nil {
				return err
			}
		}
		libs, err := ef.ImportedLibraries()
		if err != nil {
			return fmt.Errorf("qemuvm: %s: %w", hostPath, err)
		}
	libs:
		for _, lib := range libs {
			for _, d := range libDirs {
				p := filepath.Join(d, lib)
				if fi, err := os.Stat(p); err == nil && fi.Mode().IsRegular() {
					if err := addELF(p, p); err != nil {
						return err
					}
					continue libs
				}
			}
			return fmt.Errorf("qemuvm: %s needs %s, not found in %v", hostPath, lib, libDirs)
		}
		return nil
	}
	for _, n := range names {
		p := n
		if !filepath.IsAbs(p) {
			lp, err := exec.LookPath(n)
			if err != nil {
				return nil, fmt.Errorf("qemuvm: binary %q for the initramfs: %w (is its Debian package installed? integration/setup.sh installs iperf3 and tcpdump)", n, err)
			}
			p, err = filepath.Abs(lp)
			if err != nil {
				return nil, fmt.Errorf("qemuvm: %w", err)
			}
		}
		if err := addELF(p, p); err != nil {
			return nil, err
		}
	}
	return out, nil
}
