package main

import (
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/l2fabric/l2fabric/fabric"
	"github.com/l2fabric/l2fabric/fabric/control"
)

// call runs one request against the daemon.
func (a *app) call(command string, args, result any) error {
	c, err := control.DialTimeout(a.control, a.timeout)
	if err != nil {
		return err
	}
	defer c.Close()
	return c.Call(command, args, result)
}

func printJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// printJSONList writes a list as indented JSON: an empty one as [], never
// null, so that scripts can iterate whatever the dump holds.
func printJSONList[T any](w io.Writer, list []T) error {
	if list == nil {
		list = []T{}
	}
	return printJSON(w, list)
}

// noFileCompletion makes c complete no file names for its arguments
// unless it says otherwise: client commands take names, not files.
func noFileCompletion(c *cobra.Command) *cobra.Command {
	if c.ValidArgsFunction == nil {
		c.ValidArgsFunction = cobra.NoFileCompletions
	}
	return c
}

func (a *app) fdbCommand() *cobra.Command {
	var (
		asJSON bool
		port   string
		vlan   uint16
	)
	show := func(cmd *cobra.Command, _ []string) error {
		if cmd.Flags().Changed("vlan") {
			if _, err := fabric.ParseVLAN(strconv.Itoa(int(vlan))); err != nil {
				return usagef("fdb --vlan %d: %v", vlan, err)
			}
		}
		var entries []fabric.Entry
		if err := a.call("fdb.show", control.FDBShowArgs{Port: port, VLAN: vlan}, &entries); err != nil {
			return err
		}
		if asJSON {
			return printJSONList(a.stdout, entries)
		}
		tw := tabwriter.NewWriter(a.stdout, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "PORT\tVLAN\tMAC\tAGE\tVIA")
		for _, e := range entries {
			age := strconv.Itoa(int(e.Age))
			switch {
			case e.Pending:
				age = "static, pending: no such port yet"
			case e.Static:
				age = "static"
			}
			fmt.Fprintf(tw, "%s\t%d\t%s\t%s\t%s\n", e.Port, e.VLAN, e.MAC, age, viaColumn(e.Via))
		}
		return tw.Flush()
	}
	showFlags := func(c *cobra.Command) {
		c.Flags().BoolVar(&asJSON, "json", false, "print JSON")
		c.Flags().StringVar(&port, "port", "", "only this port's entries")
		c.Flags().Uint16Var(&vlan, "vlan", 0, "only this VLAN's entries")
		c.RegisterFlagCompletionFunc("port", a.completePorts)
	}
	fdb := noFileCompletion(&cobra.Command{
		Use:   "fdb [--json] [--port NAME] [--vlan N]",
		Short: "dump the learning table (or: fdb add, del, flush)",
		Args:  noArgs(""),
		RunE:  show,
	})
	showFlags(fdb)
	showCmd := noFileCompletion(&cobra.Command{Use: "show [--json] [--port NAME] [--vlan N]", Short: "dump the learning table", Args: noArgs(""), RunE: show})
	showFlags(showCmd)

	add := noFileCompletion(&cobra.Command{
		ValidArgsFunction: a.completeStatic,
		Use:               "add MAC@PORT[,vlan=N][,dst=IP]",
		Short:             "add a static entry (dst: its VTEP, on a vxlan port)",
		Example:           "  l2fabric fdb add 52:54:00:12:34:56@router,vlan=10\n  l2fabric fdb add 52:54:00:12:34:56@vx,dst=10.0.0.2",
		Args:              exactArgs(1, "one MAC@PORT[,vlan=N][,dst=IP], e.g. l2fabric fdb add 52:54:00:12:34:56@router"),
		RunE: func(cmd *cobra.Command, args []string) error {
			arg, dst := cutDst(args[0])
			st, err := parseStatic(arg)
			if err != nil {
				return usagef("fdb add %q: %v", args[0], err)
			}
			return a.call("fdb.add", control.FDBAddArgs{MAC: st.MAC.String(), Port: st.Port, VLAN: st.VLAN, Dst: dst}, nil)
		},
	})
	var delVLAN uint16
	del := noFileCompletion(&cobra.Command{
		Use:     "del MAC[@PORT][,vlan=N] [--vlan N]",
		Aliases: []string{"delete"},
		Short:   "remove an entry, static or learned",
		Long: `Remove the entry of MAC in a VLAN (1 unless --vlan or ,vlan= says
otherwise), static or learned. The argument may be written as to 'fdb add':
MAC@PORT,vlan=N; the port is then checked against the entry's.`,
		Example: "  l2fabric fdb del 52:54:00:12:34:56 --vlan 10\n  l2fabric fdb del 52:54:00:12:34:56@router,vlan=10",
		Args:    exactArgs(1, "a MAC, e.g. l2fabric fdb del 52:54:00:12:34:56 --vlan 10"),
		RunE: func(cmd *cobra.Command, args []string) error {
			ref, err := parseEntryRef(args[0])
			if err != nil {
				return usagef("fdb del %q: %v", args[0], err)
			}
			if cmd.Flags().Changed("vlan") {
				if ref.VLAN != 0 && ref.VLAN != delVLAN {
					return usagef("fdb del %q --vlan %d: two different VLANs", args[0], delVLAN)
				}
				ref.VLAN = delVLAN
			}
			if ref.VLAN == 0 {
				ref.VLAN = fabric.DefaultVLAN
			}
			if ref.Port != "" {
				var entries []fabric.Entry
				if err := a.call("fdb.show", control.FDBShowArgs{VLAN: ref.VLAN}, &entries); err != nil {
					return err
				}
				for _, e := range entries {
					if e.MAC == ref.MAC && e.Port != ref.Port {
						return fmt.Errorf("fdb del: %s in VLAN %d is on port %s, not %s", ref.MAC, ref.VLAN, e.Port, ref.Port)
					}
				}
			}
			return a.call("fdb.del", control.FDBDelArgs{MAC: ref.MAC.String(), VLAN: ref.VLAN}, nil)
		},
	})
	del.Flags().Uint16Var(&delVLAN, "vlan", fabric.DefaultVLAN, "VLAN of the entry")
	var flushPort string
	flush := noFileCompletion(&cobra.Command{
		Use:   "flush [--port NAME]",
		Short: "forget learned entries (static ones stay)",
		Args:  noArgs(""),
		RunE: func(cmd *cobra.Command, _ []string) error {
			var r control.FlushResult
			if err := a.call("fdb.flush", control.FDBFlushArgs{Port: flushPort}, &r); err != nil {
				return err
			}
			fmt.Fprintf(a.stdout, "flushed %d learned entries\n", r.Flushed)
			return nil
		},
	})
	flush.Flags().StringVar(&flushPort, "port", "", "only this port's learned entries")
	flush.RegisterFlagCompletionFunc("port", a.completePorts)
	fdb.AddCommand(showCmd, add, del, flush)
	return fdb
}

func (a *app) portsCommand() *cobra.Command {
	var asJSON bool
	c := noFileCompletion(&cobra.Command{
		Use:   "ports [--json]",
		Short: "list ports and devices with their counters",
		Args:  noArgs(""),
		RunE: func(cmd *cobra.Command, _ []string) error {
			var ports []fabric.PortInfo
			if err := a.call("ports", nil, &ports); err != nil {
				return err
			}
			if asJSON {
				return printJSONList(a.stdout, ports)
			}
			tw := tabwriter.NewWriter(a.stdout, 0, 0, 2, ' ', 0)
			fmt.Fprintln(tw, "NAME\tKIND\tSTATE\tVLANS\tMTU\tRX_FRAMES\tRX_BYTES\tTX_FRAMES\tTX_BYTES\tFDB\tDROPS\tINFO")
			for _, p := range ports {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\t%d\t%d\t%d\t%d\t%d\t%s\t%s\n", p.Name, p.Kind, p.State,
					fabric.DescribeVLANs(p.VLAN, p.Trunk), p.MTU,
					p.Counters.RxFrames, p.Counters.RxBytes, p.Counters.TxFrames, p.Counters.TxBytes, p.FDB,
					formatDrops(p.Counters)+formatBackendDrops(p.BackendDrops), p.Info)
			}
			return tw.Flush()
		},
	})
	c.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return c
}

// formatDrops lists the non-zero drop counters, e.g. "runt=1,oversize=2",
// or "0".
func formatDrops(c fabric.Counters) string {
	var parts []string
	for _, d := range c.DropCounts() {
		if d.Count > 0 {
			parts = append(parts, fmt.Sprintf("%s=%d", d.Reason, d.Count))
		}
	}
	if len(parts) == 0 {
		return "0"
	}
	return strings.Join(parts, ",")
}

func (a *app) statsCommand() *cobra.Command {
	var asJSON bool
	c := noFileCompletion(&cobra.Command{
		Use:   "stats [--json]",
		Short: "fabric and learning-table counters",
		Args:  noArgs(""),
		RunE: func(cmd *cobra.Command, _ []string) error {
			var s fabric.Stats
			if err := a.call("stats", nil, &s); err != nil {
				return err
			}
			if asJSON {
				return printJSON(a.stdout, s)
			}
			tw := tabwriter.NewWriter(a.stdout, 0, 0, 2, ' ', 0)
			fmt.Fprintf(tw, "uptime\t%.0fs\n", s.Uptime)
			fmt.Fprintf(tw, "ports\t%d\n", s.Ports)
			fmt.Fprintf(tw, "devices\t%d\n", s.Devices)
			fmt.Fprintf(tw, "frames forwarded\t%d\n", s.Fabric.Forwarded)
			fmt.Fprintf(tw, "frames flooded\t%d\n", s.Fabric.Flooded)
			fmt.Fprintf(tw, "frames filtered\t%d\n", s.Fabric.Filtered)
			fmt.Fprintf(tw, "frames read\t%d (all ports, %d of them detached)\n", s.Totals.RxFrames, s.Detached)
			fmt.Fprintf(tw, "frames sent\t%d\n", s.Totals.TxFrames)
			fmt.Fprintf(tw, "drops\t%s\n", formatDrops(s.Totals))
			fmt.Fprintf(tw, "loop probes\t%d sent, %d returned\n", s.Totals.ProbesTx, s.Totals.Probes)
			fmt.Fprintf(tw, "unaccounted\t%d (frames read, neither forwarded, flooded, filtered, probes nor dropped; 0 once traffic stops)\n", s.Unaccounted())
			fmt.Fprintf(tw, "fdb entries\t%d (max %d, static %d)\n", s.FDB.Current, s.FDB.Max, s.FDB.Static)
			fmt.Fprintf(tw, "fdb pending\t%d static entries waiting for their port\n", s.PendingStatics)
			fmt.Fprintf(tw, "fdb learned\t%d\n", s.FDB.Learned)
			fmt.Fprintf(tw, "fdb moved\t%d\n", s.FDB.Moved)
			fmt.Fprintf(tw, "fdb expired\t%d\n", s.FDB.Expired)
			fmt.Fprintf(tw, "fdb evicted\t%d\n", s.FDB.Evicted)
			fmt.Fprintf(tw, "fdb aging\t%.0fs\n", s.FDBAging)
			return tw.Flush()
		},
	})
	c.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return c
}

func (a *app) attachCommand() *cobra.Command {
	return noFileCompletion(&cobra.Command{
		Use:     "attach KIND:ARG[,KEY=VALUE]...",
		Short:   "add a port at run time (see 'l2fabric help specs')",
		Example: "  l2fabric attach dgram:/tmp/vm9.sock,vlan=10",
		Args:    exactArgs(1, "one port spec, e.g. l2fabric attach dgram:/tmp/vm9.sock,vlan=10"),
		ValidArgsFunction: func(cmd *cobra.Command, args []string, toComplete string) ([]string, cobra.ShellCompDirective) {
			if len(args) > 0 {
				return nil, cobra.ShellCompDirectiveNoFileComp
			}
			return completeSpecKinds(clientKinds())(cmd, args, toComplete)
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			if _, _, _, err := clientKinds().Parse(args[0]); err != nil {
				return usagef("attach: %v", err)
			}
			var r control.AttachResult
			if err := a.call("attach", control.AttachArgs{Spec: args[0]}, &r); err != nil {
				return err
			}
			fmt.Fprintf(a.stdout, "attached %s\n", r.Name)
			return nil
		},
	})
}

func (a *app) detachCommand() *cobra.Command {
	return noFileCompletion(&cobra.Command{
		Use:   "detach NAME",
		Short: "remove a port or device (see l2fabric ports)",
		Args:  exactArgs(1, "a port or device name (see l2fabric ports)"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := a.call("detach", control.DetachArgs{Name: args[0]}, nil); err != nil {
				return err
			}
			fmt.Fprintf(a.stdout, "detached %s\n", args[0])
			return nil
		},
		ValidArgsFunction: func(cmd *cobra.Command, args []string, toComplete string) ([]string, cobra.ShellCompDirective) {
			if len(args) > 0 {
				return nil, cobra.ShellCompDirectiveNoFileComp
			}
			return a.completePorts(cmd, args, toComplete)
		},
	})
}

func (a *app) reloadCommand() *cobra.Command {
	return noFileCompletion(&cobra.Command{
		Use:   "reload",
		Short: "make the daemon re-read its --config file (as SIGHUP does)",
		Args:  noArgs(""),
		RunE: func(cmd *cobra.Command, _ []string) error {
			var r control.ReloadResult
			if err := a.call("reload", nil, &r); err != nil {
				return err
			}
			for _, n := range r.Detached {
				fmt.Fprintf(a.stdout, "detached %s\n", n)
			}
			for _, n := range r.Attached {
				fmt.Fprintf(a.stdout, "attached %s\n", n)
			}
			fmt.Fprintf(a.stdout, "%d unchanged, %d static entries added, %d removed\n", r.Unchanged, r.StaticsAdded, r.StaticsRemoved)
			for _, w := range r.Warnings {
				fmt.Fprintf(a.stdout, "warning: %s\n", w)
			}
			return nil
		},
	})
}

// completeSpecKinds completes the KIND: of a port spec (the rest is the
// kind's own: a path, an interface).
func completeSpecKinds(kinds fabric.Kinds) cobra.CompletionFunc {
	return func(_ *cobra.Command, _ []string, toComplete string) ([]string, cobra.ShellCompDirective) {
		if strings.Contains(toComplete, ":") {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		var out []string
		for _, k := range kinds {
			if strings.HasPrefix(k.Name, toComplete) {
				out = append(out, k.Name+":\t"+k.Summary)
			}
		}
		return out, cobra.ShellCompDirectiveNoSpace | cobra.ShellCompDirectiveNoFileComp
	}
}

// completeStatic completes the PORT of MAC@PORT with the daemon's ports.
func (a *app) completeStatic(cmd *cobra.Command, args []string, toComplete string) ([]string, cobra.ShellCompDirective) {
	mac, port, ok := strings.Cut(toComplete, "@")
	if len(args) > 0 || !ok {
		return nil, cobra.ShellCompDirectiveNoFileComp
	}
	names, dir := a.completePorts(cmd, nil, port)
	for i, n := range names {
		names[i] = mac + "@" + n
	}
	return names, dir
}

// completionTimeout bounds the daemon queries of shell completion: a
// missing daemon must not make the shell wait.
const completionTimeout = 500 * time.Millisecond

// completePorts completes the names of the running daemon's ports and
// devices, or nothing when it does not answer.
func (a *app) completePorts(cmd *cobra.Command, _ []string, toComplete string) ([]string, cobra.ShellCompDirective) {
	c, err := control.DialTimeout(a.control, completionTimeout)
	if err != nil {
		return nil, cobra.ShellCompDirectiveNoFileComp
	}
	defer c.Close()
	var ports []fabric.PortInfo
	if err := c.Call("ports", nil, &ports); err != nil {
		return nil, cobra.ShellCompDirectiveNoFileComp
	}
	var names []string
	for _, p := range ports {
		if strings.HasPrefix(p.Name, toComplete) {
			names = append(names, p.Name+"\t"+p.Kind+" "+p.State)
		}
	}
	return names, cobra.ShellCompDirectiveNoFileComp
}
