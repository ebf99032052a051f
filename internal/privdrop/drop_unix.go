//go:build linux || darwin

package privdrop

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"syscall"

	"golang.org/x/sys/unix"
)

// Drop makes the process c: it hands the socket files the process has
// bound over to c.UID (so that c can still chmod and remove them, and a
// client running as c can reach them), then sets the supplementary
// groups, the group ID and the user ID, real, effective and saved, in
// that order (the group changes need root). On Linux Go applies each to
// every thread of the process (since Go 1.16). It checks the result,
// including that root cannot be regained, and returns an error if any
// step fails: the caller must then exit, not carry on as root.
//
// No capability is kept. On Linux the daemon could keep CAP_NET_RAW and
// CAP_NET_ADMIN across the change (PR_SET_KEEPCAPS and capset on every
// thread; ambient capabilities only matter across execve, which l2fabric
// never does), and then attach host, tap and feth ports at run time. But
// CAP_NET_ADMIN reconfigures every interface and route of the machine,
// and CAP_NET_RAW reads every frame on it: a compromised daemon would
// keep most of what root gives on a network. So the drop is the same on
// Linux as on macOS, which has no capabilities: all or nothing. Where
// run-time attaches of those kinds matter more, run l2fabric as root, or
// as a user with those capabilities granted by the service manager
// (systemd's AmbientCapabilities=) and without --user.
func Drop(c Credential) error {
	if c.UID == 0 {
		return errors.New("dropping root: the user to become is root")
	}
	if err := CanDrop(c); err != nil {
		return err
	}
	if err := handOverSockets(c.UID); err != nil {
		return err
	}
	if err := syscall.Setgroups(c.Groups); err != nil {
		return fmt.Errorf("dropping root: setgroups: %w", err)
	}
	if err := syscall.Setgid(c.GID); err != nil {
		return fmt.Errorf("dropping root: setgid %d: %w", c.GID, err)
	}
	if err := syscall.Setuid(c.UID); err != nil {
		return fmt.Errorf("dropping root: setuid %d: %w", c.UID, err)
	}
	return verify(c)
}

// CanDrop reports why the process cannot become c: it is not root. The
// daemon checks it before it opens a port, so that --user fails at once.
func CanDrop(c Credential) error {
	if euid := os.Geteuid(); euid != 0 {
		return fmt.Errorf("--user %s: l2fabric runs as uid %d, not root: there is no root to give up (start it as root, or leave out --user)", c.User, euid)
	}
	return nil
}

// verify checks that the process is c and cannot become root again.
func verify(c Credential) error {
	if uid, euid := os.Getuid(), os.Geteuid(); uid != c.UID || euid != c.UID {
		return fmt.Errorf("dropping root: uid %d, euid %d after setuid %d", uid, euid, c.UID)
	}
	if gid, egid := os.Getgid(), os.Getegid(); gid != c.GID || egid != c.GID {
		return fmt.Errorf("dropping root: gid %d, egid %d after setgid %d", gid, egid, c.GID)
	}
	if err := syscall.Setuid(0); err == nil {
		return errors.New("dropping root: setuid(0) still succeeds")
	}
	return nil
}

// handOverSockets makes uid the owner of every unix socket file the
// process has bound: the listening sockets of dgram ports, the control
// socket. The group is left alone (--control-group set it). Sockets are
// found through the descriptors the process holds (/dev/fd on both Linux
// and macOS), so none is missed whichever backend bound it.
func handOverSockets(uid int) error {
	entries, err := os.ReadDir("/dev/fd")
	if err != nil {
		return fmt.Errorf("dropping root: listing descriptors: %w", err)
	}
	for _, e := range entries {
		fd, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		sa, err := unix.Getsockname(fd)
		if err != nil {
			continue // not a socket, or the directory's own descriptor, now closed
		}
		ua, ok := sa.(*unix.SockaddrUnix)
		if !ok || ua.Name == "" || ua.Name[0] == '@' || ua.Name[0] == 0 {
			continue // not a unix socket, unnamed, or abstract
		}
		if err := os.Lchown(ua.Name, uid, -1); err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("dropping root: handing %s to uid %d: %w", ua.Name, uid, err)
		}
	}
	return nil
}
