// Command chaos runs l2fabric's chaos and soak run (package
// integration/internal/chaos says what it does and checks) and prints
// what it did and found. It needs root (network namespaces) and Linux.
//
//	go run ./integration/chaos [-duration 10m] [-seed N] [-bin PATH]
//
// Without -bin it builds ./cmd/l2fabric first (with -race if -race is
// given). It exits 1 if an invariant did not hold.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"sort"
	"syscall"
	"time"

	"github.com/l2fabric/l2fabric/integration/internal/chaos"
)

func main() {
	duration := flag.Duration("duration", 10*time.Minute, "how long to run the chaos")
	seed := flag.Int64("seed", 0, "random seed (0: from the clock; printed)")
	bin := flag.String("bin", "", "l2fabric binary (default: build ./cmd/l2fabric)")
	race := flag.Bool("race", false, "build the binary with the race detector")
	flag.Parse()
	if err := run(*duration, *seed, *bin, *race); err != nil {
		fmt.Fprintln(os.Stderr, "chaos:", err)
		os.Exit(1)
	}
}

func run(duration time.Duration, seed int64, bin string, race bool) error {
	if bin == "" {
		dir, err := os.MkdirTemp("", "l2fchaos-bin")
		if err != nil {
			return err
		}
		defer os.RemoveAll(dir)
		bin = filepath.Join(dir, "l2fabric")
		args := []string{"build", "-o", bin}
		if race {
			args = append(args, "-race")
		}
		out, err := exec.Command("go", append(args, "./cmd/l2fabric")...).CombinedOutput()
		if err != nil {
			return fmt.Errorf("building l2fabric: %v\n%s", err, out)
		}
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	rep, err := chaos.Run(ctx, chaos.Config{Bin: bin, Duration: duration, Seed: seed,
		Logf: func(format string, args ...any) { fmt.Printf(format+"\n", args...) }})
	if err != nil {
		return err
	}
	fmt.Print(Summary(rep))
	if len(rep.Problems) > 0 {
		return fmt.Errorf("%d problems", len(rep.Problems))
	}
	return nil
}

// Summary formats a report.
func Summary(rep *chaos.Report) string {
	s := fmt.Sprintf("\nseed %d: %d checkpoints, %d restarts (kill -9)\nactions:", rep.Seed, rep.Checkpoints, rep.Restarts)
	var names []string
	for n := range rep.Actions {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		s += fmt.Sprintf(" %s=%d", n, rep.Actions[n])
	}
	s += "\n\n  at      daemon  goroutines  fds  RSS(KiB)  heap(KiB)  ports  detached  frames read\n"
	for _, x := range rep.Samples {
		s += fmt.Sprintf("  %6.0fs  %6d  %10d  %3d  %8d  %9d  %5d  %8d  %11d\n", x.At.Seconds(), x.Instance, x.Goroutines, x.FDs, x.RSSKiB, x.HeapKiB, x.Ports, x.Detached, x.RxFrames)
	}
	if len(rep.Problems) == 0 {
		s += "\nno problems\n"
	}
	for _, p := range rep.Problems {
		s += "PROBLEM: " + p + "\n"
	}
	return s
}
