//go:build linux

// Package feth joins the fabric to an existing Linux bridge, so that the
// host reaches the VMs through the bridge's address: the Linux counterpart
// of the macOS feth pair whose one end is a member of a bridge.
//
// Form:
//
//	feth:BRIDGE[,dev=NAME][,mtu=N]
//
// The port creates a TAP, named l2f-BRIDGE (cut to the 15 bytes an
// interface name may have) unless dev= names it, makes it a port of
// BRIDGE (RTM_NEWLINK with IFLA_MASTER), brings it up and switches it like a tap port.
// The port is named feth-BRIDGE unless name= says otherwise. Without mtu=
// the TAP takes the bridge's MTU, so that joining does not lower it.
//
// The port keeps itself in the bridge, as the kernel's link events
// (rtnetlink) report changes to the TAP or the bridge; nothing polls:
//
//   - a TAP someone took out of the bridge (`ip link set DEV nomaster`) is
//     re-joined, and that is logged; one someone made a port of another
//     bridge is reported down instead, until it is free again;
//   - when the bridge is deleted the link is reported down, and when a
//     bridge of that name is back the TAP re-joins it and the link is
//     reported up;
//   - when the TAP is deleted the link is reported down, the TAP created
//     again and joined, and the link reported up;
//   - a TAP set down by hand (`ip link set DEV down`) is reported down
//     until it is set up again.
//
// The TAP is deleted when the port closes (on exit or detach), even if
// dev= named a TAP that existed before.
//
// BRIDGE must exist and be a bridge. Creating the TAP needs root
// (CAP_NET_ADMIN).
package feth

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/hashicorp/go-hclog"
	"golang.org/x/sys/unix"

	"github.com/l2fabric/l2fabric/backends/internal/linkwatch"
	"github.com/l2fabric/l2fabric/backends/internal/netif"
	"github.com/l2fabric/l2fabric/backends/tap"
	"github.com/l2fabric/l2fabric/fabric"
)

var forms = []string{"feth:BRIDGE[,dev=NAME]"}

// Kind returns the feth port kind.
func Kind() fabric.Kind {
	return fabric.Kind{
		Name:    "feth",
		Summary: "the host through an existing Linux bridge: a TAP l2fabric joins to it (Linux)",
		Forms:   forms,
		Keys:    []string{"dev"},
		Check: func(s fabric.Spec, _ fabric.PortConfig) error {
			_, err := parseOptions(s)
			return err
		},
		Open: open,
	}
}

// options are the feth-specific parts of a spec.
type options struct {
	bridge string
	dev    string
	mtu    int
}

// devicePrefix starts the default TAP name.
const devicePrefix = "l2f-"

// defaultDevice is the TAP's name when dev= is not given: l2f-BRIDGE, cut
// to the longest interface name Linux allows.
func defaultDevice(bridge string) string {
	n := devicePrefix + bridge
	return n[:min(len(n), unix.IFNAMSIZ-1)]
}

func parseOptions(s fabric.Spec) (options, error) {
	o := options{bridge: s.Arg}
	fail := func(part, reason string) (options, error) {
		return options{}, &fabric.SpecError{Spec: s.Text, Part: part, Reason: reason, Hint: "forms: " + strings.Join(forms, " | ")}
	}
	if o.bridge == "" {
		return fail("", "missing bridge name")
	}
	if err := netif.ValidName(o.bridge); err != nil {
		return fail(o.bridge, err.Error())
	}
	o.dev = defaultDevice(o.bridge)
	for _, opt := range s.Options {
		switch opt.Key {
		case "dev":
			if err := netif.ValidName(opt.Value); err != nil {
				return fail("dev="+opt.Value, err.Error())
			}
			if strings.Contains(opt.Value, "%") {
				return fail("dev="+opt.Value, "give the TAP a fixed name, not a kernel template")
			}
			o.dev = opt.Value
		case "mtu":
			o.mtu, _ = strconv.Atoi(opt.Value) // checked by fabric.ParsePortConfig
		}
	}
	if o.dev == o.bridge {
		return fail("dev="+o.dev, "the TAP cannot have the bridge's name")
	}
	return o, nil
}

// bridgesHint lists the bridges that exist, for error messages.
func bridgesHint() string {
	names, err := netif.Bridges()
	switch {
	case err != nil:
		return "could not list bridges: " + err.Error()
	case len(names) == 0:
		return "there is no bridge: create one with `ip link add NAME type bridge`"
	}
	return "bridges: " + strings.Join(names, ", ")
}

func open(_ context.Context, s fabric.Spec, cfg fabric.PortConfig, a fabric.Attacher) (fabric.Opened, error) {
	o, err := parseOptions(s)
	if err != nil {
		return fabric.Opened{}, err
	}
	br, err := netif.LinkByName(o.bridge)
	if errors.Is(err, netif.ErrNotFound) {
		return fabric.Opened{}, fmt.Errorf("bridge %s does not exist (%s)", o.bridge, bridgesHint())
	}
	if err != nil {
		return fabric.Opened{}, err
	}
	if !br.IsBridge() {
		return fabric.Opened{}, fmt.Errorf("%s is %s, not a bridge (%s)", o.bridge, br.Describe(), bridgesHint())
	}
	mtu := o.mtu
	if mtu == 0 {
		mtu = min(max(br.MTU, fabric.MinMTU), fabric.MaxMTU)
	}
	log := a.Logger().Named("feth")
	j := &joiner{bridge: o.bridge, log: log}
	p, err := tap.OpenPort(tap.PortConfig{
		Options:  tap.Options{Name: o.dev, Persist: tap.PersistOff, Owner: -1, Group: -1, MTU: mtu},
		Recreate: true,
		Also:     []string{o.bridge},
		Ensure:   j.ensure,
		Log:      log,
	})
	if err != nil {
		return fabric.Opened{}, err
	}
	if cfg.Name == "" {
		cfg.Name = "feth-" + o.bridge
	}
	cfg.Kind = "feth"
	cfg.MTU = p.MTU()
	cfg.Info = fmt.Sprintf("TAP %s in bridge %s", o.dev, o.bridge)
	cfg.LoopProbes = true // the bridge's LAN
	return fabric.Opened{Port: p, Config: cfg}, nil
}

// joiner keeps the TAP in the bridge. Its ensure runs on the port's
// supervisor goroutine only, on every link event of the TAP or the
// bridge.
type joiner struct {
	bridge     string
	log        hclog.Logger
	lastDev    int // the TAP's index when last joined, 0 before the first
	lastBridge int // the bridge's index then
}

// ensure makes dev a port of the bridge, and fails while there is no
// bridge to join.
func (j *joiner) ensure(ev linkwatch.Link, lookup func(string) (linkwatch.Link, bool)) (string, error) {
	br, ok := lookup(j.bridge)
	switch {
	case !ok && j.lastDev == 0:
		return "", fmt.Errorf("bridge %s does not exist (%s)", j.bridge, bridgesHint())
	case !ok:
		return "", fmt.Errorf("bridge %s deleted", j.bridge)
	}
	// The event says something changed; the kernel says what is true
	// now. (A move to another bridge is two events, leaving br0 then
	// joining br1: acting on the first would fight whoever moved it.)
	dev, err := netif.LinkByIndex(ev.Index)
	switch {
	case errors.Is(err, netif.ErrNotFound):
		return "", fmt.Errorf("interface %s deleted", ev.Name)
	case err != nil:
		return "", err
	}
	switch {
	case dev.Master == br.Index:
		return "", nil
	case dev.Master != 0:
		// Someone made it a port of another bridge (or a bond): taking
		// it back would fight them.
		other := fmt.Sprintf("interface %d", dev.Master)
		if m, err := netif.LinkByIndex(dev.Master); err == nil {
			other = m.Name
		}
		return "", fmt.Errorf("%s was moved to %s: not re-joining bridge %s", dev.Name, other, j.bridge)
	}
	if l, err := netif.LinkByIndex(br.Index); err == nil && !l.IsBridge() {
		return "", fmt.Errorf("%s is %s, not a bridge", j.bridge, l.Describe())
	}
	// The bridge keeps its address: without one set explicitly, a Linux
	// bridge takes its lowest port's, and would change it as the TAP
	// comes and goes.
	if pinned, err := netif.PinAddress(j.bridge); err != nil {
		j.log.Warn("could not pin the bridge's address: it may change as its ports do", "bridge", j.bridge, "error", err)
	} else if pinned {
		j.log.Info("pinned the bridge's address, so that its ports do not change it", "bridge", j.bridge)
	}
	if err := netif.AddToBridge(j.bridge, dev.Index); err != nil {
		return "", fmt.Errorf("joining %s to bridge %s: %w", dev.Name, j.bridge, err)
	}
	note := ""
	switch {
	case j.lastDev == 0:
		j.log.Info("TAP joined the bridge", "device", dev.Name, "bridge", j.bridge)
	case j.lastBridge != br.Index:
		note = "bridge " + j.bridge + " back"
		j.log.Info("bridge is back: TAP re-joined it", "device", dev.Name, "bridge", j.bridge)
	case j.lastDev != dev.Index:
		note = "interface " + dev.Name + " re-created and joined to bridge " + j.bridge
		j.log.Info("re-created TAP joined the bridge", "device", dev.Name, "bridge", j.bridge)
	default:
		note = "re-joined bridge " + j.bridge
		j.log.Warn("TAP was taken out of the bridge: re-added it", "device", dev.Name, "bridge", j.bridge)
	}
	j.lastDev, j.lastBridge = dev.Index, br.Index
	return note, nil
}
