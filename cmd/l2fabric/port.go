package main

import (
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/l2fabric/l2fabric/fabric/control"
)

// newPortCmd returns 'l2fabric port', the commands on one port of a
// running switch: 'port unblock NAME' opens a port loop protection blocked
// (see 'l2fabric ports'), at once rather than after its hold-down. call
// runs one control request against the daemon.
func newPortCmd(call func(command string, args, result any) error, stdout io.Writer) *cobra.Command {
	port := &cobra.Command{
		Use:   "port unblock NAME",
		Short: "act on one port: unblock a port loop protection blocked",
		Args:  cobra.ArbitraryArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) == 0 {
				return usagef("port: want a subcommand: unblock NAME")
			}
			return usagef("port: unknown subcommand %q: want unblock NAME", args[0])
		},
	}
	port.AddCommand(&cobra.Command{
		Use:   "unblock NAME",
		Short: "unblock a port blocked as looped; if the loop is still there it is blocked again",
		Args:  cobra.ArbitraryArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) != 1 {
				return usagef("port unblock: want one port name, e.g. l2fabric port unblock eth1 (blocked ports show as \"blocked (loop with PORT)\" in l2fabric ports)")
			}
			if err := call("port.unblock", control.PortArgs{Name: args[0]}, nil); err != nil {
				return err
			}
			fmt.Fprintf(stdout, "unblocked %s\n", args[0])
			return nil
		},
	})
	return port
}

// portCommand runs 'l2fabric port ...' from the dispatcher in main.go,
// with the --control flag every client command takes.
func portCommand(args []string, stdout io.Writer) error {
	path := defaultControlPath()
	root := &cobra.Command{Use: "l2fabric", SilenceErrors: true, SilenceUsage: true}
	root.PersistentFlags().StringVar(&path, "control", path, "control socket of the running l2fabric (env L2FABRIC_CONTROL)")
	root.AddCommand(newPortCmd(func(command string, a, r any) error { return call(path, command, a, r) }, stdout))
	root.SetArgs(append([]string{"port"}, args...))
	root.SetOut(stdout)
	root.SetErr(io.Discard)
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usagef("port: %v", err) })
	return root.Execute()
}
