package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/l2fabric/l2fabric/backends/vm"
	"github.com/l2fabric/l2fabric/fabric"
	"github.com/l2fabric/l2fabric/fabric/control"
	"github.com/l2fabric/l2fabric/fabric/metrics"
)

// runDaemon runs the switch with the configuration built from the
// command line's settings until SIGINT or SIGTERM. SIGHUP and the
// control protocol's reload re-read the --config file.
func runDaemon(cmdline []setting, stderr io.Writer) error {
	// Caught from the start: SIGHUP's default action ends the process.
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	rc, err := loadRunConfig(cmdline)
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
	// The first line says plainly that this is a daemon, and where: a
	// client command mistyped as flags alone starts one.
	startArgs := []any{"control", rc.control, "ports", strings.Join(rc.ports, " "), "version", versionString()}
	if rc.configFile != "" {
		startArgs = append(startArgs, "config", rc.configFile)
	}
	log.Info("starting the l2fabric daemon (for a client command, give one: l2fabric help)", startArgs...)
	vms := vm.NewCatalog()
	if err := vms.SetInline(rc.vmDefs); err != nil {
		return err
	}
	var guard rootGuard
	f, err := fabric.New(fabric.Config{FDB: rc.fdb, FlowControl: rc.flow, Logger: log, Kinds: guard.kinds(platformKinds(vms)),
		NoLoopDetect: rc.noLoopDetect, Storm: rc.storm})
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()

	r := newReloader(f, log, cmdline, vms, rc)
	scfg := control.ServerConfig{Path: rc.control, Group: rc.controlGroup, Version: versionString(), Logger: log.Named("control")}
	if rc.configFile != "" {
		scfg.Reload = r.reload
	}
	var ms *metrics.Server
	if rc.metrics != "" {
		if ms, err = metrics.Listen(rc.metrics, f, log.Named("metrics")); err != nil {
			return err
		}
	}
	srv, err := control.Listen(scfg, f)
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

	if err := r.start(); err != nil {
		shutdown()
		return err
	}
	if rc.user != nil {
		if err := guard.drop(*rc.user); err != nil {
			shutdown()
			return err
		}
		log.Info("gave root up", "user", rc.user.String())
	}
	if rc.defaultPort != "" {
		printAttachHelp(stderr, rc.defaultPort)
	}
	log.Info("l2fabric running", "version", versionString(), "control", rc.control, "ports", len(rc.ports))
	for running := true; running; {
		select {
		case <-hup:
			if rc.configFile == "" {
				log.Warn("SIGHUP: nothing to reload: the daemon was started without --config")
			} else {
				r.reload() // it logs what it did, or why not
			}
		case <-ctx.Done():
			running = false
		}
	}
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

Watch what it learns with: %[2]s fdb   (and %[2]s ports, %[2]s stats)

`, path, invokedAs())
}

// invokedAs is how to run this binary again: "l2fabric" when that is what
// PATH finds, else the path it was started by (./bin/l2fabric).
func invokedAs() string {
	self, err := os.Executable()
	if err != nil || len(os.Args) == 0 {
		return "l2fabric"
	}
	if p, err := exec.LookPath("l2fabric"); err == nil && sameFile(p, self) {
		return "l2fabric"
	}
	return os.Args[0]
}
