//go:build linux

// Package netif is the Linux network-interface plumbing the tap and feth
// backends share: looking links up and configuring them (MTU, up, bridge
// membership) over rtnetlink, through github.com/vishvananda/netlink, and
// opening a TAP (the TUNSETIFF ioctls of /dev/net/tun, which netlink does
// not have).
//
// Links are looked up over netlink rather than /sys/class/net, because
// sysfs shows the network namespace it was mounted in, not necessarily the
// caller's.
package netif

import (
	"errors"
	"fmt"
	"net"
	"slices"
	"strings"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// ErrNotFound is returned (wrapped) when no interface has the name or
// index asked for.
var ErrNotFound = errors.New("no such network interface")

// Link is a network interface as rtnetlink describes it.
type Link struct {
	// Index is the interface index.
	Index int
	// Name is the interface name.
	Name string
	// HardwareAddr is the interface's MAC address.
	HardwareAddr net.HardwareAddr
	// Flags are the interface flags (unix.IFF_UP...).
	Flags uint32
	// MTU is the interface MTU.
	MTU int
	// Master is the index of the bridge (or bond) the interface is a port
	// of, 0 if none.
	Master int
	// Kind is the rtnetlink link kind: "bridge", "tun", "veth", "dummy",
	// or "" for a physical NIC.
	Kind string
	// TunType is unix.IFF_TUN or unix.IFF_TAP for a Kind "tun" link.
	TunType int
	// TunPersist reports whether a Kind "tun" link is persistent.
	TunPersist bool
	// TunOwner and TunGroup are a Kind "tun" link's owner and group, -1
	// when unset.
	TunOwner, TunGroup int
}

// IsTap reports whether l is a TAP device (a layer-2 tun link).
func (l Link) IsTap() bool { return l.Kind == "tun" && l.TunType == unix.IFF_TAP }

// IsBridge reports whether l is a Linux bridge.
func (l Link) IsBridge() bool { return l.Kind == "bridge" }

// Up reports whether the interface is administratively up.
func (l Link) Up() bool { return l.Flags&unix.IFF_UP != 0 }

// Describe names the link's type for error messages: "a bridge", "a TAP
// device", "a veth device", "a physical or unnamed-kind device".
func (l Link) Describe() string {
	switch {
	case l.IsTap():
		return "a TAP device"
	case l.Kind == "tun":
		return "a TUN (layer 3) device"
	case l.IsBridge():
		return "a bridge"
	case l.Flags&unix.IFF_LOOPBACK != 0:
		return "the loopback device"
	case l.Kind == "":
		return "a device without a link kind (a physical NIC?)"
	}
	return "a " + l.Kind + " device"
}

// LinkByName returns the interface called name, or an error wrapping
// ErrNotFound.
func LinkByName(name string) (Link, error) {
	if err := ValidName(name); err != nil {
		return Link{}, err
	}
	l, err := netlink.LinkByName(name)
	if err != nil {
		return Link{}, lookupError(name, err)
	}
	return fromNetlink(l), nil
}

// LinkByIndex returns the interface with index i, or an error wrapping
// ErrNotFound.
func LinkByIndex(i int) (Link, error) {
	l, err := netlink.LinkByIndex(i)
	if err != nil {
		return Link{}, lookupError(fmt.Sprintf("index %d", i), err)
	}
	return fromNetlink(l), nil
}

// lookupError wraps ErrNotFound when err says there is no such link.
func lookupError(what string, err error) error {
	var nf netlink.LinkNotFoundError
	if errors.As(err, &nf) || errors.Is(err, unix.ENODEV) {
		return fmt.Errorf("%w: %s", ErrNotFound, what)
	}
	return fmt.Errorf("looking up interface %s: %w", what, err)
}

// Links returns every interface of the caller's network namespace.
func Links() ([]Link, error) {
	ls, err := netlink.LinkList()
	if err != nil {
		return nil, fmt.Errorf("listing interfaces: %w", err)
	}
	out := make([]Link, len(ls))
	for i, l := range ls {
		out[i] = fromNetlink(l)
	}
	return out, nil
}

// Bridges returns the names of the Linux bridges, sorted.
func Bridges() ([]string, error) {
	links, err := Links()
	if err != nil {
		return nil, err
	}
	var out []string
	for _, l := range links {
		if l.IsBridge() {
			out = append(out, l.Name)
		}
	}
	slices.Sort(out)
	return out, nil
}

// ValidName checks an interface name as the kernel does: 1 to 15 bytes,
// not "." or "..", without '/', ':' or white space.
func ValidName(name string) error {
	switch {
	case name == "":
		return errors.New("interface name is empty")
	case len(name) >= unix.IFNAMSIZ:
		return fmt.Errorf("interface name %q is %d bytes, longer than the %d Linux allows", name, len(name), unix.IFNAMSIZ-1)
	case name == "." || name == "..":
		return fmt.Errorf("interface name %q is not allowed", name)
	case strings.ContainsAny(name, "/: \t\n\r\v\f"):
		return fmt.Errorf("interface name %q contains '/', ':' or white space", name)
	}
	return nil
}

// fromNetlink is the Link of a netlink link.
func fromNetlink(nl netlink.Link) Link {
	a := nl.Attrs()
	l := Link{
		Index:        a.Index,
		Name:         a.Name,
		HardwareAddr: slices.Clone(a.HardwareAddr),
		Flags:        a.RawFlags,
		MTU:          a.MTU,
		Master:       a.MasterIndex,
		Kind:         nl.Type(),
		TunOwner:     -1,
		TunGroup:     -1,
	}
	switch t := nl.(type) {
	case *netlink.Tuntap:
		l.Kind = "tun"
		l.TunType = int(t.Mode)
		l.TunPersist = !t.NonPersist
		if t.Owner != ^uint32(0) {
			l.TunOwner = int(t.Owner)
		}
		if t.Group != ^uint32(0) {
			l.TunGroup = int(t.Group)
		}
	case *netlink.Device:
		l.Kind = "" // no IFLA_INFO_KIND: a physical NIC, loopback
	}
	return l
}
