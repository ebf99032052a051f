package main

import (
	"fmt"
	"strings"
	"time"

	"github.com/spf13/pflag"

	"github.com/l2fabric/l2fabric/backends/vm"
	"github.com/l2fabric/l2fabric/fabric"
	"github.com/l2fabric/l2fabric/fabric/control"
	"github.com/l2fabric/l2fabric/fdb"
)

// globals are the flags every command takes, before or after its name.
type globals struct {
	control  string
	timeout  time.Duration
	logLevel string
	logJSON  bool
}

// registerGlobalFlags defines the global flags in fs.
func registerGlobalFlags(fs *pflag.FlagSet, g *globals) {
	fs.StringVar(&g.control, "control", defaultControlPath(), "control socket path (env L2FABRIC_CONTROL)")
	g.timeout = control.DefaultTimeout
	fs.Var(&durationFlag{p: &g.timeout, example: "5s or 1m"}, "timeout", "how long a client command waits for the daemon to answer")
	fs.StringVar(&g.logLevel, "log-level", "info", "log level: trace, debug, info, warn, error")
	fs.BoolVar(&g.logJSON, "log-json", false, "log as JSON lines")
}

// daemonValues are the daemon's flags as given, before checking.
type daemonValues struct {
	globals
	config              string
	ports, statics, vms []string
	controlGroup        string
	metrics             string
	fdbAging            time.Duration
	fdbMax              int
	flowHold, flowStall time.Duration
	loopDetect          string
	storm               int
	user                string
}

// registerDaemonFlags defines the daemon's own flags in fs. Each is also
// a key of the configuration file (see configKeys).
func registerDaemonFlags(fs *pflag.FlagSet, v *daemonValues) {
	fs.StringVar(&v.config, "config", "", "read settings from this TOML file; flags given here override it (see 'l2fabric help config')")
	fs.StringArrayVarP(&v.ports, "port", "p", nil, "attach a port: KIND:ARG[,KEY=VALUE]... (repeatable; see 'l2fabric help specs')")
	fs.StringArrayVar(&v.statics, "static", nil, "static FDB entry MAC@PORT[,vlan=N] (repeatable)")
	if haveVMs {
		fs.StringArrayVar(&v.vms, "vm", nil, "define a VM for vm:NAME ports: "+vm.InlineForm+" (repeatable)")
	}
	fs.StringVar(&v.controlGroup, "control-group", "", "group allowed to use the control socket (mode 0660 instead of 0600)")
	fs.StringVar(&v.metrics, "metrics", "", "serve Prometheus metrics on http://ADDR/metrics, e.g. 127.0.0.1:9470 (off by default)")
	v.fdbAging = fdb.DefaultAging
	fs.Var(&durationFlag{p: &v.fdbAging, example: "5m or 300s"}, "fdb-aging", "forget a learned MAC after this long unseen")
	fs.IntVar(&v.fdbMax, "fdb-max", fdb.DefaultMaxEntries, "learning table size limit; when full the least recently used entry of the port with the most entries is evicted")
	v.flowHold = fabric.DefaultMaxHold
	fs.Var(&durationFlag{p: &v.flowHold, example: "5ms, or 0 to never wait"}, "flow-hold", "how long a port may wait per batch for room at a busy port instead of dropping (0: never wait, drop at once)")
	v.flowStall = fabric.DefaultStallAfter
	fs.Var(&durationFlag{p: &v.flowStall, example: "10ms"}, "flow-stall", "a port that has sent nothing for this long is stuck: frames for it are dropped without waiting")
	fs.StringVar(&v.loopDetect, "loop-detect", "on", "loop protection: probe ports that reach a LAN, and block one of two looped ports (on|off; per port: loop=)")
	fs.IntVar(&v.storm, "storm", 0, "storm control for ports without storm=: broadcast, multicast and unknown-unicast frames per second a port may inject (0: no limit)")
	fs.StringVar(&v.user, "user", "", userFlagUsage)
}

// daemonFlagSet is a flag set of every flag the daemon reads, global and
// its own, with their defaults: what a configuration is built on.
func daemonFlagSet() (*pflag.FlagSet, *daemonValues) {
	fs := pflag.NewFlagSet("l2fabric run", pflag.ContinueOnError)
	var v daemonValues
	registerGlobalFlags(fs, &v.globals)
	registerDaemonFlags(fs, &v)
	return fs, &v
}

// notConfigKeys are the flags that are not keys of the configuration
// file: the file itself, and the client's and cobra's own.
var notConfigKeys = map[string]bool{"config": true, "timeout": true, "help": true, "version": true}

// configKeys returns the keys a configuration file may hold: every flag
// of fs but notConfigKeys, and "vm" for VM tables (which the file has
// instead of --vm's inline definitions).
func configKeys(fs *pflag.FlagSet) []string {
	var keys []string
	fs.VisitAll(func(f *pflag.Flag) {
		if !notConfigKeys[f.Name] && f.Name != "vm" { // key vm holds the VM tables
			keys = append(keys, f.Name)
		}
	})
	return append(keys, "vm")
}

// durationFlag is a time.Duration flag whose errors give an example of
// the accepted form, which Go's "missing unit in duration" does not.
type durationFlag struct {
	p       *time.Duration
	example string
}

func (f *durationFlag) String() string {
	if f.p == nil {
		return ""
	}
	return f.p.String()
}
func (f *durationFlag) Type() string { return "duration" }
func (f *durationFlag) Set(s string) error {
	d, err := time.ParseDuration(strings.TrimSpace(s))
	if err != nil {
		return fmt.Errorf("%q is not a duration: want a number with a unit (ns, us, ms, s, m, h), e.g. %s", s, f.example)
	}
	*f.p = d
	return nil
}

// flowControl turns --flow-hold and --flow-stall into the fabric's flow
// control. --flow-hold 0 means never wait.
func flowControl(hold, stall time.Duration) fabric.FlowControl {
	return fabric.FlowControl{MaxHold: hold, NoWait: hold == 0, StallAfter: stall}
}

// setting is one flag's value or values and where each came from: "--port"
// on the command line, "l2fabric.toml:3: port" in the file.
type setting struct {
	name    string
	values  []string
	origins []string
}

// changedFlags returns the flags set on the command line, as settings to
// replay on a fresh flag set.
func changedFlags(fs *pflag.FlagSet) []setting {
	var out []setting
	fs.Visit(func(f *pflag.Flag) {
		if notConfigKeys[f.Name] && f.Name != "config" {
			return
		}
		s := setting{name: f.Name}
		if sv, ok := f.Value.(pflag.SliceValue); ok {
			s.values = sv.GetSlice()
		} else {
			s.values = []string{f.Value.String()}
		}
		for range s.values {
			s.origins = append(s.origins, "--"+f.Name)
		}
		out = append(out, s)
	})
	return out
}
