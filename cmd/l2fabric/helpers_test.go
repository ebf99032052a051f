package main

import (
	"testing"
)

// parseRun parses a daemon command line as 'l2fabric run' does and builds
// its configuration, without starting anything.
func parseRun(t *testing.T, args ...string) (*runConfig, error) {
	t.Helper()
	fs, _ := daemonFlagSet()
	if err := fs.Parse(args); err != nil {
		t.Fatalf("%v: %v", args, err)
	}
	return loadRunConfig(changedFlags(fs))
}
