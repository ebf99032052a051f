package main

import (
	"fmt"
	"strconv"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/l2fabric/l2fabric/fabric"
	"github.com/l2fabric/l2fabric/fabric/control"
)

// macnatCommand is 'l2fabric macnat [PORT] [--json]': the MAC-NAT tables
// of the host ports that translate (Wi-Fi), each address with the MAC of
// the VM that uses it, the port the VM is behind and the seconds since it
// last sent from it.
func (a *app) macnatCommand() *cobra.Command {
	var asJSON bool
	c := noFileCompletion(&cobra.Command{
		Use:   "macnat [PORT] [--json]",
		Short: "dump the MAC-NAT tables of host ports on Wi-Fi (which VM uses which address)",
		Long: `Dump the MAC-NAT table of each host port that translates (macnat=on, or
auto on a Wi-Fi interface), or of PORT only: every address the VMs behind
the fabric use, the VM's MAC, the port it is behind and the seconds since it
last sent from the address, and the host's own addresses, which no VM can
take over.`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) > 1 {
				return usagef("%s: unexpected argument %q: want at most one port name", pathOf(cmd), args[1])
			}
			return nil
		},
		ValidArgsFunction: a.completePorts,
		RunE: func(cmd *cobra.Command, args []string) error {
			var port string
			if len(args) == 1 {
				port = args[0]
			}
			var entries []fabric.NATDumpEntry
			if err := a.call("macnat.show", control.MACNATShowArgs{Port: port}, &entries); err != nil {
				return err
			}
			if asJSON {
				return printJSONList(a.stdout, entries)
			}
			tw := tabwriter.NewWriter(a.stdout, 0, 0, 2, ' ', 0)
			fmt.Fprintln(tw, "ON\tIP\tMAC\tPORT\tAGE")
			for _, e := range entries {
				port, age := e.Port, strconv.Itoa(int(e.Age))
				switch {
				case e.Host:
					port, age = "(host)", "-"
				case port == "":
					port = "?"
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", e.NATPort, e.IP, e.MAC, port, age)
			}
			return tw.Flush()
		},
	})
	c.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return c
}
