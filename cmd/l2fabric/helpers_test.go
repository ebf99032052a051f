package main

import (
	"testing"

	"github.com/spf13/pflag"
)

// parseRun parses a daemon command line as 'l2fabric run' does and builds
// its configuration, without starting anything.
func parseRun(t *testing.T, args ...string) (*runConfig, error) {
	t.Helper()
	fs := pflag.NewFlagSet("run", pflag.ContinueOnError)
	var v daemonValues
	registerGlobalFlags(fs, &v.globals)
	registerDaemonFlags(fs, &v)
	if err := fs.Parse(args); err != nil {
		t.Fatalf("%v: %v", args, err)
	}
	return loadRunConfig(changedFlags(fs))
}
