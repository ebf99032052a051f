package main

import (
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"

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
func vxlanCommand(args []string, stdout io.Writer) error {
	const form = "want: l2fabric vxlan remote add PORT IP | del PORT IP | list PORT"
	if len(args) < 2 || args[0] != "remote" {
		return usagef("vxlan: %s", form)
	}
	op := args[1]
	fs, path := clientFlags("vxlan remote " + op)
	want := 2
	if op == "list" {
		want = 1
	} else if op != "add" && op != "del" {
		return usagef("vxlan remote: unknown operation %q (%s)", op, form)
	}
	if err := parseClient(fs, args[2:], want); err != nil {
		return err
	}
	if fs.NArg() != want {
		return usagef("vxlan remote %s: %s", op, form)
	}
	a := control.RemoteArgs{Port: fs.Arg(0), Op: op}
	if want == 2 {
		a.Remote = fs.Arg(1)
	}
	var r control.RemotesResult
	if err := call(*path, "vxlan.remote", a, &r); err != nil {
		return err
	}
	for _, x := range r.Remotes {
		fmt.Fprintln(stdout, x)
	}
	return nil
}
