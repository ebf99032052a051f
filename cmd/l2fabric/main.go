// Command l2fabric is a virtual Ethernet switch for VMs: a MAC-learning
// fabric connecting VM sockets, host NICs and the host's own bridge.
//
// Usage:
//
//	l2fabric [run] --port KIND:ARG[,KEY=VALUE]... [flags]   run the switch
//	l2fabric fdb [--json] [--port NAME] [--vlan N]          dump the learning table
//	l2fabric fdb add MAC@PORT[,vlan=N]                      add a static entry
//	l2fabric fdb del MAC [--vlan N]                         remove an entry
//	l2fabric fdb flush [--port NAME]                        forget learned entries
//	l2fabric ports [--json]                                 list ports and counters
//	l2fabric stats [--json]                                 fabric and FDB counters
//	l2fabric attach KIND:ARG[,KEY=VALUE]...                 add a port at run time
//	l2fabric detach NAME                                    remove a port or device
//	l2fabric capture [--port NAME]... [--vlan N] [-w FILE|-] [-c N] [--duration D]
//	                                                        capture frames (pcapng or text)
//	l2fabric monitor [--json]                               watch FDB and port events
//	l2fabric vm create NAME --kernel PATH [flags]           define a VM for --port vm:NAME (macOS)
//	l2fabric vm list [--json]                               list the VMs defined (macOS)
//	l2fabric version
package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"runtime/debug"
	"strings"

	"github.com/l2fabric/l2fabric/backends/vm"
)

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

// Main runs l2fabric with args and returns the exit status.
func Main(args []string, stdout, stderr io.Writer) int {
	cmd, rest := "run", args
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		cmd, rest = args[0], args[1:]
	}
	var err error
	switch cmd {
	case "run":
		err = runDaemon(rest, stdout, stderr)
	case "fdb":
		err = fdbCommand(rest, stdout)
	case "ports":
		err = portsCommand(rest, stdout)
	case "stats":
		err = statsCommand(rest, stdout)
	case "attach":
		err = attachCommand(rest, stdout)
	case "detach":
		err = detachCommand(rest, stdout)
	case "capture":
		err = observeCommand(newCaptureCmd, rest, stdout, stderr)
	case "monitor":
		err = observeCommand(newMonitorCmd, rest, stdout, stderr)
	case "vm":
		err = vmCommand(rest, stdout)
	case "version":
		fmt.Fprintln(stdout, "l2fabric", version())
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage())
	default:
		err = usagef("unknown command %q", cmd)
	}
	if err == nil {
		return 0
	}
	fmt.Fprintln(stderr, "l2fabric:", err)
	var ue *usageError
	if errors.As(err, &ue) {
		fmt.Fprintln(stderr, "Run 'l2fabric help' for usage.")
		return exitUsage
	}
	return 1
}

func usage() string {
	var b strings.Builder
	b.WriteString(`l2fabric: a virtual Ethernet switch for VMs.

Usage:
  l2fabric [run] --port KIND:ARG[,KEY=VALUE]... [flags]   run the switch
  l2fabric fdb [--json] [--port NAME] [--vlan N]          dump the learning table
  l2fabric fdb add MAC@PORT[,vlan=N]                      add a static entry
  l2fabric fdb del MAC [--vlan N]                         remove an entry
  l2fabric fdb flush [--port NAME]                        forget learned entries
  l2fabric ports [--json]                                 list ports and counters
  l2fabric stats [--json]                                 fabric and FDB counters
  l2fabric attach KIND:ARG[,KEY=VALUE]...                 add a port at run time
  l2fabric detach NAME                                    remove a port or device
  l2fabric capture [--port NAME]... [--vlan N] [-w FILE|-] [-c N] [--duration D]
                                                          capture frames (pcapng or text)
  l2fabric monitor [--json]                               watch FDB and port events
  l2fabric vm create NAME --kernel PATH [flags]           define a VM for --port vm:NAME (macOS)
  l2fabric vm list [--json]                               list the VMs defined (macOS)
  l2fabric version

Port kinds on this platform:
`)
	for _, k := range platformKinds(nil) {
		fmt.Fprintf(&b, "  %-8s %s\n", k.Name, k.Summary)
		for _, f := range k.Forms {
			fmt.Fprintf(&b, "             %s\n", f)
		}
	}
	b.WriteString(`
Options every port accepts:
  name=NAME          port name (default: derived from ARG)
  vlan=N             access VLAN 1-4094 (default 1); on a trunk, the native VLAN
  trunk=LIST         carry these VLANs tagged: 10+20+100-199, or all
  mtu=N              68-65535 (default 1500)
  learning=on|off    learn source addresses (default on)
  flood=on|off       receive unknown unicast (default on)
  mac=MAC            admit only this source address (anti-spoofing)
  txqueue=N          transmit queue length in frames (default 2048)

Run 'l2fabric run --help' for the daemon's flags.
`)
	return b.String()
}

// vmCommand runs 'l2fabric vm ...': defining the VMs of vm: ports.
func vmCommand(args []string, stdout io.Writer) error {
	if !haveVMs {
		return usagef("vm: l2fabric boots VMs only on macOS")
	}
	err := vm.Command(args, stdout)
	if errors.Is(err, vm.ErrUsage) {
		return usagef("%v", err)
	}
	return err
}

// version returns the module version the binary was built from.
func version() string {
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		return bi.Main.Version
	}
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, s := range bi.Settings {
			if s.Key == "vcs.revision" && len(s.Value) >= 12 {
				return "devel-" + s.Value[:12]
			}
		}
	}
	return "devel"
}
