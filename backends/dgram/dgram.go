//go:build linux || darwin

// Package dgram attaches VMs over unix datagram sockets, one Ethernet frame
// per datagram: the transport of vfkit, krunkit, qemu -netdev dgram,
// vmnet-helper and Virtualization.framework's file-handle attachment.
//
// Forms:
//
//	dgram:PATH                 listen at PATH; every client is a port of its own
//	dgram:PATH,peer=PEERPATH   one port: bound at PATH, sending to PEERPATH
//	dgram:connect=PATH         one port: connect to a server socket (vmnet-helper --socket)
//	dgram:fd=N                 one port: an inherited SOCK_DGRAM socket (a socketpair end)
//
// Go code holding such a socket (backends/vm holds a socketpair per NIC)
// makes its port with NewPort, the constructor dgram:fd=N uses too.
package dgram

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/l2fabric/l2fabric/backends/internal/sockfile"
	"github.com/l2fabric/l2fabric/fabric"
)

// Hello is the datagram vfkit (and krunkit, with vfkitMagic on) sends before
// its first frame. It is consumed, never forwarded.
const Hello = "VFKT"

// batchSize is the number of datagrams moved per system call.
const batchSize = 64

// DefaultMode is the mode of socket files l2fabric creates.
const DefaultMode = 0o660

var forms = []string{"dgram:PATH[,mode=0660][,owner=USER][,group=GROUP]", "dgram:PATH,peer=PEERPATH", "dgram:connect=PATH", "dgram:fd=N"}

// Kind returns the dgram port kind.
func Kind() fabric.Kind {
	return fabric.Kind{
		Name:    "dgram",
		Summary: "VMs over unix datagram sockets (vfkit, krunkit, qemu -netdev dgram, vmnet-helper)",
		Forms:   forms,
		Keys:    append([]string{"peer", "connect", "fd", "hello"}, sockfile.PermKeys...),
		Check: func(s fabric.Spec, _ fabric.PortConfig) error {
			_, err := parseOptions(s)
			return err
		},
		Open: open,
	}
}

// options are the dgram-specific parts of a spec.
type options struct {
	path    string // bound path: listener or peer mode
	peer    string
	connect string
	fd      int           // -1 when not given
	perm    sockfile.Perm // of the socket file l2fabric binds
	hello   bool          // connect mode: send Hello first
}

func parseOptions(s fabric.Spec) (options, error) {
	o := options{path: s.Arg, fd: -1, perm: sockfile.Perm{Mode: DefaultMode, UID: -1, GID: -1}, hello: true}
	fail := func(part, reason string) (options, error) {
		return options{}, &fabric.SpecError{Spec: s.Text, Part: part, Reason: reason, Hint: "forms: " + strings.Join(forms, " | ")}
	}
	for _, opt := range s.Options {
		part := opt.Key + "=" + opt.Value
		switch opt.Key {
		case "peer":
			o.peer = opt.Value
		case "connect":
			o.connect = opt.Value
		case "fd":
			n, err := strconv.Atoi(opt.Value)
			if err != nil || n < 0 {
				return fail(part, "fd must be a file descriptor number")
			}
			o.fd = n
		case "mode", "owner", "group":
			if _, err := o.perm.SetOption(opt.Key, opt.Value); err != nil {
				return fail(part, err.Error())
			}
		case "hello":
			on, err := fabric.ParseBool(opt.Value)
			if err != nil {
				return fail(part, err.Error())
			}
			o.hello = on
		}
		if (opt.Key == "peer" || opt.Key == "connect") && opt.Value == "" {
			return fail(part, opt.Key+" needs a socket path")
		}
	}
	switch {
	case o.connect != "" && (o.path != "" || o.peer != "" || o.fd >= 0):
		return fail("connect="+o.connect, "connect= stands alone: it binds a private socket of its own")
	case o.fd >= 0 && (o.path != "" || o.peer != ""):
		return fail("fd="+strconv.Itoa(o.fd), "fd= stands alone: the socket is already set up")
	case o.fd >= 0 && o.perm != (sockfile.Perm{Mode: DefaultMode, UID: -1, GID: -1}):
		return fail("fd="+strconv.Itoa(o.fd), "mode=, owner= and group= are for socket files l2fabric binds, not for an inherited socket")
	case o.connect == "" && o.fd < 0 && o.path == "":
		return fail("", "missing socket path")
	}
	for _, p := range []string{o.path, o.peer, o.connect} {
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
	cfg.Kind = "dgram"
	switch {
	case o.fd >= 0:
		if cfg.Name == "" {
			cfg.Name = "fd" + strconv.Itoa(o.fd)
		}
		p, err := openFD(o.fd)
		if err != nil {
			return fabric.Opened{}, err
		}
		cfg.Info = fmt.Sprintf("fd %d", o.fd)
		return fabric.Opened{Port: p, Config: cfg}, nil
	case o.connect != "":
		if cfg.Name == "" {
			cfg.Name = sockfile.Name(o.connect, "dgram")
		}
		p, err := openConnect(o.connect, o.perm, o.hello)
		if err != nil {
			return fabric.Opened{}, err
		}
		cfg.Info = p.local.Path() + " -> " + o.connect
		cfg.LoopProbes = true // an uplink to a server's LAN (vmnet-helper)
		return fabric.Opened{Port: p, Config: cfg}, nil
	case o.peer != "":
		if cfg.Name == "" {
			cfg.Name = sockfile.Name(o.path, "dgram")
		}
		p, err := openPeer(o.path, o.peer, o.perm)
		if err != nil {
			return fabric.Opened{}, err
		}
		cfg.Info = o.path + " <-> " + o.peer
		cfg.LoopProbes = true // may be an uplink to another switch
		return fabric.Opened{Port: p, Config: cfg}, nil
	default:
		if cfg.Name == "" {
			cfg.Name = sockfile.Name(o.path, "dgram")
		}
		l, err := listen(ctx, o.path, o.perm, cfg, a)
		if err != nil {
			return fabric.Opened{}, err
		}
		return fabric.Opened{Device: l}, nil
	}
}

// socketPort is a port on a socket of its own: peer, connect and fd modes.
type socketPort struct {
	c       *conn
	peer    *addr          // nil: the socket is connected
	local   *sockfile.File // bound socket file to remove on Close, if any
	from    []addr         // receive addresses, to filter by peer
	first   bool           // no datagram received yet (to consume a hello)
	tx      *sendScratch
	peerStr string

	// Peer mode, writer only: connected to the peer, and when to try
	// next if not.
	connected   bool
	nextConnect time.Time
}

var _ fabric.Port = (*socketPort)(nil)

// NewPort returns a port on f, a datagram socket whose peer is set: one
// end of a socketpair(AF_UNIX, SOCK_DGRAM), or a socket connected to its
// peer. Each datagram is one Ethernet frame; a first datagram that is
// Hello is consumed. It is how Go code puts a VM's socket on the fabric
// without a spec, and what dgram:fd=N opens.
//
// Like net.FileConn, NewPort duplicates f's descriptor: closing the port
// closes its duplicate, and the caller still owns f (closing f does not
// affect the port). The socket is shared, so it is left in non-blocking
// mode with its buffers sized as vfkit sizes them.
func NewPort(f *os.File) (fabric.Port, error) {
	rc, err := f.SyscallConn()
	if err != nil {
		return nil, fmt.Errorf("%s: %w", f.Name(), err)
	}
	fd := -1
	var derr error
	if cerr := rc.Control(func(s uintptr) {
		if derr = checkDatagram(int(s), f.Name()); derr == nil {
			fd, derr = unix.FcntlInt(s, unix.F_DUPFD_CLOEXEC, 0)
		}
	}); cerr != nil {
		return nil, fmt.Errorf("%s: %w", f.Name(), cerr)
	}
	if derr != nil {
		return nil, derr
	}
	setBuffers(fd)
	c, err := newConn(fd, f.Name(), batchSize)
	if err != nil {
		return nil, err
	}
	c.exclusive = true
	return &socketPort{c: c, first: true, tx: newSendScratch(batchSize)}, nil
}

// checkDatagram returns an error naming the socket when fd is not a
// SOCK_DGRAM socket.
func checkDatagram(fd int, name string) error {
	typ, err := unix.GetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_TYPE)
	if err != nil {
		return fmt.Errorf("%s is not a usable socket: %w", name, err)
	}
	if typ != unix.SOCK_DGRAM {
		return fmt.Errorf("%s is not a SOCK_DGRAM socket (type %d): pass one end of socketpair(AF_UNIX, SOCK_DGRAM)", name, typ)
	}
	return nil
}

// openFD opens dgram:fd=N with NewPort. The descriptor is checked before
// it is taken, so that a wrong number closes nothing of the process's;
// once it is known to be a datagram socket it is the port's, and fd
// itself is closed.
func openFD(fd int) (fabric.Port, error) {
	name := "fd " + strconv.Itoa(fd)
	if err := checkDatagram(fd, name); err != nil {
		return nil, err
	}
	f := os.NewFile(uintptr(fd), name)
	defer f.Close()
	return NewPort(f)
}

func openPeer(path, peer string, perm sockfile.Perm) (*socketPort, error) {
	pa, err := makeAddr(peer)
	if err != nil {
		return nil, err
	}
	fd, err := socket()
	if err != nil {
		return nil, err
	}
	file, err := sockfile.Bind(fd, path, perm)
	if err != nil {
		unix.Close(fd)
		return nil, err
	}
	c, err := newConn(fd, path, batchSize)
	if err != nil {
		file.Remove()
		return nil, err
	}
	return &socketPort{c: c, peer: &pa, local: file, first: true, from: make([]addr, batchSize),
		tx: newSendScratch(batchSize), peerStr: peer}, nil
}

func openConnect(server string, perm sockfile.Perm, hello bool) (*socketPort, error) {
	fd, err := socket()
	if err != nil {
		return nil, err
	}
	path := filepath.Join(filepath.Dir(server), fmt.Sprintf("l2fabric-%d-%x.sock", os.Getpid(), randomID()))
	if len(path) > sockfile.MaxPathLen() {
		path = filepath.Join(os.TempDir(), fmt.Sprintf("l2fabric-%d-%x.sock", os.Getpid(), randomID()))
	}
	local, err := sockfile.Bind(fd, path, perm)
	if err != nil {
		unix.Close(fd)
		return nil, err
	}
	if err := unix.Connect(fd, &unix.SockaddrUnix{Name: server}); err != nil {
		unix.Close(fd)
		local.Remove()
		return nil, fmt.Errorf("connecting to %s: %w (is the server running?)", server, err)
	}
	if hello {
		if _, err := unix.Write(fd, []byte(Hello)); err != nil {
			unix.Close(fd)
			local.Remove()
			return nil, fmt.Errorf("sending hello to %s: %w", server, err)
		}
	}
	c, err := newConn(fd, path, batchSize)
	if err != nil {
		local.Remove()
		return nil, err
	}
	c.exclusive = true
	return &socketPort{c: c, local: local, tx: newSendScratch(batchSize), peerStr: server}, nil
}

func (p *socketPort) Read(bufs [][]byte, sizes []int) (int, error) {
	for {
		n, err := p.c.recv(bufs, sizes, p.from)
		if err != nil {
			return 0, err
		}
		// Keep only datagrams from the peer (peer mode), and consume a
		// hello sent first.
		k := 0
		for i := 0; i < n; i++ {
			if p.peer != nil && string(p.from[i].pathBytes()) != p.peerStr {
				continue
			}
			if p.first {
				p.first = false
				if sizes[i] == len(Hello) && string(bufs[i][:len(Hello)]) == Hello {
					continue
				}
			}
			bufs[k], bufs[i] = bufs[i], bufs[k]
			sizes[k] = sizes[i]
			k++
		}
		if k > 0 {
			return k, nil
		}
	}
}

func (p *socketPort) Write(bufs [][]byte) (int, error) {
	to := p.peer
	if p.peer != nil {
		if !p.connected {
			p.connectPeer()
		}
		if p.connected {
			to = nil
		}
	}
	n, err := p.c.send(p.tx, bufs, to)
	if err != nil && p.peer != nil && errors.Is(err, fabric.ErrPeerGone) {
		// In peer mode the peer may not have started yet or may be
		// restarting (qemu): the port stays, the frames are errors,
		// and the next Write connects to whatever is bound there then.
		p.connected, p.c.exclusive, p.nextConnect = false, false, time.Time{}
		return n, fmt.Errorf("peer %s is not there: %v", p.peerStr, err)
	}
	return n, err
}

// connectPeer connects a peer-mode socket to its peer, at most every
// 100 ms while the peer is not there. On Linux a socket sending to an
// unconnected receiver meets its queue limit (net.unix.max_dgram_qlen, 10
// by default) as EAGAIN that poll does not report, so the writer could
// only sleep and retry; connected, poll reports the peer's queue and the
// writer waits in the poller until the peer has read. On macOS a full
// peer fails the send with ENOBUFS instead, which poll does not report
// either: conn.send backs off and retries it. Only the writer calls it.
func (p *socketPort) connectPeer() {
	now := time.Now()
	if now.Before(p.nextConnect) {
		return
	}
	p.nextConnect = now.Add(100 * time.Millisecond)
	var err error
	cerr := p.c.rc.Control(func(fd uintptr) {
		err = unix.Connect(int(fd), &unix.SockaddrUnix{Name: p.peerStr})
	})
	if cerr == nil && err == nil {
		p.connected, p.c.exclusive = true, true
	}
}

func (p *socketPort) BatchSize() int { return batchSize }

func (p *socketPort) Close() error {
	err := p.c.close()
	if p.local != nil {
		p.local.Remove()
	}
	return err
}

// SocketFile is the socket file the port is bound to: its own in peer
// and connect modes, none for an inherited socket.
func (p *socketPort) SocketFile() string {
	if p.local == nil {
		return ""
	}
	return p.local.Path()
}
