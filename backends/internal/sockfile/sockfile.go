//go:build linux || darwin

// Package sockfile creates the socket files l2fabric's backends bind and
// listen on: one policy for dgram and stream sockets alike.
//
//   - A path longer than the platform's sockaddr_un is refused before
//     anything is created.
//   - A file already at the path is replaced only if it is a socket that
//     nothing listens on any more (a stale file from a crash); a live
//     socket is a *fabric.SocketInUseError, so that the fabric can name
//     its own port that holds it; a file that is not a socket is left
//     alone and refused.
//   - A missing directory is named, with the command that creates it.
//   - The file gets its mode, owner and group (Perm) after bind and
//     before the caller listens or sends, so that no client ever sees it
//     with other permissions. Owner and group are socket_vmnet's
//     --socket-group: a root daemon whose VMs run as a user.
//   - Remove removes the file only if it is still the one created, never
//     a socket another process has put there since.
package sockfile

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/l2fabric/l2fabric/fabric"
)

// Perm is what a socket file is given once bound.
type Perm struct {
	// Mode is the file's permission bits.
	Mode os.FileMode
	// UID and GID, when not -1, are the file's owner and group.
	UID, GID int
}

// PermKeys are the spec options SetOption takes.
var PermKeys = []string{"mode", "owner", "group"}

// SetOption sets the part of p that the spec option key=value names
// (mode=0660, owner=USER, group=GROUP), the one parser of these options
// for every kind that binds a socket file. It reports whether key is one
// of PermKeys; the error says what the value should be.
func (p *Perm) SetOption(key, value string) (bool, error) {
	switch key {
	case "mode":
		m, err := strconv.ParseUint(value, 8, 32)
		if err != nil || m > 0o777 {
			return true, errors.New("mode must be octal permissions like 0660")
		}
		p.Mode = os.FileMode(m)
	case "owner":
		id, err := LookupUser(value)
		if err != nil {
			return true, fmt.Errorf("%v: owner= takes a user name or UID", err)
		}
		p.UID = id
	case "group":
		id, err := LookupGroup(value)
		if err != nil {
			return true, fmt.Errorf("%v: group= takes a group name or GID, e.g. group=staff", err)
		}
		p.GID = id
	default:
		return false, nil
	}
	return true, nil
}

// File is a socket file this process bound.
type File struct {
	path string
	fi   fs.FileInfo
}

// Path is where the file is.
func (f *File) Path() string { return f.path }

// Remove removes the file, unless another has taken its place.
func (f *File) Remove() {
	if fi, err := os.Lstat(f.path); err == nil && os.SameFile(fi, f.fi) {
		os.Remove(f.path)
	}
}

// Name is the name a port (or device) on the socket at path gets when
// its spec sets none: the file's name without its extension (vms.sock
// gives vms, socket_vmnet's /var/run/socket_vmnet gives socket_vmnet),
// or kind when the path has no file name.
func Name(path, kind string) string {
	b := strings.TrimSuffix(filepath.Base(path), filepath.Ext(path))
	if b == "" || b == "." || b == "/" {
		return kind
	}
	return b
}

// MaxPathLen is the longest socket path the platform accepts.
func MaxPathLen() int {
	var raw unix.RawSockaddrUnix
	return len(raw.Path) - 1
}

// CheckPathLen reports a socket path longer than MaxPathLen, which no
// bind or connect can use, with its length and the limit; the caller
// names the path.
func CheckPathLen(path string) error {
	if len(path) > MaxPathLen() {
		return fmt.Errorf("socket path is %d bytes, longer than the %d this platform allows: use a shorter path", len(path), MaxPathLen())
	}
	return nil
}

// Bind binds the AF_UNIX socket fd at path and gives the file perm. A
// stale socket file is replaced first. On failure nothing is left at
// path that Bind created; fd stays the caller's to close.
func Bind(fd int, path string, perm Perm) (*File, error) {
	if err := CheckPathLen(path); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if err := makeWay(path); err != nil {
		return nil, err
	}
	if err := unix.Bind(fd, &unix.SockaddrUnix{Name: path}); err != nil {
		return nil, bindError(path, err)
	}
	fail := func(err error) (*File, error) {
		os.Remove(path)
		return nil, err
	}
	if err := os.Chmod(path, perm.Mode); err != nil {
		return fail(fmt.Errorf("setting mode of %s: %w", path, err))
	}
	if perm.UID >= 0 || perm.GID >= 0 {
		if err := os.Lchown(path, perm.UID, perm.GID); err != nil {
			return fail(fmt.Errorf("giving %s to %s: %w (only root may give a file away, and a user only to a group of theirs)", path, describeOwner(perm), err))
		}
	}
	fi, err := os.Lstat(path)
	if err != nil {
		return fail(err)
	}
	return &File{path: path, fi: fi}, nil
}

// makeWay makes way at path: nothing there, or a stale socket, which it
// removes.
func makeWay(path string) error {
	fi, err := os.Lstat(path)
	if err != nil {
		return nil // bind reports what is wrong with the path
	}
	if fi.Mode()&os.ModeSocket == 0 {
		return fmt.Errorf("%s exists and is not a socket: refusing to replace it", path)
	}
	if Live(path) {
		return &fabric.SocketInUseError{Path: path}
	}
	if err := os.Remove(path); err != nil {
		return fmt.Errorf("removing stale socket %s: %w", path, err)
	}
	return nil
}

// bindError says why bind failed, and for a missing or forbidden
// directory, which one and what to do.
func bindError(path string, err error) error {
	dir := filepath.Dir(path)
	switch {
	case errors.Is(err, unix.ENOENT):
		if _, serr := os.Stat(dir); serr != nil {
			return fmt.Errorf("binding %s: directory %s does not exist (create it: mkdir -p %s, or choose another path)", path, dir, dir)
		}
	case errors.Is(err, unix.EACCES):
		return fmt.Errorf("binding %s: %w (this user may not create files in %s: run as root, or choose a directory of yours)", path, err, dir)
	case errors.Is(err, unix.EADDRINUSE):
		return &fabric.SocketInUseError{Path: path}
	}
	return fmt.Errorf("binding %s: %w", path, err)
}

// Live reports whether a process accepts connections or datagrams on the
// socket at path.
func Live(path string) bool {
	for _, typ := range []int{unix.SOCK_STREAM, unix.SOCK_DGRAM} {
		fd, err := unix.Socket(unix.AF_UNIX, typ, 0)
		if err != nil {
			continue
		}
		unix.SetNonblock(fd, true) // a live listener's full backlog must not block us
		err = unix.Connect(fd, &unix.SockaddrUnix{Name: path})
		unix.Close(fd)
		if err == nil || errors.Is(err, unix.EAGAIN) { // EAGAIN: a live listener with a full backlog
			return true
		}
	}
	return false
}

func describeOwner(p Perm) string {
	switch {
	case p.UID >= 0 && p.GID >= 0:
		return fmt.Sprintf("user %d, group %d", p.UID, p.GID)
	case p.UID >= 0:
		return fmt.Sprintf("user %d", p.UID)
	}
	return fmt.Sprintf("group %d", p.GID)
}

// LookupUser resolves a user name or numeric UID, as owner= takes it.
func LookupUser(s string) (int, error) {
	if id, err := strconv.ParseUint(s, 10, 31); err == nil {
		return int(id), nil
	}
	u, err := user.Lookup(s)
	if err != nil {
		return 0, fmt.Errorf("no user %q", s)
	}
	id, err := strconv.Atoi(u.Uid)
	if err != nil {
		return 0, fmt.Errorf("user %q has a non-numeric UID %q", s, u.Uid)
	}
	return id, nil
}

// LookupGroup resolves a group name or numeric GID, as group= takes it.
func LookupGroup(s string) (int, error) {
	if id, err := strconv.ParseUint(s, 10, 31); err == nil {
		return int(id), nil
	}
	g, err := user.LookupGroup(s)
	if err != nil {
		return 0, fmt.Errorf("no group %q", s)
	}
	id, err := strconv.Atoi(g.Gid)
	if err != nil {
		return 0, fmt.Errorf("group %q has a non-numeric GID %q", s, g.Gid)
	}
	return id, nil
}
