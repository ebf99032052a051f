package main

import (
	"context"
	"errors"
	"io"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// observeCommand runs a cobra client command (capture, monitor) from the
// pflag dispatcher in main.go, with the --control flag every client
// command takes. Once the command line is a cobra tree, the tree adds
// these commands itself and this goes.
func observeCommand(newCmd func(controlPath func() string, stdout, stderr io.Writer) *cobra.Command, args []string, stdout, stderr io.Writer) error {
	path := defaultControlPath()
	c := newCmd(func() string { return path }, stdout, stderr)
	c.Flags().StringVar(&path, "control", path, "control socket of the running l2fabric (env L2FABRIC_CONTROL)")
	c.SetArgs(args)
	c.SetOut(stdout)
	c.SetErr(stderr)
	c.SilenceErrors, c.SilenceUsage = true, true
	c.SetFlagErrorFunc(func(c *cobra.Command, err error) error {
		return usagef("%s: %v\nflags:\n%s", c.Name(), err, c.Flags().FlagUsages())
	})
	err := c.ExecuteContext(context.Background())
	if errors.Is(err, pflag.ErrHelp) {
		return nil
	}
	return err
}
