//go:build linux || darwin

package host

import (
	"fmt"
	"net"
	"net/netip"

	"github.com/hashicorp/go-hclog"

	"github.com/l2fabric/l2fabric/backends/internal/macnat"
	"github.com/l2fabric/l2fabric/fabric"
	"github.com/l2fabric/l2fabric/frames"
)

// MAC-NAT on a host port: the macnat= option's values, and wrapping the
// platform's port (package macnat). wireless_linux.go and
// wireless_darwin.go say when auto turns it on.

// macnatMode is the macnat= option: whether the port applies MAC-NAT
// (package macnat), which a link that admits only the host's own source
// MAC (Wi-Fi) needs.
type macnatMode uint8

const (
	// macnatAuto: on when the interface is Wi-Fi (see wireless).
	macnatAuto macnatMode = iota
	macnatOn
	macnatOff
)

// trunkError is the error for MAC-NAT on a trunk; auto, when not empty,
// says why macnat=auto turned it on.
func trunkError(s fabric.Spec, auto string) error {
	on := "macnat=on"
	if auto != "" {
		on = "macnat=auto: " + auto
	}
	return &fabric.SpecError{Spec: s.Text, Part: "trunk=",
		Reason: "MAC-NAT (" + on + ") works on access ports only: its table of addresses is not VLAN-aware",
		Hint:   "drop trunk= (the port then carries one VLAN untagged, vlan=N), or set macnat=off if the link admits every source MAC"}
}

// decideMACNAT says whether the port o describes applies MAC-NAT (for
// macnat=auto, whether the interface is Wi-Fi), and how its info shows
// that: "macnat on (auto: Wi-Fi interface)". MAC-NAT on a trunk is an
// error.
func decideMACNAT(s fabric.Spec, o options, cfg fabric.PortConfig) (on bool, info string, err error) {
	on, why := o.macnat == macnatOn, ""
	if o.macnat == macnatAuto {
		on, why = wireless(o.ifname)
	}
	switch {
	case on && cfg.IsTrunk():
		return false, "", trunkError(s, why)
	case on && why != "":
		return true, "macnat on (auto: " + why + ")", nil
	case on:
		return true, "macnat on", nil
	}
	return false, "macnat off", nil
}

// wrapMACNAT returns p with MAC-NAT applied for the interface o names,
// or closes p and returns an error.
func wrapMACNAT(p fabric.Port, o options, log hclog.Logger) (fabric.Port, error) {
	w, err := macnat.Wrap(p, macnat.Config{
		Table:  macnat.TableConfig{MaxEntries: o.macnatMax},
		Host:   interfaceAddrs(o.ifname),
		Logger: log.Named("macnat"),
	})
	if err != nil {
		p.Close()
		return nil, fmt.Errorf("host:%s: %w", o.ifname, err)
	}
	return w, nil
}

// interfaceAddrs returns the MAC and addresses of the interface called
// ifname, as MAC-NAT needs them: its own addresses are the host's.
func interfaceAddrs(ifname string) macnat.HostAddrs {
	return func() (frames.MAC, []netip.Addr, error) {
		ifi, err := net.InterfaceByName(ifname)
		if err != nil {
			return frames.MAC{}, nil, err
		}
		if len(ifi.HardwareAddr) != len(frames.MAC{}) {
			return frames.MAC{}, nil, fmt.Errorf("%s has no Ethernet address", ifname)
		}
		as, err := ifi.Addrs()
		if err != nil {
			return frames.MAC{}, nil, err
		}
		var addrs []netip.Addr
		for _, a := range as {
			if n, ok := a.(*net.IPNet); ok {
				if ip, ok := netip.AddrFromSlice(n.IP); ok {
					addrs = append(addrs, ip.Unmap())
				}
			}
		}
		return frames.MAC(ifi.HardwareAddr), addrs, nil
	}
}
