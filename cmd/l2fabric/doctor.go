package main

import (
	"context"
	"errors"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/l2fabric/l2fabric/backends/doctor"
	"github.com/l2fabric/l2fabric/fabric"
)

// errChecksFailed is doctor's error when a check failed: the output says
// which and how to fix it; the exit status is 1.
var errChecksFailed = errors.New("doctor: a check failed (see its fix above)")

// newDoctorCmd returns 'l2fabric doctor [--json] [SPEC...]': the checks
// the given port specs (or, with none, every kind of the platform) rely
// on. kinds are the platform's port kinds, to check the specs' syntax.
func newDoctorCmd(kinds fabric.Kinds) *cobra.Command {
	var asJSON bool
	c := &cobra.Command{
		Use:   "doctor [SPEC...]",
		Short: "check that this machine can run the given ports",
		Long: `Check, on this machine, what the given port specs rely on (with none,
every port kind of this platform): for each check a line PASS, FAIL or
SKIP, what was tested and, for a failure, the fix. It exits with status 1
when a check fails. Whatever it creates to test (a TAP, a feth pair, a
socket) it destroys before it exits.

Run it as the daemon would run (as root for host, tap and feth ports):

  sudo l2fabric doctor host:en0 feth:bridge1 vm:router     (macOS)
  sudo l2fabric doctor host:eth0 tap:tap0 feth:br0         (Linux)`,
		Example: "  sudo l2fabric doctor --json host:en0 feth:bridge1 vm:router > doctor.json",
		RunE: func(c *cobra.Command, specs []string) error {
			targets, err := doctor.Targets(specs, kinds, doctor.Defaults())
			if err != nil {
				return usagef("%v", err)
			}
			ctx, stop := signal.NotifyContext(contextOf(c), syscall.SIGINT, syscall.SIGTERM)
			defer stop()
			results := doctor.Run(ctx, doctor.Plan(targets, doctor.ChecksFor))
			write := doctor.WriteText
			if asJSON {
				write = doctor.WriteJSON
			}
			if err := write(c.OutOrStdout(), results); err != nil {
				return err
			}
			if doctor.Failed(results) {
				return errChecksFailed
			}
			return nil
		},
	}
	c.Flags().BoolVar(&asJSON, "json", false, "print the results as a JSON array of {name, status, detail, fix}")
	return c
}

// contextOf is the command's context, or a background one.
func contextOf(c *cobra.Command) context.Context {
	if ctx := c.Context(); ctx != nil {
		return ctx
	}
	return context.Background()
}
