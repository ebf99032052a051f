package main

import (
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/spf13/pflag"

	"github.com/l2fabric/l2fabric/fabric"
	"github.com/l2fabric/l2fabric/fabric/control"
)

// clientFlags are the flags every client command takes.
func clientFlags(name string) (*pflag.FlagSet, *string) {
	fs := pflag.NewFlagSet("l2fabric "+name, pflag.ContinueOnError)
	fs.SetOutput(io.Discard)
	path := fs.String("control", defaultControlPath(), "control socket of the running l2fabric (env L2FABRIC_CONTROL)")
	return fs, path
}

func parseClient(fs *pflag.FlagSet, args []string, maxArgs int) error {
	if err := fs.Parse(args); err != nil {
		return usagef("%s: %v\nflags:\n%s", fs.Name(), err, fs.FlagUsages())
	}
	if fs.NArg() > maxArgs {
		return usagef("%s: unexpected argument %q", fs.Name(), fs.Arg(maxArgs))
	}
	return nil
}

// call runs one request against the daemon.
func call(path, command string, args, result any) error {
	c, err := control.Dial(path)
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

func fdbCommand(args []string, stdout io.Writer) error {
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		switch args[0] {
		case "show":
			args = args[1:]
		case "add":
			return fdbAdd(args[1:], stdout)
		case "del", "delete":
			return fdbDel(args[1:], stdout)
		case "flush":
			return fdbFlush(args[1:], stdout)
		default:
			return usagef("fdb: unknown subcommand %q: want show, add, del or flush", args[0])
		}
	}
	fs, path := clientFlags("fdb")
	asJSON := fs.Bool("json", false, "print JSON")
	port := fs.String("port", "", "only this port's entries")
	vlan := fs.Uint16("vlan", 0, "only this VLAN's entries")
	if err := parseClient(fs, args, 0); err != nil {
		return err
	}
	var entries []fabric.Entry
	if err := call(*path, "fdb.show", control.FDBShowArgs{Port: *port, VLAN: *vlan}, &entries); err != nil {
		return err
	}
	if *asJSON {
		if entries == nil {
			entries = []fabric.Entry{}
		}
		return printJSON(stdout, entries)
	}
	tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "PORT\tVLAN\tMAC\tAGE\tVIA")
	for _, e := range entries {
		age := strconv.Itoa(int(e.Age))
		if e.Static {
			age = "static"
		}
		fmt.Fprintf(tw, "%s\t%d\t%s\t%s\t%s\n", e.Port, e.VLAN, e.MAC, age, viaColumn(e.Via))
	}
	return tw.Flush()
}

func fdbAdd(args []string, stdout io.Writer) error {
	fs, path := clientFlags("fdb add")
	if err := parseClient(fs, args, 1); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return usagef("fdb add: want one MAC@PORT[,vlan=N][,dst=IP], e.g. l2fabric fdb add 52:54:00:12:34:56@router")
	}
	arg, dst := cutDst(fs.Arg(0))
	st, err := parseStatic(arg)
	if err != nil {
		return usagef("fdb add %q: %v", fs.Arg(0), err)
	}
	return call(*path, "fdb.add", control.FDBAddArgs{MAC: st.MAC.String(), Port: st.Port, VLAN: st.VLAN, Dst: dst}, nil)
}

func fdbDel(args []string, stdout io.Writer) error {
	fs, path := clientFlags("fdb del")
	vlan := fs.Uint16("vlan", fabric.DefaultVLAN, "VLAN of the entry")
	if err := parseClient(fs, args, 1); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return usagef("fdb del: want a MAC, e.g. l2fabric fdb del 52:54:00:12:34:56 --vlan 10")
	}
	return call(*path, "fdb.del", control.FDBDelArgs{MAC: fs.Arg(0), VLAN: *vlan}, nil)
}

func fdbFlush(args []string, stdout io.Writer) error {
	fs, path := clientFlags("fdb flush")
	port := fs.String("port", "", "only this port's learned entries")
	if err := parseClient(fs, args, 0); err != nil {
		return err
	}
	var r control.FlushResult
	if err := call(*path, "fdb.flush", control.FDBFlushArgs{Port: *port}, &r); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "flushed %d learned entries\n", r.Flushed)
	return nil
}

func portsCommand(args []string, stdout io.Writer) error {
	fs, path := clientFlags("ports")
	asJSON := fs.Bool("json", false, "print JSON")
	if err := parseClient(fs, args, 0); err != nil {
		return err
	}
	var ports []fabric.PortInfo
	if err := call(*path, "ports", nil, &ports); err != nil {
		return err
	}
	if *asJSON {
		if ports == nil {
			ports = []fabric.PortInfo{}
		}
		return printJSON(stdout, ports)
	}
	tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tKIND\tSTATE\tVLANS\tMTU\tRX_FRAMES\tRX_BYTES\tTX_FRAMES\tTX_BYTES\tFDB\tDROPS\tINFO")
	for _, p := range ports {
		vlans := fmt.Sprintf("access %d", p.VLAN)
		if p.Trunk != "" {
			vlans = "trunk " + p.Trunk
			if p.VLAN != 0 {
				vlans += fmt.Sprintf(" native %d", p.VLAN)
			}
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\t%d\t%d\t%d\t%d\t%d\t%s\t%s\n", p.Name, p.Kind, p.State, vlans, p.MTU,
			p.Counters.RxFrames, p.Counters.RxBytes, p.Counters.TxFrames, p.Counters.TxBytes, p.FDB,
			formatDrops(p.Counters)+formatBackendDrops(p.BackendDrops), p.Info)
	}
	return tw.Flush()
}

// formatDrops lists the non-zero drop counters, e.g. "runt=1,oversize=2",
// or "0".
func formatDrops(c fabric.Counters) string {
	b, _ := json.Marshal(c)
	var m map[string]uint64
	json.Unmarshal(b, &m)
	var parts []string
	for k, v := range m {
		if strings.HasPrefix(k, "drop_") && v > 0 {
			parts = append(parts, fmt.Sprintf("%s=%d", strings.TrimPrefix(k, "drop_"), v))
		}
	}
	if len(parts) == 0 {
		return "0"
	}
	sort.Strings(parts)
	return strings.Join(parts, ",")
}

func statsCommand(args []string, stdout io.Writer) error {
	fs, path := clientFlags("stats")
	asJSON := fs.Bool("json", false, "print JSON")
	if err := parseClient(fs, args, 0); err != nil {
		return err
	}
	var s fabric.Stats
	if err := call(*path, "stats", nil, &s); err != nil {
		return err
	}
	if *asJSON {
		return printJSON(stdout, s)
	}
	tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "uptime\t%.0fs\n", s.Uptime)
	fmt.Fprintf(tw, "ports\t%d\n", s.Ports)
	fmt.Fprintf(tw, "frames forwarded\t%d\n", s.Fabric.Forwarded)
	fmt.Fprintf(tw, "frames flooded\t%d\n", s.Fabric.Flooded)
	fmt.Fprintf(tw, "frames filtered\t%d\n", s.Fabric.Filtered)
	fmt.Fprintf(tw, "fdb entries\t%d (max %d, static %d)\n", s.FDB.Current, s.FDB.Max, s.FDB.Static)
	fmt.Fprintf(tw, "fdb learned\t%d\n", s.FDB.Learned)
	fmt.Fprintf(tw, "fdb moved\t%d\n", s.FDB.Moved)
	fmt.Fprintf(tw, "fdb expired\t%d\n", s.FDB.Expired)
	fmt.Fprintf(tw, "fdb evicted\t%d\n", s.FDB.Evicted)
	fmt.Fprintf(tw, "fdb aging\t%.0fs\n", s.FDBAging)
	return tw.Flush()
}

func attachCommand(args []string, stdout io.Writer) error {
	fs, path := clientFlags("attach")
	if err := parseClient(fs, args, 1); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return usagef("attach: want one port spec, e.g. l2fabric attach dgram:/tmp/vm9.sock,vlan=10")
	}
	if _, _, _, err := clientKinds().Parse(fs.Arg(0)); err != nil {
		return usagef("attach: %v", err)
	}
	var r control.AttachResult
	if err := call(*path, "attach", control.AttachArgs{Spec: fs.Arg(0)}, &r); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "attached %s\n", r.Name)
	return nil
}

func detachCommand(args []string, stdout io.Writer) error {
	fs, path := clientFlags("detach")
	if err := parseClient(fs, args, 1); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return usagef("detach: want a port or device name (see l2fabric ports)")
	}
	if err := call(*path, "detach", control.DetachArgs{Name: fs.Arg(0)}, nil); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "detached %s\n", fs.Arg(0))
	return nil
}
