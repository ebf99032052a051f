// Package privdrop gives up root once l2fabric's ports are open: the
// daemon, started as root for the ports that need it (host, tap, feth),
// becomes an ordinary user (--user USER[:GROUP]) before it forwards a
// single frame from a VM, as vmnet-helper does.
//
// The drop is complete: supplementary groups, group and user ID, on every
// thread, and no capability is kept (see Drop). What stays open keeps
// working, because the kernel checked the privilege when the descriptor
// was opened: forwarding, dgram and stream sockets, vm: ports, the
// control socket.
// What needs root anew fails, and NeedRootError says why and what to do
// instead: attaching a host, tap or feth port at run time, reopening a
// host interface that was deleted and re-created, and (macOS) destroying
// the feth pair at exit, which the next start as root cleans up.
//
// Lookup and the tables are portable and tested everywhere; Drop is the
// system-call glue for Linux and macOS.
package privdrop

import (
	"errors"
	"fmt"
	"os/user"
	"strconv"
	"strings"
)

// Credential is the user and groups the process becomes.
type Credential struct {
	// User and Group are the names as resolved (or the numbers, for IDs
	// with no name).
	User, Group string
	// UID and GID are the user and primary group IDs.
	UID, GID int
	// Groups are the supplementary groups: the user's, as the group
	// database lists them, and GID.
	Groups []int
}

// String describes the credential for logs: "nobody:nogroup (uid 65534,
// gid 65534)".
func (c Credential) String() string {
	return fmt.Sprintf("%s:%s (uid %d, gid %d)", c.User, c.Group, c.UID, c.GID)
}

// ParseSpec splits USER[:GROUP]. Neither part may be empty when given.
func ParseSpec(spec string) (userName, group string, err error) {
	const form = "want USER or USER:GROUP, e.g. --user nobody or --user _l2fabric:staff"
	userName, group, hasGroup := strings.Cut(spec, ":")
	switch {
	case userName == "":
		return "", "", fmt.Errorf("--user %q: no user (%s)", spec, form)
	case hasGroup && group == "":
		return "", "", fmt.Errorf("--user %q: empty group after ':' (%s)", spec, form)
	case strings.Contains(group, ":"):
		return "", "", fmt.Errorf("--user %q: more than one ':' (%s)", spec, form)
	}
	return userName, group, nil
}

// Lookup resolves USER[:GROUP] in the user and group databases. Either
// may be a name or a number. Without GROUP the user's primary group is
// used. The supplementary groups are the user's.
func Lookup(spec string) (Credential, error) {
	userName, groupName, err := ParseSpec(spec)
	if err != nil {
		return Credential{}, err
	}
	u, err := lookupUser(userName)
	if err != nil {
		return Credential{}, fmt.Errorf("--user %q: %w", spec, err)
	}
	c := Credential{User: u.Username}
	if c.UID, err = strconv.Atoi(u.Uid); err != nil {
		return Credential{}, fmt.Errorf("--user %q: user ID %q is not a number", spec, u.Uid)
	}
	gid := u.Gid
	c.Group = gid
	if g, err := user.LookupGroupId(gid); err == nil {
		c.Group = g.Name
	}
	if groupName != "" {
		g, err := lookupGroup(groupName)
		if err != nil {
			return Credential{}, fmt.Errorf("--user %q: %w", spec, err)
		}
		gid, c.Group = g.Gid, g.Name
	}
	if c.GID, err = strconv.Atoi(gid); err != nil {
		return Credential{}, fmt.Errorf("--user %q: group ID %q is not a number", spec, gid)
	}
	if c.UID == 0 {
		return Credential{}, fmt.Errorf("--user %q: that is root: name the unprivileged user l2fabric should run as", spec)
	}
	ids, err := u.GroupIds()
	if err != nil {
		// A user known by number only has no group list: its
		// primary group is enough.
		ids = nil
	}
	c.Groups = append(c.Groups, c.GID)
	for _, s := range ids {
		id, err := strconv.Atoi(s)
		if err == nil && id != c.GID {
			c.Groups = append(c.Groups, id)
		}
	}
	return c, nil
}

// lookupUser finds a user by name, or by number.
func lookupUser(name string) (*user.User, error) {
	u, err := user.Lookup(name)
	if err == nil {
		return u, nil
	}
	if _, numErr := strconv.Atoi(name); numErr == nil {
		if u, err := user.LookupId(name); err == nil {
			return u, nil
		}
		// A number with no entry in the database is still a user
		// ID the kernel takes, with a group of the same number.
		return &user.User{Uid: name, Gid: name, Username: name}, nil
	}
	var unknown user.UnknownUserError
	if errors.As(err, &unknown) {
		return nil, fmt.Errorf("no user %q on this system (create it, or give an existing one such as nobody)", name)
	}
	return nil, err
}

// lookupGroup finds a group by name, or by number.
func lookupGroup(name string) (*user.Group, error) {
	g, err := user.LookupGroup(name)
	if err == nil {
		return g, nil
	}
	if _, numErr := strconv.Atoi(name); numErr == nil {
		if g, err := user.LookupGroupId(name); err == nil {
			return g, nil
		}
		return &user.Group{Gid: name, Name: name}, nil
	}
	var unknown user.UnknownGroupError
	if errors.As(err, &unknown) {
		return nil, fmt.Errorf("no group %q on this system", name)
	}
	return nil, err
}

// NeedsRoot reports whether opening a port of kind needs root, and what
// for. It is the one list of such kinds: host, tap and feth.
func NeedsRoot(kind string) (what string, ok bool) {
	switch kind {
	case "host":
		return "a raw socket on a host interface (AF_PACKET on Linux, BPF and PF_NDRV on macOS)", true
	case "tap":
		return "creating a TAP interface (/dev/net/tun, CAP_NET_ADMIN)", true
	case "feth":
		return "creating and bridging interfaces (a feth pair on macOS, a TAP joined to the bridge on Linux)", true
	}
	return "", false
}

// NeedRootError is the error for a port of a kind that needs root, opened
// after the daemon gave root up.
type NeedRootError struct {
	// Kind is the port kind, e.g. "host".
	Kind string
	// User is who the daemon runs as now.
	User Credential
}

func (e *NeedRootError) Error() string {
	what, _ := NeedsRoot(e.Kind)
	return fmt.Sprintf("%s ports need root (%s), and l2fabric gave root up for user %s (--user) once its ports were open: "+
		"give %s ports with --port or in the config file so that they open at start, or run l2fabric without --user",
		e.Kind, what, e.User.User, e.Kind)
}

// CheckKind returns a *NeedRootError for a kind that needs root, opened
// by a process running as c; nil for any other kind.
func CheckKind(kind string, c Credential) error {
	if _, ok := NeedsRoot(kind); ok {
		return &NeedRootError{Kind: kind, User: c}
	}
	return nil
}
