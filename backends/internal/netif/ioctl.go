//go:build linux

package netif

import (
	"errors"
	"fmt"

	"golang.org/x/sys/unix"
)

// ErrPrivilege is wrapped by errors that come from missing privileges.
var ErrPrivilege = errors.New("l2fabric needs root (CAP_NET_ADMIN) for this")

// privileged wraps err with ErrPrivilege when it is EPERM or EACCES.
func privileged(what string, err error) error {
	if errors.Is(err, unix.EPERM) || errors.Is(err, unix.EACCES) {
		return fmt.Errorf("%s: %v: %w", what, err, ErrPrivilege)
	}
	return fmt.Errorf("%s: %w", what, err)
}

// ioctlIfreq runs one interface ioctl on a throwaway socket of the
// caller's network namespace. Any socket reaches the device ioctls; a unix
// one exists even where IPv4 is disabled.
func ioctlIfreq(req uint, ifr *unix.Ifreq) error {
	fd, err := unix.Socket(unix.AF_UNIX, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	return unix.IoctlIfreq(fd, req, ifr)
}

// SetMTU sets the MTU of the interface called name.
func SetMTU(name string, mtu int) error {
	ifr, err := unix.NewIfreq(name)
	if err != nil {
		return err
	}
	ifr.SetUint32(uint32(mtu))
	if err := ioctlIfreq(unix.SIOCSIFMTU, ifr); err != nil {
		return privileged(fmt.Sprintf("setting the MTU of %s to %d", name, mtu), err)
	}
	return nil
}

// SetUp brings the interface called name up (IFF_UP), if it is not.
func SetUp(name string) error {
	ifr, err := unix.NewIfreq(name)
	if err != nil {
		return err
	}
	if err := ioctlIfreq(unix.SIOCGIFFLAGS, ifr); err != nil {
		return fmt.Errorf("reading the flags of %s: %w", name, err)
	}
	flags := ifr.Uint16()
	if flags&unix.IFF_UP != 0 {
		return nil
	}
	ifr.SetUint16(flags | unix.IFF_UP)
	if err := ioctlIfreq(unix.SIOCSIFFLAGS, ifr); err != nil {
		return privileged("bringing "+name+" up", err)
	}
	return nil
}

// AddToBridge makes the interface with index member a port of the bridge
// called bridge (SIOCBRADDIF, what brctl addif does).
func AddToBridge(bridge string, member int) error {
	ifr, err := unix.NewIfreq(bridge)
	if err != nil {
		return err
	}
	ifr.SetUint32(uint32(member))
	if err := ioctlIfreq(unix.SIOCBRADDIF, ifr); err != nil {
		return privileged(fmt.Sprintf("adding interface %d to bridge %s", member, bridge), err)
	}
	return nil
}
