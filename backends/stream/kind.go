//go:build linux || darwin

package stream

import (
	"context"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/l2fabric/l2fabric/backends/internal/sockfile"
	"github.com/l2fabric/l2fabric/fabric"
)

// DefaultMode is the mode of the socket files l2fabric creates: owner and
// group may connect, as socket_vmnet's socket allows its group.
const DefaultMode = 0o660

var forms = []string{"stream:PATH[,mode=0660][,owner=USER][,group=GROUP]", "stream:connect=PATH", "stream:fd=N"}

// Kind returns the stream port kind.
func Kind() fabric.Kind {
	return fabric.Kind{
		Name:    "stream",
		Summary: "VMs over unix stream sockets with 4-byte length framing (socket_vmnet, lima, qemu -netdev stream/socket, krunkit unixstream)",
		Forms:   forms,
		Keys:    append([]string{"connect", "fd"}, sockfile.PermKeys...),
		Check: func(s fabric.Spec, _ fabric.PortConfig) error {
			_, err := parseOptions(s)
			return err
		},
		Open: open,
	}
}

// options are the stream-specific parts of a spec.
type options struct {
	path    string // listening socket
	connect string
	fd      int           // -1 when not given
	perm    sockfile.Perm // of the listening socket's file
}

func parseOptions(s fabric.Spec) (options, error) {
	o := options{path: s.Arg, fd: -1, perm: sockfile.Perm{Mode: DefaultMode, UID: -1, GID: -1}}
	fail := func(part, reason string) (options, error) {
		return options{}, &fabric.SpecError{Spec: s.Text, Part: part, Reason: reason, Hint: "forms: " + strings.Join(forms, " | ")}
	}
	listenOnly := func(key string) (options, error) {
		return fail(key, key+" applies to a listening socket (stream:PATH), whose file l2fabric creates")
	}
	for _, opt := range s.Options {
		part := opt.Key + "=" + opt.Value
		switch opt.Key {
		case "connect":
			if opt.Value == "" {
				return fail(part, "connect needs the server's socket path")
			}
			o.connect = opt.Value
		case "fd":
			n, err := strconv.Atoi(opt.Value)
			if err != nil || n < 0 {
				return fail(part, "fd must be a file descriptor number")
			}
			o.fd = n
		}
		if perm, err := o.perm.SetOption(opt.Key, opt.Value); err != nil {
			return fail(part, err.Error())
		} else if perm && o.path == "" {
			return listenOnly(part)
		}
	}
	switch {
	case o.connect != "" && (o.path != "" || o.fd >= 0):
		return fail("connect="+o.connect, "connect= stands alone: stream:connect=PATH")
	case o.fd >= 0 && o.path != "":
		return fail("fd="+strconv.Itoa(o.fd), "fd= stands alone: stream:fd=N")
	case o.connect == "" && o.fd < 0 && o.path == "":
		return fail("", "missing socket path")
	}
	for _, p := range []string{o.path, o.connect} {
		if err := sockfile.CheckPathLen(p); err != nil {
			return fail(p, err.Error())
		}
	}
	return o, nil
}

func open(ctx context.Context, s fabric.Spec, cfg fabric.PortConfig, a fabric.Attacher) (fabric.Opened, error) {
	o, err := parseOptions(s)
	if err != nil {
		return fabric.Opened{}, err
	}
	cfg.Kind = "stream"
	mtu := cfg.MTU
	if mtu == 0 {
		mtu = fabric.DefaultMTU
	}
	switch {
	case o.fd >= 0:
		if cfg.Name == "" {
			cfg.Name = "fd" + strconv.Itoa(o.fd)
		}
		c, err := openFD(o.fd, mtu)
		if err != nil {
			return fabric.Opened{}, err
		}
		cfg.Info = fmt.Sprintf("fd %d, %s", o.fd, c.peer())
		return fabric.Opened{Port: &connPort{c: c}, Config: cfg}, nil
	case o.connect != "":
		if cfg.Name == "" {
			cfg.Name = sockfile.Name(o.connect, "stream")
		}
		cfg.Info = "connect " + o.connect
		cfg.LoopProbes = true // an uplink to a server's LAN (socket_vmnet, another l2fabric)
		return fabric.Opened{Port: openDial(o.connect, mtu, a.Logger().Named("stream")), Config: cfg}, nil
	default:
		if cfg.Name == "" {
			cfg.Name = sockfile.Name(o.path, "stream")
		}
		cfg.MTU = mtu
		l, err := listen(ctx, o, cfg, a)
		if err != nil {
			return fabric.Opened{}, err
		}
		return fabric.Opened{Device: l}, nil
	}
}

// openFD takes over an inherited, connected stream socket.
func openFD(fd, mtu int) (*conn, error) {
	typ, err := unix.GetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_TYPE)
	if err != nil {
		return nil, fmt.Errorf("fd %d is not a usable socket: %w", fd, err)
	}
	if typ != unix.SOCK_STREAM {
		return nil, fmt.Errorf("fd %d is not a SOCK_STREAM socket (type %d): pass a connected unix stream socket, or use dgram:fd=N for a datagram one", fd, typ)
	}
	f := os.NewFile(uintptr(fd), "fd"+strconv.Itoa(fd))
	nc, err := net.FileConn(f)
	f.Close()
	if err != nil {
		return nil, fmt.Errorf("fd %d: %w", fd, err)
	}
	uc, ok := nc.(*net.UnixConn)
	if !ok {
		nc.Close()
		return nil, fmt.Errorf("fd %d is not a unix socket: pass a unix stream socket", fd)
	}
	return newConn(uc, FrameLimit(mtu))
}
