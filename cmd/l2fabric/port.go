package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/l2fabric/l2fabric/fabric/control"
)

// portCommand is 'l2fabric port', the commands on one port of a running
// switch: 'port unblock NAME' opens a port loop protection blocked (it
// shows as "blocked (loop with PORT)" in 'l2fabric ports') at once rather
// than after its hold-down.
func (a *app) portCommand() *cobra.Command {
	port := noFileCompletion(&cobra.Command{
		Use:   "port",
		Short: "act on one port: unblock a port blocked as looped",
		Args:  noArgs(""),
		RunE: func(cmd *cobra.Command, _ []string) error {
			return usagef("port: want a subcommand: %s", "unblock NAME")
		},
	})
	port.AddCommand(&cobra.Command{
		Use:   "unblock NAME",
		Short: "unblock a port blocked as looped; it is blocked again if the loop is still there",
		Args:  exactArgs(1, `one port name, e.g. l2fabric port unblock eth1 (blocked ports show as "blocked (loop with PORT)" in l2fabric ports)`),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := a.call("port.unblock", control.PortArgs{Name: args[0]}, nil); err != nil {
				return err
			}
			fmt.Fprintf(a.stdout, "unblocked %s\n", args[0])
			return nil
		},
		ValidArgsFunction: func(cmd *cobra.Command, args []string, toComplete string) ([]string, cobra.ShellCompDirective) {
			if len(args) > 0 {
				return nil, cobra.ShellCompDirectiveNoFileComp
			}
			return a.completePorts(cmd, args, toComplete)
		},
	})
	return port
}
