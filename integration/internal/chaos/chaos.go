// Package chaos is l2fabric's chaos and soak run: a real daemon in network
// namespaces of its own, steady traffic between VMs that stay, and at
// random, under that traffic: VMs attaching and vanishing (dgram listener
// clients, stream clients as socket_vmnet's, and a socketpair VM replaced
// at each restart), listening sockets attached and detached,
// garbage frames, floods of random source MACs, the interface behind a
// host port deleted and re-created, the daemon's TAP pulled from its
// bridge and put back, loops made through a Linux bridge and removed, and
// the daemon killed with SIGKILL and restarted. Invariants are checked as
// it runs:
//
//   - forwarding continues for the VMs that stay (every flow delivers
//     within flowBound, but for a grace time after a restart);
//   - the books balance at every checkpoint (frames read = forwarded +
//     flooded + filtered + probes + receive drops, see fabric.Counters);
//   - the daemon's goroutines, file descriptors and RSS stay flat from
//     one checkpoint to the next (within stated margins);
//   - after the final SIGTERM it exits 0 and leaves nothing behind: no
//     socket files, no TAP.
//
// The command integration/chaos runs it (`go run ./integration/chaos
// -duration 10m`), and TestChaos60s in package integration runs it for a
// minute. Linux only: it needs root for the namespaces.
package chaos

import (
	"time"
)

// Config configures a run.
type Config struct {
	// Bin is the l2fabric binary.
	Bin string
	// Duration is how long the chaos runs (the final checks come after).
	Duration time.Duration
	// Seed seeds the random choices; 0 picks one (reported).
	Seed int64
	// Logf receives progress lines; nil discards them.
	Logf func(format string, args ...any)
}

// Report is what a run did and found.
type Report struct {
	Seed        int64
	Actions     map[string]int // how many times each action ran
	Restarts    int
	Checkpoints int
	// Samples are the daemon's resources at each checkpoint.
	Samples []Sample
	// Problems are the invariants that did not hold; empty on success.
	Problems []string
}

// Sample is the daemon's resource use at a checkpoint.
type Sample struct {
	At         time.Duration // since the run started
	Instance   int           // which daemon (restarts count up)
	Goroutines int
	FDs        int
	RSSKiB     int
	HeapKiB    int // the Go heap in use (RSS also holds what the runtime has not returned)
	Ports      int
	Detached   int    // ports detached since the daemon started
	RxFrames   uint64 // frames read by all ports since it started
}
