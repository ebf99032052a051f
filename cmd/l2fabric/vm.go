package main

import (
	"errors"
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/l2fabric/l2fabric/backends/vm"
)

// vmCommand is 'l2fabric vm': the definitions of the VMs that vm: ports
// boot. It is listed only where l2fabric boots VMs (macOS).
func (a *app) vmCommand() *cobra.Command {
	c := &cobra.Command{
		Use:   "vm create|list|convert",
		Short: "define the VMs of vm:NAME ports (macOS)",
		Args:  noArgs(""),
		RunE: func(cmd *cobra.Command, _ []string) error {
			return usagef("vm: missing subcommand: want %s", strings.Join(commandNames(cmd), ", "))
		},
		ValidArgsFunction: cobra.NoFileCompletions,
	}
	c.AddCommand(a.vmCreateCommand(), a.vmListCommand(), a.vmConvertCommand())
	return c
}

func (a *app) vmCreateCommand() *cobra.Command {
	var o vm.CreateOptions
	c := &cobra.Command{
		Use:   "create NAME --kernel PATH [flags]",
		Short: "write NAME/vm.toml, a VM to attach with --port vm:NAME",
		Args:  exactArgs(1, "one VM name, e.g. l2fabric vm create router --kernel Image"),
		RunE: func(cmd *cobra.Command, args []string) error {
			o.Name = args[0]
			if o.CPUs < 1 || o.NICs < 1 {
				return usagef("vm create %s: --cpus and --nics want a number of at least 1", o.Name)
			}
			err := vm.Create(o, a.stdout)
			if errors.Is(err, vm.ErrUsage) {
				return usagef("%v", err)
			}
			return err
		},
	}
	fs := c.Flags()
	fs.StringVar(&o.Kernel, "kernel", "", "Linux kernel (required; on Apple Silicon an uncompressed arm64 Image)")
	fs.StringVar(&o.Initrd, "initrd", "", "initial RAM disk")
	fs.StringVar(&o.Cmdline, "cmdline", vm.DefaultCmdline, "kernel command line")
	fs.IntVar(&o.CPUs, "cpus", vm.DefaultCPUs, "virtual CPUs")
	fs.StringVar(&o.Memory, "memory", vm.FormatSize(vm.DefaultMemory), "memory, with a unit: 512M, 2G")
	fs.Var(diskFlag{&o.Disks, false}, "disk", "raw disk image, read-write (repeatable)")
	fs.Var(diskFlag{&o.Disks, true}, "disk-ro", "raw disk image, read-only (repeatable)")
	fs.IntVar(&o.NICs, "nics", 1, "number of NICs")
	fs.StringArrayVar(&o.MACs, "mac", nil, "MAC of the next NIC (repeatable; default: derived from the name)")
	fs.IntVar(&o.MTU, "mtu", vm.MinNICMTU, "MTU of the NICs (1500-65535; above 1500 needs macOS 13)")
	fs.StringVar(&o.Console, "console", "", "console log file, or none (default: console.log in the VM's directory)")
	fs.StringVar(&o.Restart, "restart", string(vm.RestartNo), "restart policy: no, on-failure or always")
	fs.StringVar(&o.Dir, "dir", "", "directory of VM definitions (default: "+vm.DefaultDirs()[0]+")")
	fs.BoolVar(&o.Force, "force", false, "replace an existing definition")
	return c
}

func (a *app) vmListCommand() *cobra.Command {
	var (
		asJSON bool
		dirs   []string
	)
	c := &cobra.Command{
		Use:     "list [--json] [--dir DIR]",
		Aliases: []string{"ls"},
		Short:   "list the VMs defined and whether they are usable",
		Args:    noArgs(""),
		RunE: func(cmd *cobra.Command, _ []string) error {
			return vm.WriteList(vm.NewCatalog(dirs...), asJSON, a.stdout)
		},
	}
	c.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	c.Flags().StringArrayVar(&dirs, "dir", nil, "directory of VM definitions (repeatable; default: "+strings.Join(vm.DefaultDirs(), ", ")+")")
	return c
}

// vmConvertCommand rewrites vm.conf files, the KEY=VALUE format of
// earlier versions, as vm.toml; or prints definitions as the [vm.NAME]
// tables of a --config file.
func (a *app) vmConvertCommand() *cobra.Command {
	var (
		dirs  []string
		print bool
	)
	c := &cobra.Command{
		Use:   "convert [NAME]... [--dir DIR] [--print]",
		Short: "rewrite vm.conf files as vm.toml, or print VMs as [vm.NAME] tables",
		Long: `Rewrite the vm.conf files of the VMs named (or of all VMs) as vm.toml, the
TOML form VM definitions now take; each vm.conf is kept as vm.conf.converted.
A vm.conf that is not converted keeps working.

With --print, write nothing: print the VMs' definitions as TOML tables
[vm.NAME], to paste into the file given to 'l2fabric run --config', where a
table takes precedence over a definition file of the same name.`,
		RunE: func(cmd *cobra.Command, args []string) error {
			cat := vm.NewCatalog(dirs...)
			var defs []*vm.Definition
			if len(args) == 0 {
				for _, e := range cat.List() {
					if e.Err != nil && e.Def == nil {
						fmt.Fprintf(a.stderr, "skipping %s: %v\n", e.Name, e.Err)
					}
					if e.Def != nil && !e.Shadowed && (print || e.Def.IsLegacy()) {
						defs = append(defs, e.Def)
					}
				}
			}
			for _, name := range args {
				d, err := cat.Lookup(name)
				if err != nil {
					return err
				}
				defs = append(defs, d)
			}
			if print {
				for i, d := range defs {
					if i > 0 {
						fmt.Fprintln(a.stdout)
					}
					fmt.Fprintf(a.stdout, "# from %s\n", d.Source)
					a.stdout.Write(d.FormatTable())
				}
				return nil
			}
			if len(defs) == 0 {
				fmt.Fprintf(a.stdout, "no vm.conf to convert in %s\n", strings.Join(cat.Dirs, " or "))
			}
			for _, d := range defs {
				if !d.IsLegacy() {
					fmt.Fprintf(a.stdout, "%s: already %s\n", d.Name, d.Source)
					continue
				}
				path, err := vm.Convert(d)
				if err != nil {
					return err
				}
				fmt.Fprintf(a.stdout, "converted %s to %s (the old file is %s%s)\n", d.Source, path, d.Source, vm.ConvertedSuffix)
			}
			return nil
		},
	}
	c.Flags().StringArrayVar(&dirs, "dir", nil, "directory of VM definitions (repeatable; default: "+strings.Join(vm.DefaultDirs(), ", ")+")")
	c.Flags().BoolVar(&print, "print", false, "print [vm.NAME] tables for a --config file instead of converting")
	return c
}

// diskFlag appends to one list from --disk and --disk-ro, so that the
// disks keep the order they were given in.
type diskFlag struct {
	list *[]vm.Disk
	ro   bool
}

func (f diskFlag) String() string { return "" }
func (f diskFlag) Type() string   { return "PATH" }
func (f diskFlag) Set(v string) error {
	if v == "" {
		return errors.New("empty disk path")
	}
	*f.list = append(*f.list, vm.Disk{Path: v, ReadOnly: f.ro})
	return nil
}
