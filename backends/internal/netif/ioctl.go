//go:build linux

package netif

import (
	"errors"
	"fmt"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// ErrPrivilege is wrapped by errors that come from missing privileges.
var ErrPrivilege = errors.New("l2fabric needs root (CAP_NET_ADMIN) for this")

// Privileged wraps err with ErrPrivilege when it is EPERM or EACCES.
func Privileged(what string, err error) error {
	if errors.Is(err, unix.EPERM) || errors.Is(err, unix.EACCES) {
		return fmt.Errorf("%s: %v: %w", what, err, ErrPrivilege)
	}
	return fmt.Errorf("%s: %w", what, err)
}

// byName returns netlink's link called name, for the calls that take one.
func byName(name string) (netlink.Link, error) {
	l, err := netlink.LinkByName(name)
	if err != nil {
		return nil, lookupError(name, err)
	}
	return l, nil
}

// SetMTU sets the MTU of the interface called name (RTM_NEWLINK with
// IFLA_MTU).
func SetMTU(name string, mtu int) error {
	l, err := byName(name)
	if err != nil {
		return err
	}
	if err := netlink.LinkSetMTU(l, mtu); err != nil {
		return Privileged(fmt.Sprintf("setting the MTU of %s to %d", name, mtu), err)
	}
	return nil
}

// SetUp brings the interface called name up (IFF_UP), if it is not.
func SetUp(name string) error {
	l, err := byName(name)
	if err != nil {
		return err
	}
	if l.Attrs().RawFlags&unix.IFF_UP != 0 {
		return nil
	}
	if err := netlink.LinkSetUp(l); err != nil {
		return Privileged("bringing "+name+" up", err)
	}
	return nil
}

// AddToBridge makes the interface with index member a port of the bridge
// called bridge (RTM_NEWLINK with IFLA_MASTER, what `ip link set MEMBER
// master BRIDGE` does).
func AddToBridge(bridge string, member int) error {
	br, err := byName(bridge)
	if err != nil {
		return err
	}
	m, err := netlink.LinkByIndex(member)
	if err != nil {
		return lookupError(fmt.Sprintf("index %d", member), err)
	}
	if err := netlink.LinkSetMasterByIndex(m, br.Attrs().Index); err != nil {
		return Privileged(fmt.Sprintf("adding interface %d to bridge %s", member, bridge), err)
	}
	return nil
}
