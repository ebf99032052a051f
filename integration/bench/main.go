//go:build linux

// Command bench measures l2fabric's forwarding on this machine, side by
// side with vde_switch (Debian's vde2) and a bare relay, with traffic
// endpoints that attach the way VMs do: unixgram sockets of their own,
// bound to a path or one end of a socketpair, moving frames with
// sendmmsg/recvmmsg batches of 64.
//
//	go run ./integration/bench [-duration 3s] [-out FILE.md] [-png FILE.png] [-skip-vde] [-only KINDS]
//
// It measures, in one run:
//
//  1. the known-unicast forwarding rate at 64, 512 and 1500-byte frames
//     through l2fabric with one socketpair per VM (as the VMs it boots on
//     macOS and vmnet-helper attach), with one peer-mode port per VM
//     socket (as qemu attaches) and with one listening socket the VMs
//     connect to (as vfkit does), through vde_switch, and through a bare
//     relay (with qemu's unconnected endpoint sockets, and with connected
//     pairs as VDE and socketpairs are);
//  2. the same at 64 bytes with 16 idle VMs attached and learned, against
//     two ports alone, alternately, three times each;
//  3. broadcast from 1 sender to 7 receivers;
//  4. one-way latency at 1000 frames/s;
//  5. the FDB benchmarks (go test ./fdb/) and
//  6. the forwarding benchmarks' allocations (go test ./fabric/),
//
// and prints a Markdown report (every number, the machine, and the
// project's targets met or missed) and plots frames/s by frame size with
// gnuplot, or by hand when gnuplot is absent.
//
// vde2 comes from integration/setup.sh. Run as root or not: nothing here
// needs privileges (as root, socket buffers are set past rmem_max as
// vfkit and l2fabric set them).
package main

import (
	"cmp"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Frame sizes measured, in bytes (the datagram: Ethernet header and
// payload, no FCS).
var sizes = []int{64, 512, 1500}

const (
	warmup       = 500 * time.Millisecond
	idleStations = 16
	bcastPorts   = 8
	idleRounds   = 3
	// unicastRounds is how many times each switch's known-unicast rate
	// is measured at each size, in turn with the others.
	unicastRounds = 3
	latencyRate   = 1000
)

func main() {
	if spec := os.Getenv(relayEnv); spec != "" {
		if err := runRelay(spec); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		return
	}
	dur := flag.Duration("duration", 3*time.Second, "length of each measurement, after a 0.5 s warm-up")
	out := flag.String("out", "", "also write the Markdown report to this file")
	png := flag.String("png", "integration/bench/forwarding.png", "where to write the plot of frames/s by frame size (relative paths: from the module root)")
	skipVDE := flag.Bool("skip-vde", false, "do not measure vde_switch (when it is not installed); the report says so")
	only := flag.String("only", "", "measure only these, comma-separated, out of "+strings.Join(kindNames(), ",")+" (for a quick look; the report then has gaps)")
	timeout := flag.Duration("timeout", 0, "give up (cleaning up) after this long (default: 90 s + (duration + 0.5 s) × 1.5 × the number of measurements)")
	flag.Parse()
	if flag.NArg() > 0 {
		fmt.Fprintln(os.Stderr, "bench: unexpected arguments:", flag.Args())
		os.Exit(2)
	}
	if *dur < 100*time.Millisecond {
		fmt.Fprintln(os.Stderr, "bench: -duration must be at least 100ms")
		os.Exit(2)
	}

	// Whatever happens (an error, Ctrl-C, the time limit), switches are
	// stopped and sockets removed.
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGINT, syscall.SIGTERM)
	go func() {
		s := <-sig
		fmt.Fprintf(os.Stderr, "bench: %v: cleaning up\n", s)
		runCleanups()
		os.Exit(130)
	}()
	var sel []kind
	if *only != "" {
		for _, name := range strings.Split(*only, ",") {
			k, ok := kindByName(name)
			if !ok {
				fmt.Fprintf(os.Stderr, "bench: -only: unknown %q; want some of %s\n", name, strings.Join(kindNames(), ","))
				os.Exit(2)
			}
			sel = append(sel, k)
		}
	}
	if *timeout <= 0 {
		*timeout = 90*time.Second + (*dur+warmup)*time.Duration(3*measurements(sel)/2)
	}
	time.AfterFunc(*timeout, func() {
		fmt.Fprintf(os.Stderr, "bench: still running after %v (-timeout): cleaning up\n", *timeout)
		runCleanups()
		os.Exit(1)
	})
	err := run(*dur, *out, *png, *skipVDE, sel)
	runCleanups()
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench: FAILED:", err)
		os.Exit(1)
	}
}

var (
	cleanupMu sync.Mutex
	cleanups  = map[int]func(){}
	cleanupID int
)

// atCleanup registers f to run at exit (or on a signal) and returns a
// function that runs it now, once.
func atCleanup(f func()) func() {
	cleanupMu.Lock()
	defer cleanupMu.Unlock()
	cleanupID++
	id := cleanupID
	cleanups[id] = f
	return func() {
		cleanupMu.Lock()
		f, ok := cleanups[id]
		delete(cleanups, id)
		cleanupMu.Unlock()
		if ok {
			f()
		}
	}
}

func runCleanups() {
	cleanupMu.Lock()
	var fs []func()
	for id := cleanupID; id > 0; id-- {
		if f, ok := cleanups[id]; ok {
			fs = append(fs, f)
			delete(cleanups, id)
		}
	}
	cleanupMu.Unlock()
	for _, f := range fs {
		f()
	}
}

func logf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "bench: "+format+"\n", args...)
}

func run(dur time.Duration, outPath, pngPath string, skipVDE bool, only []kind) error {
	started := time.Now()
	goBin, err := exec.LookPath("go")
	if err != nil {
		return fmt.Errorf("the go command is needed to build l2fabric and run its benchmarks: %w", err)
	}
	root, err := moduleRoot(goBin)
	if err != nil {
		return err
	}
	if !filepath.IsAbs(pngPath) {
		pngPath = filepath.Join(root, pngPath)
	}
	res := &results{dur: dur, warm: warmup, sizes: sizes, started: started}

	var e env
	if skipVDE {
		res.vdeSkipped = "skipped (-skip-vde)"
		if p, err := exec.LookPath("vde_switch"); err != nil {
			res.vdeSkipped = "skipped (-skip-vde): vde_switch is not installed"
		} else {
			res.vdeSkipped += ", although " + p + " is installed"
		}
	} else {
		e.vde, err = exec.LookPath("vde_switch")
		if err != nil {
			return fmt.Errorf("vde_switch not found (install vde2: sudo bash integration/setup.sh), or pass -skip-vde to measure without it")
		}
	}
	e.self, err = os.Executable()
	if err != nil {
		return err
	}
	e.tmp, err = os.MkdirTemp("", "l2fbench")
	if err != nil {
		return err
	}
	atCleanup(func() { os.RemoveAll(e.tmp) })

	logf("building l2fabric")
	e.bin = filepath.Join(e.tmp, "l2fabric")
	build := exec.Command(goBin, "build", "-o", e.bin, "./cmd/l2fabric")
	build.Dir = root
	if out, err := build.CombinedOutput(); err != nil {
		return fmt.Errorf("go build ./cmd/l2fabric: %v\n%s", err, out)
	}
	res.machine = machine(root, e.bin, e.vde)

	kinds := allKinds
	if only != nil {
		kinds = only
	}
	if e.vde == "" {
		kinds = slices.DeleteFunc(slices.Clone(kinds), func(k kind) bool { return k == vde })
	} else if slices.Contains(kinds, vde) {
		// Fail now, not after a minute of measuring, if the plug
		// protocol does not work with this vde_switch.
		t, err := startTopo(&e, vde, 1, 0)
		if err != nil {
			return err
		}
		t.stop()
	}
	res.unicast = map[kind][]rate{}
	res.latency = map[kind]latencyResult{}
	res.idle = map[kind]rate{}
	res.idleBase = map[kind]rate{}
	res.bcast = map[kind]rate{}

	// 1: known unicast at each size. Every switch runs side by side (an
	// idle one costs nothing) and, size by size, each is measured in
	// turn, unicastRounds times; the medians are compared. Measuring one
	// switch's sizes and then the next switch's would let the machine's
	// drift over a minute (other tenants of a shared host) pass for a
	// difference between switches; interleaved, every switch sees the
	// same machine within seconds.
	tops := map[kind]running{}
	stopAll := func() {
		for _, t := range tops {
			t.stop()
		}
	}
	for _, k := range kinds {
		t, err := startTopo(&e, k, 1, 0)
		if err != nil {
			stopAll()
			return err
		}
		tops[k] = t
	}
	for _, size := range sizes {
		runs := map[kind][]rate{}
		for round := 0; round < unicastRounds; round++ {
			for _, k := range kinds {
				t := tops[k]
				r, err := blast(t.topo, t.receivers()[0].mac, size, warmup, dur)
				if err != nil {
					stopAll()
					return fmt.Errorf("%v, %d-byte known unicast: %w", k, size, err)
				}
				logf("%-20v unicast %4d B, round %d: %s", k, size, round+1, summary(r))
				runs[k] = append(runs[k], r)
			}
		}
		for _, k := range kinds {
			res.unicast[k] = append(res.unicast[k], median(runs[k]))
		}
	}

	// 4: latency, on the same instances.
	for _, k := range kinds {
		l, err := latency(tops[k].topo, latencyRate, warmup, dur)
		tops[k].stop()
		delete(tops, k)
		if err != nil {
			stopAll()
			return fmt.Errorf("%v, latency: %w", k, err)
		}
		logf("%-20v latency at %d/s: p50 %v p99 %v max %v (%d samples, %d lost)", k, l.rate, l.p50, l.p99, l.pmax, l.samples, l.lost)
		res.latency[k] = l
	}

	// 2: known unicast with idle stations attached and learned, against
	// two ports alone: both switches run side by side (an idle switch
	// costs nothing) and are measured in turn, idleRounds times, so that
	// the machine's drift from one measurement to the next does not pass
	// for an effect of the idle ports; the medians are compared.
	for _, k := range kinds {
		if k.isRelay() {
			continue
		}
		two, err := startTopo(&e, k, 1, 0)
		if err != nil {
			return err
		}
		many, err := startTopo(&e, k, 1, idleStations)
		if err != nil {
			two.stop()
			return err
		}
		var twos, manys []rate
		for round := 0; round < idleRounds && err == nil; round++ {
			var a, b rate
			if a, err = blast(two.topo, two.receivers()[0].mac, 64, warmup, dur); err != nil {
				break
			}
			if b, err = blast(many.topo, many.receivers()[0].mac, 64, warmup, dur); err != nil {
				break
			}
			twos, manys = append(twos, a), append(manys, b)
			logf("%-20v unicast   64 B, round %d: 2 ports %.0f frames/s, %d idle %s", k, round+1, a.fps(), idleStations, summary(b))
		}
		two.stop()
		many.stop()
		if err != nil {
			return fmt.Errorf("%v, known unicast with and without %d idle: %w", k, idleStations, err)
		}
		res.idleBase[k], res.idle[k] = median(twos), median(manys)
	}

	// 3: broadcast to every other port.
	for _, k := range kinds {
		if k.isRelay() {
			continue
		}
		t, err := startTopo(&e, k, bcastPorts-1, 0)
		if err != nil {
			return err
		}
		r, err := blast(t.topo, broadcast, 64, warmup, dur)
		t.stop()
		if err != nil {
			return fmt.Errorf("%v, broadcast: %w", k, err)
		}
		lo, mean, hi := r.perRecv()
		logf("%-20v broadcast 64 B to %d: sent %.0f/s, per receiver %.0f/s (%.0f-%.0f), aggregate %.0f/s", k, bcastPorts-1, r.sentFPS(), mean, lo, hi, r.fps())
		res.bcast[k] = r
	}

	// 5 and 6: the in-process benchmarks, after the sockets are quiet.
	logf("go test -bench . ./fdb/")
	res.fdb, res.fdbCmd, err = runGoBench(goBin, root, ".", "./fdb/")
	if err != nil {
		return err
	}
	logf("go test -bench Forward ./fabric/")
	res.fwd, res.fwdCmd, err = runGoBench(goBin, root, "Forward", "./fabric/")
	if err != nil {
		return err
	}

	res.elapsed = time.Since(started)
	res.pngPath = pngPath
	res.pngLink = pngPath
	if rel, err := filepath.Rel(root, pngPath); err == nil && !strings.HasPrefix(rel, "..") {
		res.pngLink = rel
	}
	how, err := plot(res, pngPath)
	if err != nil {
		return fmt.Errorf("plotting: %w", err)
	}
	res.plotHow = how
	md := report(res)
	fmt.Print(md)
	if outPath != "" {
		if err := os.WriteFile(outPath, []byte(md), 0o644); err != nil {
			return err
		}
		logf("wrote %s", outPath)
	}
	logf("wrote %s (%s); %v in all", pngPath, how, res.elapsed.Round(time.Second))
	return nil
}

// measurements returns how many measurements a run of these kinds (all
// when nil) makes: known unicast and latency for each, and for each
// switch the rounds with idle stations and broadcast.
func measurements(kinds []kind) int {
	if kinds == nil {
		kinds = allKinds
	}
	n := 0
	for _, k := range kinds {
		n += len(sizes)*unicastRounds + 1
		if !k.isRelay() {
			n += 2*idleRounds + 1
		}
	}
	return n
}

// running is a started topology whose teardown is also registered for
// exit.
type running struct {
	*topo
	stop func()
}

func startTopo(e *env, k kind, nrecv, nidle int) (running, error) {
	t, err := e.start(k, nrecv, nidle)
	if err != nil {
		return running{}, err
	}
	return running{t, atCleanup(t.close)}, nil
}

// median returns the measurement with the median rate.
func median(rs []rate) rate {
	s := slices.Clone(rs)
	slices.SortFunc(s, func(a, b rate) int { return cmp.Compare(a.fps(), b.fps()) })
	return s[len(s)/2]
}

func summary(r rate) string {
	s := fmt.Sprintf("%.0f frames/s, %.2f Gbit/s (sent %.0f/s, loss %.2f%%, switch CPU %.0f%%, endpoints CPU %.0f%%",
		r.fps(), r.gbps(), r.sentFPS(), 100*r.loss(), r.cpuPct(), 100*r.selfCPU/r.secs)
	if r.sw.ok {
		s += fmt.Sprintf(", switch rx %d tx %d", r.sw.rx, r.sw.tx)
		if r.sw.hasDrops {
			s += ", " + r.sw.dropsNote
		}
	}
	if r.stray > 0 {
		s += fmt.Sprintf(", %d back to the sender", r.stray)
	}
	return s + ")"
}

// moduleRoot finds the l2fabric module from the current directory.
func moduleRoot(goBin string) (string, error) {
	out, err := exec.Command(goBin, "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("go env GOMOD: %w", err)
	}
	gomod := strings.TrimSpace(string(out))
	if gomod == "" || gomod == os.DevNull {
		return "", fmt.Errorf("run this from inside the l2fabric module (go run ./integration/bench)")
	}
	b, err := os.ReadFile(gomod)
	if err != nil {
		return "", err
	}
	if !strings.Contains(string(b), "module github.com/l2fabric/l2fabric\n") {
		return "", fmt.Errorf("%s is not l2fabric's go.mod", gomod)
	}
	return filepath.Dir(gomod), nil
}
