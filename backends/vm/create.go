package vm

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
)

// ErrUsage is wrapped by the errors of Create that are mistakes in its
// options (exit status 2 on the command line).
var ErrUsage = errors.New("usage")

// usageError is a command-line mistake; errors.Is(err, ErrUsage) holds.
type usageError struct{ msg string }

func (e *usageError) Error() string        { return e.msg }
func (e *usageError) Is(target error) bool { return target == ErrUsage }

func usagef(format string, args ...any) error {
	return &usageError{msg: fmt.Sprintf(format, args...)}
}

// CreateOptions are the settings of a new VM definition, as
// 'l2fabric vm create' takes them. Zero values are the defaults; relative
// paths resolve against the current directory.
type CreateOptions struct {
	Name    string
	Dir     string // directory of definitions; "" is the first of DefaultDirs
	Kernel  string
	Initrd  string
	Cmdline string // "" is DefaultCmdline
	CPUs    int    // 0 is DefaultCPUs
	Memory  string // a size with a unit; "" is DefaultMemory
	Disks   []Disk // in device order
	NICs    int    // 0 is one
	MACs    []string
	MTU     int    // 0 is MinNICMTU
	Console string // "" is console.log in the VM's directory; "none" for none
	Restart string // "" is no
	Force   bool   // replace an existing definition
}

// Create writes NAME/vm.toml in o.Dir with every setting explicit and the
// NICs' MACs written out, and tells stdout how to attach it. It refuses
// to replace an existing definition without o.Force. Mistakes in o are
// errors wrapping ErrUsage.
func Create(o CreateOptions, stdout io.Writer) error {
	name := o.Name
	if err := ValidName(name); err != nil {
		return usagef("vm create: %v", err)
	}
	if o.Kernel == "" {
		return usagef("vm create %s: --kernel is required", name)
	}
	dir := o.Dir
	if dir == "" {
		dir = DefaultDirs()[0]
	}
	dir, err := filepath.Abs(dir)
	if err != nil {
		return err
	}
	cwd, err := os.Getwd()
	if err != nil {
		return err
	}
	vmDir := filepath.Join(dir, name)
	source := filepath.Join(vmDir, TableFile)
	b := newBuilder(name, cwd, source)
	orDefault := func(n, def int) string {
		if n == 0 {
			n = def
		}
		return strconv.Itoa(n)
	}
	orText := func(s, def string) string {
		if s == "" {
			return def
		}
		return s
	}
	settings := [][2]string{{"kernel", o.Kernel}, {"cmdline", orText(o.Cmdline, DefaultCmdline)}, {"cpus", orDefault(o.CPUs, DefaultCPUs)},
		{"memory", orText(o.Memory, FormatSize(DefaultMemory))}, {"restart", orText(o.Restart, string(RestartNo))},
		{"mtu", orDefault(o.MTU, MinNICMTU)}, {"nics", orDefault(o.NICs, 1)}}
	if o.Initrd != "" {
		settings = append(settings, [2]string{"initrd", o.Initrd})
	}
	if o.Console != "" {
		settings = append(settings, [2]string{"console", o.Console})
	}
	for _, m := range o.MACs {
		settings = append(settings, [2]string{"mac", m})
	}
	for _, d := range o.Disks {
		k := "disk"
		if d.ReadOnly {
			k = "disk-ro"
		}
		settings = append(settings, [2]string{k, d.Path})
	}
	for _, s := range settings {
		if err := b.set(s[0], s[1]); err != nil {
			return usagef("vm create %s: %v", name, err)
		}
	}
	def, err := b.definition(vmDir)
	if err != nil {
		return usagef("vm create %s: %v", name, err)
	}
	def.Dir = vmDir
	if err := def.Validate(); err != nil {
		return err
	}
	legacy := filepath.Join(vmDir, ConfigFile)
	for _, p := range []string{source, legacy} {
		if _, err := os.Stat(p); err == nil && !o.Force {
			return fmt.Errorf("vm create %s: %s already exists (use --force to replace it)", name, p)
		}
	}
	if err := os.MkdirAll(vmDir, 0o755); err != nil {
		return fmt.Errorf("vm create %s: %w", name, err)
	}
	if err := writeFileAtomic(source, def.FormatFile(vmDir), 0o644); err != nil {
		return fmt.Errorf("vm create %s: %w", name, err)
	}
	// A vm.conf replaced with --force would only be shadowed: remove it.
	if err := os.Remove(legacy); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("vm create %s: %w", name, err)
	}
	fmt.Fprintf(stdout, "created %s\n", source)
	for i, n := range def.NICs {
		fmt.Fprintf(stdout, "  nic %d: mac %s, mtu %d: port %s/%d\n", i, n.MAC, n.MTU, name, i)
	}
	fmt.Fprintf(stdout, "attach it with: l2fabric run --port vm:%s   (or: l2fabric attach vm:%s)\n", name, name)
	return nil
}

// ConvertedSuffix is appended to the name of a vm.conf that Convert
// replaced, which it keeps for reference.
const ConvertedSuffix = ".converted"

// Convert rewrites the vm.conf that d was read from as NAME/vm.toml
// beside it, and renames the vm.conf with ConvertedSuffix. It returns the
// new file's path.
func Convert(d *Definition) (string, error) {
	if !d.IsLegacy() {
		return "", fmt.Errorf("vm %s (%s) is not a vm.conf", d.Name, d.Source)
	}
	path := filepath.Join(d.Dir, TableFile)
	if _, err := os.Stat(path); err == nil {
		return "", fmt.Errorf("vm %s: %s already exists", d.Name, path)
	}
	if err := writeFileAtomic(path, d.FormatFile(d.Dir), 0o644); err != nil {
		return "", err
	}
	if err := os.Rename(d.Source, d.Source+ConvertedSuffix); err != nil {
		os.Remove(path)
		return "", err
	}
	return path, nil
}

// writeFileAtomic writes data to a temporary file beside path and renames
// it into place.
func writeFileAtomic(path string, data []byte, mode os.FileMode) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return err
	}
	_, err = tmp.Write(data)
	if err == nil {
		err = tmp.Chmod(mode)
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), path)
	}
	if err != nil {
		os.Remove(tmp.Name())
	}
	return err
}
