// Command l2fabric is a virtual Ethernet switch for VMs: a MAC-learning
// fabric connecting VM sockets, host NICs and the host's own bridge.
//
// 'l2fabric run' is the switch; fdb, ports, stats, attach, detach,
// reload, capture and monitor talk to a running one over its control socket; 'l2fabric help'
// lists them all. The command tree is the one place the commands, their
// flags and their help are written:
//
//   - commands.go: the tree, the global flags, exit status 2 for mistakes
//   - flags.go: the daemon's flags, each also a key of the --config file
//   - config.go: the TOML file, every error with its line and key
//   - runconfig.go: command line and file merged and checked
//   - run.go, reload.go: the daemon, and SIGHUP / reload applying the file
//   - client.go: the client commands and port-name completion
//   - capture.go, monitor.go: 'l2fabric capture' (pcapng, text) and
//     'l2fabric monitor', streams from the control socket
//   - vm.go: 'l2fabric vm', where VMs boot (macOS)
//   - topics.go: 'l2fabric help specs' and 'l2fabric help config'
//   - version.go: --version, from main.version and the VCS commit (or
//     main.commit, which make stamps)
//   - paths.go, kinds_*.go: default socket paths, this platform's port kinds
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

// commit is the commit this binary was built from, stamped at build time
// by make build and make release (-X main.commit=0123456789ab), for builds
// where Go records no VCS information; empty otherwise.
var commit string

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
