// Package feth puts the host on the fabric through a bridge: on macOS, a
// feth (fake ethernet) pair whose one end is a member of the bridge and
// whose other end l2fabric switches, so that the host reaches the VMs
// through the bridge's address.
//
// Form:
//
//	feth:BRIDGE[,dev=fethN]
//
// The port creates two feth interfaces (the kernel picks their units
// unless dev= names the member), peers them, gives both the bridge's MTU
// (or mtu=), brings them up, adds the first to BRIDGE and switches the
// second with BPF (receiving, promiscuous) and an NDRV socket (sending).
// The port is named feth-BRIDGE unless name= says otherwise.
//
// The port keeps its feth in the bridge, checking whenever the PF_ROUTE
// socket reports an interface changed (package linkwatch; xnu takes a
// member out of promiscuous mode when it leaves a bridge, which is such a
// change); nothing polls:
//
//   - a feth taken out of the bridge (`ifconfig BRIDGE deletem fethN`) is
//     added back, and that is logged; one someone made a member of
//     another bridge is reported down instead, until it is free again;
//   - when the bridge is destroyed the link is reported down, and when a
//     bridge of that name is back the feth re-joins it and the link is
//     reported up;
//   - when the member feth is destroyed the link is reported down, a feth
//     created again, peered, added, and the link reported up;
//   - a feth set down by hand (`ifconfig fethN down`) is reported down
//     until it is set up again.
//
// Both feths are destroyed when the port closes. The pairs l2fabric
// creates are recorded in /var/run/l2fabric/feth-pairs.json: a run that
// crashed leaves its pairs behind, and the next run destroys them before
// creating its own, touching only interfaces named in the record that
// are still the recorded pair, made in this boot by a process now gone.
//
// BRIDGE must exist (`sudo ifconfig bridge1 create up`, then give it the
// host's address). Creating, peering and bridging interfaces needs root.
//
// Warning: feth is a private interface of macOS. Its author reports a
// kernel panic (an mbuf overflow) on the feth path above roughly 5-8
// Gbit/s (about 8 on an M1, 5 on an Intel iMac Pro): do not push more
// than that through this port. Bridging over Wi-Fi generally fails, as
// access points drop frames from addresses other than the station's.
package feth

import (
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"

	"github.com/hashicorp/go-hclog"

	"github.com/l2fabric/l2fabric/backends/internal/bpfndrv"
	"github.com/l2fabric/l2fabric/backends/internal/linkwatch"
	"github.com/l2fabric/l2fabric/fabric"
)

// stateDir is where root's l2fabric keeps its record of feth pairs.
const stateDir = "/var/run/l2fabric"

// recordName is the record's file name in stateDir.
const recordName = "feth-pairs.json"

// darwinSystem is the one system of the process, so that the pairs of an
// earlier run are cleaned up once.
var darwinSystem = sync.OnceValue(func() *system {
	return &system{
		ops:   darwinOps{},
		store: &pairStore{path: filepath.Join(stateDir, recordName), log: hclog.NewNullLogger()},
		self: procInfo{
			pid:   os.Getpid(),
			run:   newRunID(),
			boot:  bootID(),
			alive: processAlive,
			seq:   new(atomic.Uint64),
		},
		isRoot:       func() bool { return os.Geteuid() == 0 },
		openSwitched: openBPFNDRV,
		links:        linkwatch.System,
	}
})

// Kind returns the feth port kind.
func Kind() fabric.Kind { return darwinSystem().kind() }

// openBPFNDRV switches ifname with BPF and NDRV.
func openBPFNDRV(ifname string, log hclog.Logger) (switchedPort, error) {
	p, err := bpfndrv.Open(ifname, bpfndrv.Config{Promisc: true, Logger: log})
	if err != nil {
		return nil, err
	}
	return p, nil
}
