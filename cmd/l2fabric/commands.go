package main

import (
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// app is one run of the command line: where it writes, and the global
// flags every command sees.
type app struct {
	stdout, stderr io.Writer
	globals
}

func newApp(stdout, stderr io.Writer) *app {
	return &app{stdout: stdout, stderr: stderr}
}

// rootCommand builds the command tree: the one table that dispatch, help
// and completion come from.
func (a *app) rootCommand() *cobra.Command {
	var compat daemonValues
	root := &cobra.Command{
		Use:   "l2fabric",
		Short: "a virtual Ethernet switch for VMs",
		Long: `l2fabric is a MAC-learning Ethernet switch in user space, connecting VM
sockets, host NICs and the host's bridge.

Run the switch with 'l2fabric run'; the other commands talk to a running one
over its control socket. l2fabric with flags and no command runs the switch
too, as earlier versions did.`,
		Version:       versionString(),
		SilenceErrors: true,
		SilenceUsage:  true,
		Args:          unknownCommand,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runDaemon(changedFlags(cmd.Flags()), a.stderr)
		},
		ValidArgsFunction: cobra.NoFileCompletions,
	}
	root.SetOut(a.stdout)
	root.SetErr(a.stderr)
	root.SetVersionTemplate("l2fabric {{.Version}}\n")
	registerGlobalFlags(root.PersistentFlags(), &a.globals)
	// The daemon's flags work without 'run', as before it existed, but
	// are listed under 'run --help' only.
	registerDaemonFlags(root.Flags(), &compat)
	root.Flags().VisitAll(func(f *pflag.Flag) { f.Hidden = true })
	root.SetFlagErrorFunc(flagError)
	root.AddGroup(&cobra.Group{ID: "daemon", Title: "The switch:"}, &cobra.Group{ID: "client", Title: "Commands for a running switch:"})
	root.AddCommand(runCommand(a))
	controlPath := func() string { return a.control }
	capture := noFileCompletion(newCaptureCmd(controlPath, a.stdout, a.stderr))
	capture.RegisterFlagCompletionFunc("port", a.completePorts)
	for _, c := range []*cobra.Command{a.fdbCommand(), a.portsCommand(), a.statsCommand(), a.attachCommand(), a.detachCommand(), a.portCommand(), a.reloadCommand(), a.macnatCommand(), a.vxlanCommand(),
		capture, noFileCompletion(newMonitorCmd(controlPath, a.stdout, a.stderr))} {
		c.GroupID = "client"
		root.AddCommand(c)
	}
	if haveVMs {
		root.AddCommand(a.vmCommand())
	}
	root.AddCommand(newDoctorCmd(clientKinds()), newServiceCmd(checkRunArgs))
	root.AddCommand(a.versionCommand(), specsTopic(), configTopic())
	root.SetHelpCommand(helpCommand())
	root.InitDefaultCompletionCmd()
	for _, c := range root.Commands() {
		if c.Name() == "completion" {
			c.Args = noArgs("")
			c.RunE = func(cmd *cobra.Command, _ []string) error {
				return usagef("completion: want a shell: %s", strings.Join(commandNames(cmd), ", "))
			}
		}
	}
	return root
}

// helpCommand is 'l2fabric help [COMMAND]...': the help of a command or
// topic, on stdout; an unknown one is a usage error.
func helpCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "help [command]",
		Short: "help about any command, or a topic: specs, config",
		RunE: func(c *cobra.Command, args []string) error {
			cmd, rest, err := c.Root().Find(args)
			if err != nil || len(rest) > 0 {
				parent := cmd
				if parent == nil {
					parent = c.Root()
				}
				return usagef("help: no command %q; commands: %s", strings.Join(args, " "), strings.Join(commandNames(parent), ", "))
			}
			cmd.InitDefaultHelpFlag()
			cmd.InitDefaultVersionFlag()
			return cmd.Help()
		},
		ValidArgsFunction: func(c *cobra.Command, args []string, toComplete string) ([]string, cobra.ShellCompDirective) {
			cmd, _, err := c.Root().Find(args)
			if err != nil {
				return nil, cobra.ShellCompDirectiveNoFileComp
			}
			var names []string
			for _, sub := range cmd.Commands() {
				if (sub.IsAvailableCommand() || sub.IsAdditionalHelpTopicCommand()) && strings.HasPrefix(sub.Name(), toComplete) {
					names = append(names, sub.Name()+"\t"+sub.Short)
				}
			}
			return names, cobra.ShellCompDirectiveNoFileComp
		},
	}
}

// pathOf names cmd in messages: "fdb add", or "l2fabric" for the root.
func pathOf(cmd *cobra.Command) string {
	if !cmd.HasParent() {
		return cmd.Name()
	}
	return strings.TrimPrefix(cmd.CommandPath(), cmd.Root().Name()+" ")
}

// runCommand is 'l2fabric run': the daemon.
func runCommand(a *app) *cobra.Command {
	var v daemonValues
	c := &cobra.Command{
		Use:     "run [--config FILE] [--port KIND:ARG[,KEY=VALUE]]... [flags]",
		Short:   "run the switch",
		GroupID: "daemon",
		Long: `Run the switch until SIGINT or SIGTERM. Ports are given with --port (see
'l2fabric help specs'), or in a TOML file with --config (see 'l2fabric help
config'); flags override the file. SIGHUP, or 'l2fabric reload', re-reads the
file and applies what changed.`,
		Args: noArgs("ports are given with --port KIND:ARG"),
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runDaemon(changedFlags(cmd.Flags()), a.stderr)
		},
		ValidArgsFunction: cobra.NoFileCompletions,
	}
	registerDaemonFlags(c.Flags(), &v)
	c.Flags().SetAnnotation("config", cobra.BashCompFilenameExt, []string{"toml"})
	c.RegisterFlagCompletionFunc("port", completeSpecKinds(platformKinds(nil)))
	return c
}

func (a *app) versionCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "print the version and the commit it was built from",
		Args:  noArgs(""),
		RunE: func(cmd *cobra.Command, _ []string) error {
			fmt.Fprintln(a.stdout, "l2fabric", versionString())
			return nil
		},
	}
}

// unknownCommand is the root's argument check: any argument is a command
// that does not exist.
func unknownCommand(cmd *cobra.Command, args []string) error {
	if len(args) == 0 {
		return nil
	}
	return usagef("unknown command %q; commands: %s", args[0], strings.Join(commandNames(cmd), ", "))
}

// noArgs refuses arguments, with hint saying what to do instead; for a
// command with subcommands it names them.
func noArgs(hint string) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) == 0 {
			return nil
		}
		if cmd.HasAvailableSubCommands() {
			return usagef("%s: unknown subcommand %q: want %s", pathOf(cmd), args[0], strings.Join(commandNames(cmd), ", "))
		}
		if hint != "" {
			hint = ": " + hint
		}
		return usagef("%s: unexpected argument %q%s", pathOf(cmd), args[0], hint)
	}
}

// exactArgs wants n arguments, described by what.
func exactArgs(n int, what string) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) != n {
			return usagef("%s: want %s", pathOf(cmd), what)
		}
		return nil
	}
}

// commandNames lists cmd's available subcommands.
func commandNames(cmd *cobra.Command) []string {
	var names []string
	for _, c := range cmd.Commands() {
		if c.IsAvailableCommand() {
			names = append(names, c.Name())
		}
	}
	return names
}

// flagError makes a malformed flag a usage error that names the flag and
// shows its accepted form.
func flagError(cmd *cobra.Command, err error) error {
	msg := err.Error()
	var usage string
	cmd.Flags().VisitAll(func(f *pflag.Flag) {
		if usage == "" && (strings.Contains(msg, `"--`+f.Name+`"`) || strings.Contains(msg, "--"+f.Name+" ") || strings.HasSuffix(msg, "--"+f.Name)) {
			fs := pflag.NewFlagSet("", pflag.ContinueOnError)
			shown := *f
			shown.Hidden = false
			fs.AddFlag(&shown)
			usage = strings.TrimRight(fs.FlagUsages(), "\n")
		}
	})
	prefix := ""
	if cmd.HasParent() {
		prefix = pathOf(cmd) + ": "
	}
	if usage != "" {
		return usagef("%s%s\naccepted:\n%s", prefix, msg, usage)
	}
	return usagef("%s%s", prefix, msg)
}
