package main

import (
	"errors"
	"fmt"
	"net"
	"strings"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/l2fabric/l2fabric/backends/vm"
	"github.com/l2fabric/l2fabric/fabric"
	"github.com/l2fabric/l2fabric/fdb"
	"github.com/l2fabric/l2fabric/frames"
	"github.com/l2fabric/l2fabric/internal/privdrop"
)

// runConfig is the daemon's configuration, from its command line and its
// configuration file, checked.
type runConfig struct {
	configFile string // "" without --config
	ports      []string
	statics    []fabric.Static
	// portOrigins and staticOrigins say where each port and static
	// entry was given, for errors: "--port", "l2fabric.toml:3: port".
	portOrigins, staticOrigins []string
	control                    string
	controlGroup               string
	metrics                    string // HOST:PORT of /metrics, "" for none
	fdb                        fdb.Config
	flow                       fabric.FlowControl
	noLoopDetect               bool // --loop-detect=off
	storm                      int  // --storm
	logLevel                   hclog.Level
	logJSON                    bool
	defaultPort                string               // the socket path of the default port, when no --port
	vmDefs                     []*vm.Definition     // --vm and the file's [vm.NAME] tables
	user                       *privdrop.Credential // --user: who to become once the ports are open
}

// loadRunConfig builds the daemon's configuration: the command line's
// settings (which win), then the --config file's for the flags the
// command line does not set, then defaults. Every error is a usageError
// naming the flag, or the file, line and key, and the accepted form.
func loadRunConfig(cmdline []setting) (*runConfig, error) {
	v, origin, file, err := mergeSettings(cmdline)
	if err != nil {
		return nil, err
	}
	return checkRunConfig(v, origin, file)
}

// origins says where the ith value of a flag came from: "--port", or
// "l2fabric.toml:3: port".
type origins func(name string, i int) string

// mergeSettings sets the daemon's flags from the command line, then from
// the --config file where the command line does not set them.
func mergeSettings(cmdline []setting) (*daemonValues, origins, *configFile, error) {
	fs, v := daemonFlagSet()
	from := map[string][]string{}
	given := map[string]bool{}
	apply := func(s setting) error {
		f := fs.Lookup(s.name)
		for i, val := range s.values {
			if err := f.Value.Set(val); err != nil {
				return usagef("%s %q: %v", s.origins[i], val, err)
			}
		}
		from[s.name] = append(from[s.name], s.origins...)
		return nil
	}
	for _, s := range cmdline {
		given[s.name] = true
		if err := apply(s); err != nil {
			return nil, nil, nil, err
		}
	}
	var file *configFile
	if v.config != "" {
		var err error
		if file, err = readConfigFile(v.config, fs); err != nil {
			return nil, nil, nil, usagef("%v", err)
		}
		for _, s := range file.settings {
			if !given[s.name] {
				if err := apply(s); err != nil {
					return nil, nil, nil, err
				}
			}
		}
	}
	origin := func(name string, i int) string {
		if o := from[name]; i < len(o) {
			return o[i]
		}
		return "--" + name
	}
	return v, origin, file, nil
}

// checkRunConfig checks the merged values and builds the configuration.
func checkRunConfig(v *daemonValues, origin origins, file *configFile) (*runConfig, error) {
	var rc runConfig
	if file != nil {
		rc.configFile = file.path
	}
	rc.control, rc.controlGroup, rc.logJSON = v.control, v.controlGroup, v.logJSON
	rc.fdb = fdb.Config{Aging: v.fdbAging, MaxEntries: v.fdbMax}
	if err := (fdb.Config{Aging: v.fdbAging}).Validate(); err != nil || v.fdbAging == 0 {
		return nil, usagef("%s %v: want a duration from %v to %v, e.g. 5m", origin("fdb-aging", 0), v.fdbAging, fdb.MinAging, fdb.MaxAging)
	}
	if err := (fdb.Config{MaxEntries: v.fdbMax}).Validate(); err != nil || v.fdbMax == 0 {
		return nil, usagef("%s %d: want a number of entries from 1 to %d", origin("fdb-max", 0), v.fdbMax, fdb.MaxMaxEntries)
	}
	const maxFlow = time.Second
	if v.flowHold < 0 || v.flowHold > maxFlow {
		return nil, usagef("%s %v: want a duration from 0 (never wait) to %v, e.g. 5ms", origin("flow-hold", 0), v.flowHold, maxFlow)
	}
	if v.flowStall <= 0 || v.flowStall > maxFlow {
		return nil, usagef("%s %v: want a duration above 0 and up to %v, e.g. 10ms", origin("flow-stall", 0), v.flowStall, maxFlow)
	}
	rc.flow = flowControl(v.flowHold, v.flowStall)
	on, err := fabric.ParseBool(v.loopDetect)
	if err != nil {
		return nil, usagef("%s %q: want on or off", origin("loop-detect", 0), v.loopDetect)
	}
	rc.noLoopDetect = !on
	if v.storm < 0 || v.storm > fabric.MaxStorm {
		return nil, usagef("%s %d: want 0 (no limit) or frames per second up to %d, e.g. --storm 1000", origin("storm", 0), v.storm, fabric.MaxStorm)
	}
	rc.storm = v.storm
	if rc.logLevel = hclog.LevelFromString(v.logLevel); rc.logLevel == hclog.NoLevel {
		return nil, usagef("%s %q: want trace, debug, info, warn or error", origin("log-level", 0), v.logLevel)
	}
	if rc.control == "" {
		return nil, usagef("%s: the control socket path is empty", origin("control", 0))
	}
	if rc.metrics = v.metrics; rc.metrics != "" {
		if _, port, err := net.SplitHostPort(rc.metrics); err != nil || port == "" {
			return nil, usagef("%s %q: want HOST:PORT, e.g. 127.0.0.1:9470 (bind to localhost unless the network should see the metrics)", origin("metrics", 0), rc.metrics)
		}
	}
	if v.user != "" {
		c, err := privdrop.Lookup(v.user)
		if err == nil {
			err = privdrop.CanDrop(c)
		}
		if err != nil {
			return nil, usagef("%s: %v", origin("user", 0), err)
		}
		rc.user = &c
	}

	for i, s := range v.vms {
		d, err := vm.ParseInline(s)
		if err != nil {
			return nil, usagef("%s: %v", origin("vm", i), err)
		}
		rc.vmDefs = append(rc.vmDefs, d)
	}
	if file != nil {
		if len(file.vms) > 0 && !haveVMs {
			return nil, usagef("%s:%d: vm.%s: l2fabric boots VMs only on macOS", file.path, file.vmLines[file.vms[0].Name], file.vms[0].Name)
		}
		rc.vmDefs = append(rc.vmDefs, file.vms...)
	}
	vms := vm.NewCatalog()
	if err := vms.SetInline(rc.vmDefs); err != nil {
		return nil, usagef("--vm and the [vm.NAME] tables of --config: %v", err)
	}
	kinds := platformKinds(vms)
	ports := v.ports
	if len(ports) == 0 {
		var spec string
		spec, rc.defaultPort = defaultPortSpec()
		ports = []string{spec}
	}
	for i, p := range ports {
		if _, _, _, err := kinds.Parse(p); err != nil {
			return nil, usagef("%s: %v", origin("port", i), err)
		}
		rc.portOrigins = append(rc.portOrigins, origin("port", i))
	}
	rc.ports = ports
	for i, s := range v.statics {
		st, err := parseStatic(s)
		if err != nil {
			return nil, usagef("%s %q: %v", origin("static", i), s, err)
		}
		rc.statics = append(rc.statics, st)
		rc.staticOrigins = append(rc.staticOrigins, origin("static", i))
	}
	return &rc, nil
}

// parseEntryRef parses the entry 'fdb del' removes: MAC[@PORT][,vlan=N],
// the form of 'fdb add' with the port optional. VLAN is 0 when not given.
func parseEntryRef(s string) (fabric.Static, error) {
	var ref fabric.Static
	head, opts, _ := strings.Cut(s, ",")
	macStr, port, hasPort := strings.Cut(head, "@")
	mac, err := frames.ParseMAC(macStr)
	if err != nil {
		return ref, err
	}
	if hasPort && port == "" {
		return ref, errors.New("empty port name after '@' (want MAC[@PORT][,vlan=N])")
	}
	ref.MAC, ref.Port = mac, port
	if opts != "" {
		k, v, _ := strings.Cut(opts, "=")
		if k != "vlan" {
			return ref, fmt.Errorf("unknown option %q (want MAC[@PORT][,vlan=N])", opts)
		}
		if ref.VLAN, err = fabric.ParseVLAN(v); err != nil {
			return ref, err
		}
	}
	return ref, nil
}

// parseStatic parses MAC@PORT[,vlan=N].
func parseStatic(s string) (fabric.Static, error) {
	const form = "want MAC@PORT[,vlan=N], e.g. 52:54:00:12:34:56@router,vlan=10"
	var st fabric.Static
	macStr, rest, ok := strings.Cut(s, "@")
	if !ok {
		return st, fmt.Errorf("no '@PORT' (%s)", form)
	}
	mac, err := frames.ParseMAC(macStr)
	if err != nil {
		return st, err
	}
	if !mac.IsUnicast() {
		return st, fmt.Errorf("%s is not a unicast address: only unicast addresses can be static entries", mac)
	}
	st.MAC = mac
	port, opts, _ := strings.Cut(rest, ",")
	if port == "" {
		return st, fmt.Errorf("empty port name (%s)", form)
	}
	st.Port = port
	st.VLAN = fabric.DefaultVLAN
	if opts != "" {
		k, v, _ := strings.Cut(opts, "=")
		if k != "vlan" {
			return st, fmt.Errorf("unknown option %q (%s)", opts, form)
		}
		if st.VLAN, err = fabric.ParseVLAN(v); err != nil {
			return st, err
		}
	}
	return st, nil
}
