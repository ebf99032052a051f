//go:build linux || darwin

package stream

import (
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"

	"golang.org/x/sys/unix"
)

// listenBacklog is the listening socket's queue of connections not yet
// accepted.
const listenBacklog = 128

// socketFile is a listening stream socket and the file it is bound to.
type socketFile struct {
	ln   *net.UnixListener
	path string
	fi   fs.FileInfo // the file as created, to remove only that one
}

// listenUnix creates a stream socket listening at path, with the file
// given mode and, when gid >= 0, that group. The file has its mode and
// group before the socket accepts its first connection. A stale socket
// file from a process that died is replaced; a socket someone still
// listens on, or a file that is not a socket, is an error.
func listenUnix(path string, mode os.FileMode, gid int) (*socketFile, error) {
	if len(path) > maxPathLen() {
		return nil, fmt.Errorf("socket path %q is %d bytes, longer than the %d this platform allows: use a shorter path", path, len(path), maxPathLen())
	}
	if fi, err := os.Lstat(path); err == nil {
		if fi.Mode()&os.ModeSocket == 0 {
			return nil, fmt.Errorf("%s exists and is not a socket: refusing to replace it", path)
		}
		if live(path) {
			return nil, fmt.Errorf("%s is in use: another process (socket_vmnet? another l2fabric?) is listening on it", path)
		}
		if err := os.Remove(path); err != nil {
			return nil, fmt.Errorf("removing stale socket %s: %w", path, err)
		}
	}
	fd, err := unix.Socket(unix.AF_UNIX, unix.SOCK_STREAM, 0)
	if err != nil {
		return nil, fmt.Errorf("creating unix stream socket: %w", err)
	}
	unix.CloseOnExec(fd)
	fail := func(err error) (*socketFile, error) {
		unix.Close(fd)
		return nil, err
	}
	if err := unix.Bind(fd, &unix.SockaddrUnix{Name: path}); err != nil {
		return fail(fmt.Errorf("binding %s: %w", path, err))
	}
	if err := os.Chmod(path, mode); err != nil {
		os.Remove(path)
		return fail(fmt.Errorf("setting mode of %s: %w", path, err))
	}
	if gid >= 0 {
		if err := os.Lchown(path, -1, gid); err != nil {
			os.Remove(path)
			return fail(fmt.Errorf("giving %s to group %d: %w (l2fabric must run as root or be a member of the group)", path, gid, err))
		}
	}
	fi, err := os.Lstat(path)
	if err != nil {
		return fail(err)
	}
	if err := unix.Listen(fd, listenBacklog); err != nil {
		os.Remove(path)
		return fail(fmt.Errorf("listening on %s: %w", path, err))
	}
	f := os.NewFile(uintptr(fd), path)
	l, err := net.FileListener(f)
	f.Close()
	if err != nil {
		os.Remove(path)
		return nil, err
	}
	return &socketFile{ln: l.(*net.UnixListener), path: path, fi: fi}, nil
}

// close stops listening and removes the socket file, unless another has
// taken its place meanwhile.
func (s *socketFile) close() error {
	err := s.ln.Close()
	if fi, serr := os.Lstat(s.path); serr == nil && os.SameFile(fi, s.fi) {
		os.Remove(s.path)
	}
	return err
}

// live reports whether a process accepts connections (or datagrams) on
// the socket at path.
func live(path string) bool {
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

// maxPathLen is the longest socket path the platform accepts.
func maxPathLen() int {
	var raw unix.RawSockaddrUnix
	return len(raw.Path) - 1
}
