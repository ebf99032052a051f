package vm

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
)

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

// WriteList writes every VM of c to stdout, whether it is usable and
// why not: a table, or JSON.
func WriteList(c *Catalog, asJSON bool, stdout io.Writer) error {
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
		case e.Def.IsLegacy():
			status = "ok, in the vm.conf format of earlier versions: l2fabric vm convert " + e.Name
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
