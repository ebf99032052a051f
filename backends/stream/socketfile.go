//go:build linux || darwin

package stream

import (
	"fmt"
	"net"
	"os"

	"golang.org/x/sys/unix"

	"github.com/l2fabric/l2fabric/backends/internal/sockfile"
)

// listenBacklog is the listening socket's queue of connections not yet
// accepted.
const listenBacklog = 128

// socketFile is a listening stream socket and the file it is bound to.
type socketFile struct {
	ln   *net.UnixListener
	path string
	file *sockfile.File
}

// listenUnix creates a stream socket listening at path, its file created
// as package sockfile does for every socket l2fabric binds: a stale file
// replaced, perm applied before the first connection is accepted.
func listenUnix(path string, perm sockfile.Perm) (*socketFile, error) {
	fd, err := unix.Socket(unix.AF_UNIX, unix.SOCK_STREAM, 0)
	if err != nil {
		return nil, fmt.Errorf("creating unix stream socket: %w", err)
	}
	unix.CloseOnExec(fd)
	file, err := sockfile.Bind(fd, path, perm)
	if err != nil {
		unix.Close(fd)
		return nil, err
	}
	if err := unix.Listen(fd, listenBacklog); err != nil {
		unix.Close(fd)
		file.Remove()
		return nil, fmt.Errorf("listening on %s: %w", path, err)
	}
	f := os.NewFile(uintptr(fd), path)
	l, err := net.FileListener(f)
	f.Close()
	if err != nil {
		file.Remove()
		return nil, err
	}
	return &socketFile{ln: l.(*net.UnixListener), path: path, file: file}, nil
}

// close stops listening and removes the socket file, unless another has
// taken its place meanwhile.
func (s *socketFile) close() error {
	err := s.ln.Close()
	s.file.Remove()
	return err
}
