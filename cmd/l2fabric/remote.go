package main

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/spf13/cobra"

	"github.com/l2fabric/l2fabric/fabric/control"
)

// The client side of tunnel ports (vxlan): their remotes, the VTEP column
// of fdb, dst= on fdb add and their own drop reasons in ports.

// viaColumn formats an fdb entry's remote endpoint: "via 10.0.0.1", or "-".
func viaColumn(via string) string {
	if via == "" {
		return "-"
	}
	return "via " + via
}

// cutDst takes a ",dst=IP" option out of a static entry MAC@PORT[,...],
// returning the rest and the IP ("" when absent).
func cutDst(s string) (rest, dst string) {
	parts := strings.Split(s, ",")
	keep := parts[:1]
	for _, p := range parts[1:] {
		if v, ok := strings.CutPrefix(p, "dst="); ok {
			dst = v
			continue
		}
		keep = append(keep, p)
	}
	return strings.Join(keep, ","), dst
}

// formatBackendDrops appends a backend's own drops, ",reason=N" each, in
// the order of their names.
func formatBackendDrops(m map[string]uint64) string {
	var b strings.Builder
	for _, k := range slices.Sorted(maps.Keys(m)) {
		fmt.Fprintf(&b, ",%s=%d", k, m[k])
	}
	return b.String()
}

// vxlanCommand is 'l2fabric vxlan remote add|del|list PORT [IP]'.
func (a *app) vxlanCommand() *cobra.Command {
	remote := func(op string) *cobra.Command {
		use, n, want := op+" PORT IP", 2, "a vxlan port and a remote VTEP's address, e.g. l2fabric vxlan remote "+op+" vx 10.0.0.3"
		if op == "list" {
			use, n, want = "list PORT", 1, "a vxlan port, e.g. l2fabric vxlan remote list vx"
		}
		short := map[string]string{"add": "flood to one more remote VTEP", "del": "stop flooding to a remote VTEP", "list": "list the remote VTEPs flooded to"}[op]
		return noFileCompletion(&cobra.Command{
			Use:   use,
			Short: short,
			Args:  exactArgs(n, want),
			RunE: func(cmd *cobra.Command, args []string) error {
				req := control.RemoteArgs{Port: args[0], Op: op}
				if n == 2 {
					req.Remote = args[1]
				}
				var r control.RemotesResult
				if err := a.call("vxlan.remote", req, &r); err != nil {
					return err
				}
				for _, x := range r.Remotes {
					fmt.Fprintln(a.stdout, x)
				}
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
	remotes := noFileCompletion(&cobra.Command{
		Use:   "remote add|del|list PORT [IP]",
		Short: "a vxlan port's remote VTEPs: the flood list of head-end replication",
		Args:  noArgs("add, del or list"),
	})
	remotes.AddCommand(remote("add"), remote("del"), remote("list"))
	c := noFileCompletion(&cobra.Command{
		Use:   "vxlan remote add|del|list PORT [IP]",
		Short: "change or list a vxlan port's remote VTEPs",
		Args:  noArgs("remote"),
	})
	c.AddCommand(remotes)
	return c
}
