package main

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strings"

	"github.com/spf13/cobra"

	"github.com/l2fabric/l2fabric/internal/service"
)

// serviceFlagsHelp documents the flags 'service print' and 'service
// install' take themselves; every other argument is the daemon's.
const serviceFlagsHelp = `Flags of the service command itself:
      --binary PATH   the l2fabric the service runs (default: this one, %s)
      --label LABEL   the service's name (default org.l2fabric; the unit is l2fabric.service)
      --log FILE      where launchd appends the daemon's output (default /var/log/l2fabric.log)
      --for OS        print: the file for macos (launchd) or linux (systemd) (default: this system)
  -h, --help          this help

Every other argument is the daemon's, checked now as 'l2fabric run' would
(unless --for names another system than this one), and becomes the
service's command line: --port ..., --user ..., --config FILE...
Arguments after "--" are the daemon's whatever they look like.
`

// serviceOptions are a print or install command line, split.
type serviceOptions struct {
	binary, label, log, goos string
	daemonArgs               []string
	help                     bool
}

// parseServiceArgs takes the service command's own flags out of args
// (--flag VALUE or --flag=VALUE) and leaves the rest, in order, as the
// daemon's. allowFor says whether --for is accepted.
func parseServiceArgs(args []string, allowFor bool) (serviceOptions, error) {
	o := serviceOptions{goos: runtime.GOOS}
	own := map[string]*string{"--binary": &o.binary, "--label": &o.label, "--log": &o.log}
	if allowFor {
		own["--for"] = &o.goos
	}
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			o.daemonArgs = append(o.daemonArgs, args[i+1:]...)
			break
		}
		if a == "-h" || a == "--help" {
			o.help = true
			continue
		}
		name, value, hasValue := strings.Cut(a, "=")
		p, ok := own[name]
		if !ok {
			o.daemonArgs = append(o.daemonArgs, a)
			continue
		}
		if !hasValue {
			if i+1 >= len(args) {
				return o, usagef("%s needs a value", name)
			}
			i++
			value = args[i]
		}
		if value == "" {
			return o, usagef("%s: empty value", name)
		}
		*p = value
	}
	return o, nil
}

// spec turns the options into a service spec, checking the daemon's
// arguments with checkDaemonArgs.
func (o serviceOptions) spec(command string, checkDaemonArgs func([]string) error) (service.Manager, service.Spec, error) {
	m, err := service.ManagerFor(o.goos)
	if err != nil {
		return "", service.Spec{}, usagef("--for: %v", err)
	}
	if err := absoluteConfig(o.daemonArgs); err != nil {
		return "", service.Spec{}, err
	}
	// The daemon's arguments can be checked only against this
	// platform's port kinds.
	if o.goos == runtime.GOOS || (o.goos == "macos" && runtime.GOOS == "darwin") {
		if err := checkDaemonArgs(o.daemonArgs); err != nil {
			return "", service.Spec{}, err
		}
	}
	bin := o.binary
	if bin == "" {
		if bin, err = os.Executable(); err != nil {
			return "", service.Spec{}, fmt.Errorf("finding this binary: %w (give --binary PATH)", err)
		}
	}
	return m, service.Spec{Binary: bin, Args: o.daemonArgs, Label: o.label, Log: o.log, Command: command}, nil
}

// absoluteConfig refuses a relative --config: a service runs from /.
func absoluteConfig(args []string) error {
	for i, a := range args {
		path, ok := strings.CutPrefix(a, "--config=")
		if a == "--config" && i+1 < len(args) {
			path, ok = args[i+1], true
		}
		if ok && !filepath.IsAbs(path) {
			return usagef("--config %s: a service runs from /, so give the file's absolute path", path)
		}
	}
	return nil
}

// generatorCommand is the command line a file records as its origin.
func generatorCommand(sub string, args []string) string {
	words := []string{"l2fabric", "service", sub}
	for _, a := range args {
		if a == "" || strings.ContainsAny(a, " \t'\"\\$`;&|<>()*?[]#~") {
			a = "'" + strings.ReplaceAll(a, "'", `'\''`) + "'"
		}
		words = append(words, a)
	}
	return strings.Join(words, " ")
}

// newServiceCmd returns 'l2fabric service install|uninstall|print': the
// daemon as a launchd daemon (macOS) or systemd unit (Linux) that starts
// at boot. checkDaemonArgs checks the daemon's arguments as 'l2fabric
// run' would parse them, so that a mistake shows now, not at boot.
func newServiceCmd(checkDaemonArgs func([]string) error) *cobra.Command {
	c := &cobra.Command{
		Use:   "service install|uninstall|print [--config FILE | daemon flags]",
		Short: "start l2fabric at boot: a launchd daemon (macOS) or a systemd unit (Linux)",
		Long: `Make l2fabric a service that starts at boot, with the daemon's flags (or
--config FILE) as its command line:

  sudo l2fabric service install --port host:en6 --port vm:router --port feth:bridge1 --user nobody
  sudo l2fabric service uninstall
  l2fabric service print --port ...            the file, for review or packaging

On macOS it is a launchd daemon, /Library/LaunchDaemons/org.l2fabric.plist:
started at boot, restarted whenever it exits, SIGTERM on stop with 40 s
to shut VMs down, output appended to /var/log/l2fabric.log. On Linux it
is a systemd unit, /etc/systemd/system/l2fabric.service: started after
network.target, restarted when it fails, output to the journal.`,
		Args: cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error { return usagef("service: want install, uninstall or print") },
	}
	self, _ := os.Executable()
	flagsHelp := fmt.Sprintf(serviceFlagsHelp, self)
	printCmd := &cobra.Command{
		Use:                "print [--for macos|linux] [--binary PATH] [--label LABEL] [--log FILE] [daemon flags]",
		Short:              "print the service file without installing it",
		DisableFlagParsing: true,
		RunE: func(c *cobra.Command, args []string) error {
			o, err := parseServiceArgs(args, true)
			if err != nil || o.help {
				if err == nil {
					fmt.Fprintf(c.OutOrStdout(), "Usage: l2fabric service %s\n\n%s", c.Use, flagsHelp)
				}
				return err
			}
			m, spec, err := o.spec(generatorCommand("print", args), checkDaemonArgs)
			if err != nil {
				return err
			}
			b, err := service.Render(m, spec)
			if err != nil {
				return usagef("%v", err)
			}
			_, err = c.OutOrStdout().Write(b)
			return err
		},
	}
	installCmd := &cobra.Command{
		Use:                "install [--binary PATH] [--label LABEL] [--log FILE] [daemon flags]",
		Short:              "install the service and start it, now and at every boot (as root)",
		DisableFlagParsing: true,
		RunE: func(c *cobra.Command, args []string) error {
			o, err := parseServiceArgs(args, false)
			if err != nil || o.help {
				if err == nil {
					fmt.Fprintf(c.OutOrStdout(), "Usage: l2fabric service %s\n\n%s", c.Use, flagsHelp)
				}
				return err
			}
			m, spec, err := o.spec(generatorCommand("install", args), checkDaemonArgs)
			if err != nil {
				return err
			}
			b, err := service.Render(m, spec)
			if err != nil {
				return usagef("%v", err)
			}
			if os.Geteuid() != 0 {
				return fmt.Errorf("service install writes %s and starts the service: run it as root (sudo)", service.Path(m, o.label))
			}
			if err := service.Install(service.LocalSystem(), m, o.label, b); err != nil {
				return err
			}
			fmt.Fprintf(c.OutOrStdout(), "installed %s and started it; it starts at every boot\n", service.Path(m, o.label))
			return nil
		},
	}
	var label string
	uninstallCmd := &cobra.Command{
		Use:   "uninstall [--label LABEL]",
		Short: "stop the service and remove it (as root)",
		Args:  cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			m, err := service.ManagerFor(runtime.GOOS)
			if err != nil {
				return err
			}
			if os.Geteuid() != 0 {
				return fmt.Errorf("service uninstall stops the service and removes %s: run it as root (sudo)", service.Path(m, label))
			}
			if err := service.Uninstall(service.LocalSystem(), m, label); err != nil {
				return err
			}
			fmt.Fprintf(c.OutOrStdout(), "stopped the service and removed %s\n", service.Path(m, label))
			return nil
		},
	}
	uninstallCmd.Flags().StringVar(&label, "label", "", "the service's name (default org.l2fabric)")
	c.AddCommand(printCmd, installCmd, uninstallCmd)
	return c
}

// checkRunArgs checks daemon arguments as 'l2fabric run' parses them.
func checkRunArgs(args []string) error {
	fs, _ := daemonFlagSet()
	fs.SetOutput(io.Discard)
	if err := fs.Parse(args); err != nil {
		return usagef("%v", err)
	}
	if fs.NArg() > 0 {
		return usagef("unexpected argument %q: ports are given with --port KIND:ARG", fs.Arg(0))
	}
	_, err := loadRunConfig(changedFlags(fs))
	return err
}
