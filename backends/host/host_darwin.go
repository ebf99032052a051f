//go:build darwin

package host

import (
	"fmt"
	"net"

	"github.com/hashicorp/go-hclog"

	"github.com/l2fabric/l2fabric/backends/internal/bpfndrv"
	"github.com/l2fabric/l2fabric/fabric"
)

// Kind returns the host port kind: on macOS, frames are received through
// BPF and sent through a PF_NDRV socket (package bpfndrv). BPF does not
// show the port the frames the host itself sends on the interface, so the
// host cannot reach the VMs through this port: that is the feth port's
// job.
func Kind() fabric.Kind {
	return kind("a host network interface over BPF (receive) and NDRV (send): the physical LAN (needs root; the host itself is reached with feth)", openDarwin)
}

// openDarwin opens the BPF and NDRV port on the interface.
func openDarwin(o options, _ *net.Interface, _ int, log hclog.Logger) (fabric.Port, error) {
	p, err := bpfndrv.Open(o.ifname, bpfndrv.Config{Promisc: o.promisc, Logger: log})
	if err != nil {
		return nil, fmt.Errorf("host:%w", err)
	}
	return p, nil
}
