//go:build linux

// Package tap puts the Linux host itself on the fabric through a TAP
// device (Port, which feth uses too): what the kernel sends out of the TAP reaches the fabric, and
// what the fabric sends the TAP is received by the kernel as if from a
// wire. Give the TAP an address and the host talks to the VMs.
//
// Form:
//
//	tap:NAME[,persist=on|off][,owner=UID|USER][,group=GID|GROUP][,mtu=N]
//
// NAME is created if it does not exist, or attached if it is a TAP that
// does (one made with `ip tuntap add mode tap`). Either way it is brought
// up. The port is named NAME unless name= says otherwise.
//
//   - persist: absent, a TAP l2fabric created is removed when the port
//     closes (on exit, or on detach) and an existing one is left as it
//     was; persist=on makes the TAP persistent, so it stays; persist=off
//     makes it non-persistent, so it goes even if it existed before.
//   - owner, group: let that user or group open the TAP (TUNSETOWNER,
//     TUNSETGROUP), as `ip tuntap add user U group G` does.
//   - mtu: sets the TAP's MTU, which is also the port's; without it the
//     port takes the TAP's MTU (1500 for a new one).
//
// Frames are plain Ethernet (IFF_NO_PI, no virtio-net header): the kernel
// segments and checksums what it sends through the TAP, so frames never
// exceed the MTU.
//
// If the TAP is deleted while the port is attached (`ip link del NAME`),
// the port stays, its link is reported down, and when a TAP of that name
// appears again it is attached (and brought up) and the link reported
// up. The port learns all this from the kernel's link events (package
// linkwatch); nothing polls. A TAP set down by hand (`ip link set NAME down`) is reported down
// until it is set up again.
//
// Creating or attaching a TAP needs root (CAP_NET_ADMIN).
package tap

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"github.com/l2fabric/l2fabric/backends/internal/netif"
	"github.com/l2fabric/l2fabric/backends/internal/sockfile"
	"github.com/l2fabric/l2fabric/fabric"
)

var forms = []string{"tap:NAME[,persist=on|off][,owner=UID|USER][,group=GID|GROUP]"}

// Kind returns the tap port kind.
func Kind() fabric.Kind {
	return fabric.Kind{
		Name:    "tap",
		Summary: "the host itself, through a TAP device it creates or attaches (Linux)",
		Forms:   forms,
		Keys:    []string{"persist", "owner", "group"},
		Check: func(s fabric.Spec, _ fabric.PortConfig) error {
			_, err := parseOptions(s)
			return err
		},
		Open: open,
	}
}

// parseOptions turns a spec into TAP options; it creates nothing.
func parseOptions(s fabric.Spec) (Options, error) {
	o := Options{Name: s.Arg, Owner: -1, Group: -1}
	fail := func(part, reason string) (Options, error) {
		return Options{}, &fabric.SpecError{Spec: s.Text, Part: part, Reason: reason, Hint: "forms: " + strings.Join(forms, " | ")}
	}
	if o.Name == "" {
		return fail("", "missing TAP device name")
	}
	if err := netif.ValidName(o.Name); err != nil {
		return fail(o.Name, err.Error())
	}
	if strings.Contains(o.Name, "%") {
		return fail(o.Name, "give the TAP a fixed name, not a kernel template")
	}
	for _, opt := range s.Options {
		part := opt.Key + "=" + opt.Value
		switch opt.Key {
		case "persist":
			on, err := fabric.ParseBool(opt.Value)
			if err != nil {
				return fail(part, err.Error())
			}
			o.Persist = PersistOff
			if on {
				o.Persist = PersistOn
			}
		case "owner":
			id, err := sockfile.LookupUser(opt.Value)
			if err != nil {
				return fail(part, err.Error())
			}
			o.Owner = id
		case "group":
			id, err := sockfile.LookupGroup(opt.Value)
			if err != nil {
				return fail(part, err.Error())
			}
			o.Group = id
		case "mtu":
			o.MTU, _ = strconv.Atoi(opt.Value) // checked by fabric.ParsePortConfig
		}
	}
	return o, nil
}

func open(_ context.Context, s fabric.Spec, cfg fabric.PortConfig, a fabric.Attacher) (fabric.Opened, error) {
	o, err := parseOptions(s)
	if err != nil {
		return fabric.Opened{}, err
	}
	p, err := OpenPort(PortConfig{
		Options: o,
		Log:     a.Logger().Named("tap"),
	})
	if err != nil {
		return fabric.Opened{}, err
	}
	if cfg.Name == "" {
		cfg.Name = o.Name
	}
	cfg.Kind = "tap"
	cfg.MTU = p.MTU()
	how := "attached"
	if p.Created() {
		how = "created"
	}
	if p.Persistent() {
		how += ", persistent"
	}
	cfg.Info = fmt.Sprintf("TAP %s (%s)", o.Name, how)
	cfg.LoopProbes = true // often in a host bridge
	return fabric.Opened{Port: p, Config: cfg}, nil
}
