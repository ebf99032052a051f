// Command l2fabric is a virtual Ethernet switch for VMs: a MAC-learning
// fabric connecting VM sockets, host NICs and the host's own bridge.
//
// Usage:
//
//	l2fabric run --port KIND:ARG[,KEY=VALUE]... [--config FILE] [flags]   run the switch (also: l2fabric [flags])
//	l2fabric fdb [--json] [--port NAME] [--vlan N]          dump the learning table
//	l2fabric fdb add MAC@PORT[,vlan=N]                      add a static entry
//	l2fabric fdb del MAC [--vlan N]                         remove an entry
//	l2fabric fdb flush [--port NAME]                        forget learned entries
//	l2fabric ports [--json]                                 list ports and counters
//	l2fabric stats [--json]                                 fabric and FDB counters
//	l2fabric attach KIND:ARG[,KEY=VALUE]...                 add a port at run time
//	l2fabric detach NAME                                    remove a port or device
//	l2fabric reload                                         re-read the daemon's --config file
//	l2fabric vm create|list|convert                         VM definitions (macOS)
//	l2fabric completion bash|zsh|fish                       shell completion
//	l2fabric version                                        (or --version)
//
// The commands are one cobra command tree (commands.go): help, completion
// and the errors for unknown commands come from it. --control, --timeout,
// --log-level and --log-json are global: they go before or after the
// subcommand.
package main

import (
	"errors"
	"fmt"
	"io"
	"os"
)

// version is the release this binary is, stamped at build time with
// -ldflags "-X main.version=v1.2.3"; empty for a development build.
var version string

// exitUsage is the exit status for a malformed command line.
const exitUsage = 2

// usageError is a command-line mistake: it is printed with a pointer to
// --help and exits with status 2.
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

func usagef(format string, args ...any) error {
	return &usageError{msg: fmt.Sprintf(format, args...)}
}

func main() {
	os.Exit(Main(os.Args[1:], os.Stdout, os.Stderr))
}

// Main runs l2fabric with args and returns the exit status: 0, 1 for a
// failure, 2 for a malformed command line.
func Main(args []string, stdout, stderr io.Writer) int {
	root := newApp(stdout, stderr).rootCommand()
	root.SetArgs(args)
	cmd, err := root.ExecuteC()
	if err == nil {
		return 0
	}
	fmt.Fprintln(stderr, "l2fabric:", err)
	var ue *usageError
	if errors.As(err, &ue) {
		if cmd == nil || !cmd.HasParent() {
			// The root's own flags are the daemon's, listed by run --help.
			fmt.Fprintln(stderr, "Run 'l2fabric --help' for the commands, 'l2fabric run --help' for the daemon's flags.")
		} else {
			fmt.Fprintf(stderr, "Run '%s --help' for usage.\n", cmd.CommandPath())
		}
		return exitUsage
	}
	return 1
}
