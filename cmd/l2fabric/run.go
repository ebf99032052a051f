package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/spf13/pflag"

	"github.com/l2fabric/l2fabric/backends/vm"
	"github.com/l2fabric/l2fabric/fabric"
	"github.com/l2fabric/l2fabric/fabric/control"
	"github.com/l2fabric/l2fabric/fabric/metrics"
	"github.com/l2fabric/l2fabric/fdb"
	"github.com/l2fabric/l2fabric/frames"
)

// runConfig is the daemon's command line, parsed and checked.
type runConfig struct {
	ports        []string
	statics      []fabric.Static
	control      string
	controlGroup string
	metrics      string // HOST:PORT of /metrics, or "" for none
	fdb          fdb.Config
	flow         fabric.FlowControl
	logLevel     hclog.Level
	logJSON      bool
	defaultPort  string      // the socket path of the default port, when no --port
	vms          *vm.Catalog // VMs defined with --vm, and the default directories
}

func parseRunFlags(args []string, stderr io.Writer) (*runConfig, error) {
	fs := pflag.NewFlagSet("l2fabric run", pflag.ContinueOnError)
	fs.SetOutput(stderr)
	var (
		ports, statics []string
		inlineVMs      []string
		rc             runConfig
		logLevel       string
		fdbMax         int
		hold           time.Duration
	)
	fs.StringArrayVarP(&ports, "port", "p", nil, "attach a port: KIND:ARG[,KEY=VALUE]... (repeatable; see 'l2fabric help')")
	fs.StringArrayVar(&statics, "static", nil, "static FDB entry MAC@PORT[,vlan=N] (repeatable)")
	if haveVMs {
		fs.StringArrayVar(&inlineVMs, "vm", nil, "define a VM for vm:NAME ports: "+vm.InlineForm+" (repeatable; see 'l2fabric vm help')")
	}
	fs.StringVar(&rc.control, "control", defaultControlPath(), "control socket path (env L2FABRIC_CONTROL)")
	fs.StringVar(&rc.controlGroup, "control-group", "", "group allowed to use the control socket (mode 0660 instead of 0600)")
	fs.StringVar(&rc.metrics, "metrics", "", "serve Prometheus metrics on http://ADDR/metrics, e.g. 127.0.0.1:9470 (off by default)")
	fs.DurationVar(&rc.fdb.Aging, "fdb-aging", fdb.DefaultAging, "forget a learned MAC after this long unseen")
	fs.IntVar(&fdbMax, "fdb-max", fdb.DefaultMaxEntries, "learning table size limit; when full the least recently used entry of the port with the most entries is evicted")
	fs.DurationVar(&hold, "flow-hold", fabric.DefaultMaxHold, "how long a port may wait per batch for room at a busy port instead of dropping (0: never wait, drop at once)")
	fs.DurationVar(&rc.flow.StallAfter, "flow-stall", fabric.DefaultStallAfter, "a port that has sent nothing for this long is stuck: frames for it are dropped without waiting")
	fs.StringVar(&logLevel, "log-level", "info", "log level: trace, debug, info, warn, error")
	fs.BoolVar(&rc.logJSON, "log-json", false, "log as JSON lines")
	fs.Usage = func() {
		fmt.Fprintf(stderr, "Usage: l2fabric [run] --port KIND:ARG[,KEY=VALUE]... [flags]\n\nFlags:\n%s", fs.FlagUsages())
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, pflag.ErrHelp) {
			return nil, err
		}
		return nil, usagef("%v", err)
	}
	if fs.NArg() > 0 {
		return nil, usagef("unexpected argument %q: ports are given with --port KIND:ARG", fs.Arg(0))
	}
	rc.fdb.MaxEntries = fdbMax
	if err := (fdb.Config{Aging: rc.fdb.Aging}).Validate(); err != nil || rc.fdb.Aging == 0 {
		return nil, usagef("--fdb-aging %v: want a duration from %v to %v, e.g. --fdb-aging 5m", rc.fdb.Aging, fdb.MinAging, fdb.MaxAging)
	}
	if err := (fdb.Config{MaxEntries: fdbMax}).Validate(); err != nil || fdbMax == 0 {
		return nil, usagef("--fdb-max %d: want a number of entries from 1 to %d", fdbMax, fdb.MaxMaxEntries)
	}
	const maxFlow = time.Second
	if hold < 0 || hold > maxFlow {
		return nil, usagef("--flow-hold %v: want a duration from 0 (never wait) to %v, e.g. --flow-hold 5ms", hold, maxFlow)
	}
	rc.flow.MaxHold = hold
	rc.flow.NoWait = hold == 0
	if rc.flow.StallAfter <= 0 || rc.flow.StallAfter > maxFlow {
		return nil, usagef("--flow-stall %v: want a duration above 0 and up to %v, e.g. --flow-stall 10ms", rc.flow.StallAfter, maxFlow)
	}
	lvl := hclog.LevelFromString(logLevel)
	if lvl == hclog.NoLevel {
		return nil, usagef("--log-level %q: want trace, debug, info, warn or error", logLevel)
	}
	rc.logLevel = lvl
	if rc.control == "" {
		return nil, usagef("--control: the control socket path is empty")
	}
	rc.vms = vm.NewCatalog()
	for _, s := range inlineVMs {
		if err := rc.vms.AddInline(s); err != nil {
			return nil, usagef("%v", err)
		}
	}
	kinds := platformKinds(rc.vms)
	if len(ports) == 0 {
		var spec string
		spec, rc.defaultPort = defaultPortSpec()
		ports = []string{spec}
	}
	for _, p := range ports {
		if _, _, _, err := kinds.Parse(p); err != nil {
			return nil, usagef("--port: %v", err)
		}
	}
	rc.ports = ports
	for _, s := range statics {
		st, err := parseStatic(s)
		if err != nil {
			return nil, usagef("--static %q: %v", s, err)
		}
		rc.statics = append(rc.statics, st)
	}
	return &rc, nil
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

func runDaemon(args []string, stdout, stderr io.Writer) error {
	rc, err := parseRunFlags(args, stderr)
	if errors.Is(err, pflag.ErrHelp) {
		return nil
	}
	if err != nil {
		return err
	}
	log := hclog.New(&hclog.LoggerOptions{
		Name:       "l2fabric",
		Level:      rc.logLevel,
		Output:     stderr,
		JSONFormat: rc.logJSON,
		TimeFormat: time.RFC3339Nano,
	})
	f, err := fabric.New(fabric.Config{FDB: rc.fdb, FlowControl: rc.flow, Logger: log, Kinds: platformKinds(rc.vms)})
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()

	var ms *metrics.Server
	if rc.metrics != "" {
		if ms, err = metrics.Listen(rc.metrics, f, log.Named("metrics")); err != nil {
			return err
		}
	}
	srv, err := control.Listen(control.ServerConfig{Path: rc.control, Group: rc.controlGroup, Version: version(), Logger: log.Named("control")}, f)
	if err != nil {
		return err
	}
	fabricCtx, stopFabric := context.WithCancel(context.Background())
	fabricDone := make(chan error, 1)
	go func() { fabricDone <- f.Run(fabricCtx) }()
	serveCtx, stopServe := context.WithCancel(context.Background())
	serveDone := make(chan error, 1)
	go func() { serveDone <- srv.Serve(serveCtx) }()
	if ms != nil {
		go ms.Serve(serveCtx)
	}
	shutdown := func() {
		stopServe()
		<-serveDone
		stopFabric()
		<-fabricDone
	}

	for _, spec := range rc.ports {
		if _, err := f.Open(spec); err != nil {
			shutdown()
			return fmt.Errorf("--port %v", err)
		}
	}
	for _, st := range rc.statics {
		if err := f.AddStatic(st, true); err != nil {
			shutdown()
			return fmt.Errorf("--static %s@%s: %v", st.MAC, st.Port, err)
		}
	}
	if rc.defaultPort != "" {
		printAttachHelp(stderr, rc.defaultPort)
	}
	log.Info("l2fabric running", "version", version(), "control", rc.control, "ports", len(rc.ports))
	<-ctx.Done()
	log.Info("stopping")
	shutdown()
	log.Info("stopped")
	return nil
}

// printAttachHelp tells a user who gave no --port how to attach VMs to the
// default socket.
func printAttachHelp(w io.Writer, path string) {
	fmt.Fprintf(w, `
l2fabric: no --port given, so VMs attach to the listening socket
    %[1]s
Each VM that sends to it becomes a port of its own, switched with the others.

  vfkit:    --device virtio-net,unixSocketPath=%[1]s,mac=52:54:00:00:00:01
  krunkit:  --device virtio-net,type=unixgram,path=%[1]s,mac=52:54:00:00:00:02
  qemu:     -netdev dgram,id=net0,local.type=unix,local.path=/tmp/vm3.sock,remote.type=unix,remote.path=%[1]s
            -device virtio-net-pci,netdev=net0,mac=52:54:00:00:00:03

Watch what it learns with: l2fabric fdb   (and l2fabric ports, l2fabric stats)

`, path)
}
