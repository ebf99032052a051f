package vm

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/spf13/pflag"
)

// ErrUsage is wrapped by the errors of Command, CreateCommand and
// ListCommand that are mistakes on the command line (exit status 2).
var ErrUsage = errors.New("usage")

// usageError is a command-line mistake; errors.Is(err, ErrUsage) holds.
type usageError struct{ msg string }

func (e *usageError) Error() string        { return e.msg }
func (e *usageError) Is(target error) bool { return target == ErrUsage }

func usagef(format string, args ...any) error {
	return &usageError{msg: fmt.Sprintf(format, args...)}
}

// Usage is the help of the vm subcommand.
const Usage = `Usage:
  l2fabric vm create NAME --kernel PATH [--initrd PATH] [--cmdline TEXT] [--cpus N]
                     [--memory SIZE] [--disk PATH]... [--disk-ro PATH]... [--nics N]
                     [--mac MAC]... [--mtu N] [--console PATH|none]
                     [--restart no|on-failure|always] [--dir DIR] [--force]
                                write NAME/vm.conf, a VM to attach with --port vm:NAME
  l2fabric vm list [--json] [--dir DIR]
                                list the VMs defined and whether they are usable
`

// Command runs "l2fabric vm ARGS...": create or list.
func Command(args []string, stdout io.Writer) error {
	if len(args) == 0 {
		return usagef("vm: missing subcommand (create or list)")
	}
	switch args[0] {
	case "create":
		return CreateCommand(args[1:], stdout)
	case "list", "ls":
		return ListCommand(args[1:], stdout)
	case "help", "-h", "--help":
		fmt.Fprint(stdout, Usage)
		return nil
	}
	return usagef("vm: unknown subcommand %q (create or list)", args[0])
}

// diskFlag appends to one list from --disk and --disk-ro, so that the
// disks keep the order they were given in.
type diskFlag struct {
	list *[]Disk
	ro   bool
}

func (f diskFlag) String() string { return "" }
func (f diskFlag) Type() string   { return "PATH" }
func (f diskFlag) Set(v string) error {
	if v == "" {
		return errors.New("empty disk path")
	}
	*f.list = append(*f.list, Disk{Path: v, ReadOnly: f.ro})
	return nil
}

// CreateCommand runs "l2fabric vm create NAME --kernel PATH ...": it
// writes NAME/vm.conf in --dir (default: the first of DefaultDirs) with
// every setting explicit and the NICs' MACs written out. Relative paths
// given on the command line resolve against the current directory. It
// refuses to replace an existing definition without --force.
func CreateCommand(args []string, stdout io.Writer) error {
	fs := pflag.NewFlagSet("l2fabric vm create", pflag.ContinueOnError)
	fs.SetOutput(io.Discard)
	var (
		kernel, initrd, cmdline, memory, console, restart, dir string
		cpus, nics, mtu                                        int
		macs                                                   []string
		disks                                                  []Disk
		force                                                  bool
	)
	fs.StringVar(&kernel, "kernel", "", "Linux kernel (required; on Apple Silicon an uncompressed arm64 Image)")
	fs.StringVar(&initrd, "initrd", "", "initial RAM disk")
	fs.StringVar(&cmdline, "cmdline", DefaultCmdline, "kernel command line")
	fs.IntVar(&cpus, "cpus", DefaultCPUs, "virtual CPUs")
	fs.StringVar(&memory, "memory", FormatSize(DefaultMemory), "memory, with a unit: 512M, 2G")
	fs.Var(diskFlag{&disks, false}, "disk", "raw disk image, read-write (repeatable)")
	fs.Var(diskFlag{&disks, true}, "disk-ro", "raw disk image, read-only (repeatable)")
	fs.IntVar(&nics, "nics", 1, "number of NICs")
	fs.StringArrayVar(&macs, "mac", nil, "MAC of the next NIC (repeatable; default: derived from the name)")
	fs.IntVar(&mtu, "mtu", MinNICMTU, "MTU of the NICs (1500-65535; above 1500 needs macOS 13)")
	fs.StringVar(&console, "console", "", "console log file, or none (default: console.log in the VM's directory)")
	fs.StringVar(&restart, "restart", string(RestartNo), "restart policy: no, on-failure or always")
	fs.StringVar(&dir, "dir", "", "directory of VM definitions (default: "+DefaultDirs()[0]+")")
	fs.BoolVar(&force, "force", false, "replace an existing definition")
	help := func() {
		fmt.Fprintf(stdout, "Usage: l2fabric vm create NAME --kernel PATH [flags]\n\nFlags:\n%s", fs.FlagUsages())
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, pflag.ErrHelp) {
			help()
			return nil
		}
		return usagef("vm create: %v", err)
	}
	if fs.NArg() != 1 {
		return usagef("vm create: want one VM name, got %d arguments", fs.NArg())
	}
	name := fs.Arg(0)
	if err := ValidName(name); err != nil {
		return usagef("vm create: %v", err)
	}
	if kernel == "" {
		return usagef("vm create %s: --kernel is required", name)
	}
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
	source := filepath.Join(vmDir, ConfigFile)
	b := newBuilder(name, cwd, source)
	settings := [][2]string{{"kernel", kernel}, {"cmdline", cmdline}, {"cpus", strconv.Itoa(cpus)},
		{"memory", memory}, {"restart", restart}, {"mtu", strconv.Itoa(mtu)}, {"nics", strconv.Itoa(nics)}}
	if initrd != "" {
		settings = append(settings, [2]string{"initrd", initrd})
	}
	if console != "" {
		settings = append(settings, [2]string{"console", console})
	}
	for _, m := range macs {
		settings = append(settings, [2]string{"mac", m})
	}
	for _, s := range settings {
		if err := b.set(s[0], s[1]); err != nil {
			return usagef("vm create %s: %v", name, err)
		}
	}
	for _, d := range disks {
		k := "disk"
		if d.ReadOnly {
			k = "disk-ro"
		}
		if err := b.set(k, d.Path); err != nil {
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
	if _, err := os.Stat(source); err == nil && !force {
		return fmt.Errorf("vm create %s: %s already exists (use --force to replace it)", name, source)
	}
	if err := os.MkdirAll(vmDir, 0o755); err != nil {
		return fmt.Errorf("vm create %s: %w", name, err)
	}
	if err := writeFileAtomic(source, def.Format(vmDir), 0o644); err != nil {
		return fmt.Errorf("vm create %s: %w", name, err)
	}
	fmt.Fprintf(stdout, "created %s\n", source)
	for i, n := range def.NICs {
		fmt.Fprintf(stdout, "  nic %d: mac %s, mtu %d: port %s/%d\n", i, n.MAC, n.MTU, name, i)
	}
	fmt.Fprintf(stdout, "attach it with: l2fabric run --port vm:%s   (or: l2fabric attach vm:%s)\n", name, name)
	return nil
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

// listEntry is one VM in "vm list --json".
type listEntry struct {
	Name     string    `json:"name"`
	Dir      string    `json:"dir,omitempty"`
	Kernel   string    `json:"kernel,omitempty"`
	Initrd   string    `json:"initrd,omitempty"`
	Cmdline  string    `json:"cmdline,omitempty"`
	CPUs     int       `json:"cpus,omitempty"`
	Memory   uint64    `json:"memory,omitempty"`
	Disks    []Disk    `json:"disks,omitempty"`
	Console  string    `json:"console,omitempty"`
	Restart  Restart   `json:"restart,omitempty"`
	NICs     []listNIC `json:"nics,omitempty"`
	Error    string    `json:"error,omitempty"`
	Shadowed bool      `json:"shadowed,omitempty"`
}

type listNIC struct {
	MAC string `json:"mac"`
	MTU int    `json:"mtu"`
}

// ListCommand runs "l2fabric vm list [--json] [--dir DIR]": every VM
// defined in the directories (DefaultDirs, or DIR), whether it is usable,
// and why not.
func ListCommand(args []string, stdout io.Writer) error {
	fs := pflag.NewFlagSet("l2fabric vm list", pflag.ContinueOnError)
	fs.SetOutput(io.Discard)
	asJSON := fs.Bool("json", false, "print JSON")
	dirs := fs.StringArray("dir", nil, "directory of VM definitions (repeatable; default: "+strings.Join(DefaultDirs(), ", ")+")")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, pflag.ErrHelp) {
			fmt.Fprintf(stdout, "Usage: l2fabric vm list [--json] [--dir DIR]\n\nFlags:\n%s", fs.FlagUsages())
			return nil
		}
		return usagef("vm list: %v", err)
	}
	if fs.NArg() > 0 {
		return usagef("vm list: unexpected argument %q", fs.Arg(0))
	}
	return list(NewCatalog(*dirs...), *asJSON, stdout)
}

func list(c *Catalog, asJSON bool, stdout io.Writer) error {
	ents := c.List()
	if asJSON {
		out := []listEntry{}
		for _, e := range ents {
			le := listEntry{Name: e.Name, Dir: e.Dir, Shadowed: e.Shadowed}
			if d := e.Def; d != nil {
				le.Kernel, le.Initrd, le.Cmdline, le.CPUs, le.Memory = d.Kernel, d.Initrd, d.Cmdline, d.CPUs, d.Memory
				le.Disks, le.Console, le.Restart = d.Disks, d.Console, d.Restart
				for _, n := range d.NICs {
					le.NICs = append(le.NICs, listNIC{MAC: n.MAC.String(), MTU: n.MTU})
				}
			}
			if e.Err != nil {
				le.Error = e.Err.Error()
			}
			out = append(out, le)
		}
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(out)
	}
	if len(ents) == 0 {
		fmt.Fprintf(stdout, "no VMs defined in %s (create one with: l2fabric vm create NAME --kernel PATH)\n", strings.Join(c.Dirs, " or "))
		return nil
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tCPUS\tMEMORY\tNICS\tRESTART\tDIR\tSTATUS")
	for _, e := range ents {
		status := "ok"
		switch {
		case e.Shadowed:
			status = "hidden by an earlier definition of the same name"
		case e.Err != nil:
			status = "error: " + e.Err.Error()
		}
		dir := e.Dir
		if dir == "" {
			dir = "(--vm)"
		}
		if d := e.Def; d != nil {
			var macs []string
			for _, n := range d.NICs {
				macs = append(macs, n.MAC.String())
			}
			fmt.Fprintf(tw, "%s\t%d\t%s\t%s\t%s\t%s\t%s\n", e.Name, d.CPUs, FormatSize(d.Memory), strings.Join(macs, " "), d.Restart, dir, status)
		} else {
			fmt.Fprintf(tw, "%s\t-\t-\t-\t-\t%s\t%s\n", e.Name, dir, status)
		}
	}
	return tw.Flush()
}
