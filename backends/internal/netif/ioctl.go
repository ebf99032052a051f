//go:build linux

package netif

import (
	"errors"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"

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

// SetHardwareAddr sets the MAC address of the interface called name.
func SetHardwareAddr(name string, mac net.HardwareAddr) error {
	l, err := byName(name)
	if err != nil {
		return err
	}
	if err := netlink.LinkSetHardwareAddr(l, mac); err != nil {
		return Privileged(fmt.Sprintf("setting the address of %s to %s", name, mac), err)
	}
	return nil
}

// netAddrSet is the kernel's NET_ADDR_SET: the address was set from user
// space, and a bridge keeps it whatever its ports' addresses.
const netAddrSet = 3

// PinAddress makes the interface called name keep its current MAC
// address: a Linux bridge whose address was never set explicitly takes
// the lowest of its ports' addresses, and changes it as ports come and go
// (every LAN peer's ARP entry for the host goes stale). Setting the
// address it has already marks it as set, and the bridge keeps it. It
// reports whether the address was pinned just now (false when it was set
// explicitly already).
//
// How the address was assigned is read from sysfs, which shows the network
// namespace it was mounted in: where it does not show this interface (a
// process in another namespace than its /sys), the address is set all the
// same, which is harmless when it was set already.
func PinAddress(name string) (bool, error) {
	raw, err := os.ReadFile("/sys/class/net/" + name + "/addr_assign_type")
	if err == nil {
		if t, err := strconv.Atoi(strings.TrimSpace(string(raw))); err == nil && t == netAddrSet {
			return false, nil
		}
	}
	l, err := byName(name)
	if err != nil {
		return false, err
	}
	if err := SetHardwareAddr(name, l.Attrs().HardwareAddr); err != nil {
		return false, err
	}
	return true, nil
}

// NeverLowest returns mac with its first octet 0xfe: unicast, locally
// administered, and above any address a bridge could otherwise choose, so
// that a device l2fabric creates never becomes its bridge's address
// (libvirt gives its TAPs such addresses for this reason).
func NeverLowest(mac net.HardwareAddr) net.HardwareAddr {
	out := make(net.HardwareAddr, 6)
	copy(out, mac)
	out[0] = 0xfe
	return out
}
