package fabric

import (
	"errors"
	"fmt"
	"os"
)

// SocketInUseError is a backend's error for a socket path that a live
// socket is bound to. When the socket is one of this fabric's own ports
// or devices (a SocketFiler), Open's error names it instead of blaming
// another process.
type SocketInUseError struct {
	// Path is the socket file's path.
	Path string
}

// Error implements error.
func (e *SocketInUseError) Error() string {
	return e.Path + " is in use: another process (socket_vmnet? another l2fabric?) is listening on it"
}

// SocketFiler is implemented by ports and devices bound to a socket file
// (a listening socket, a peer-mode port), so that an attempt to bind the
// same file again can say which port has it.
type SocketFiler interface {
	// SocketFile is the path of the socket file the port or device is
	// bound to.
	SocketFile() string
}

// SocketHolder returns the name of the port or device bound to the socket
// file at path, or "" when none is. The fabric's Open uses it; the control
// server uses it too, for its own socket.
func (f *Fabric) SocketHolder(path string) string {
	want, err := os.Lstat(path)
	if err != nil {
		return ""
	}
	same := func(v any) bool {
		sf, ok := v.(SocketFiler)
		if !ok {
			return false
		}
		fi, err := os.Lstat(sf.SocketFile())
		return err == nil && os.SameFile(fi, want)
	}
	f.mu.Lock()
	for _, d := range f.devices {
		if same(d.dev) {
			f.mu.Unlock()
			return "device " + d.name
		}
	}
	f.mu.Unlock()
	for _, p := range f.ports.Load().list {
		if same(p.dev) {
			return "port " + p.Name
		}
	}
	return ""
}

// explainInUse rewrites a SocketInUseError for a socket of this fabric's
// own as which port or device has it.
func (f *Fabric) explainInUse(spec string, err error) error {
	var iu *SocketInUseError
	if !errors.As(err, &iu) {
		return fmt.Errorf("%s: %w", spec, err)
	}
	who := f.SocketHolder(iu.Path)
	if who == "" {
		return fmt.Errorf("%s: %w", spec, err)
	}
	return fmt.Errorf("%s: %s is already the socket of this daemon's %s (detach it first, or choose another path)", spec, iu.Path, who)
}
