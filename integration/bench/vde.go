//go:build linux

package main

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// The VDE plug protocol (vde2's libvdeplug and vde_switch's datasock
// module): a client connects to the stream socket DIR/ctl and sends a
// struct request_v3, packed:
//
//	uint32 magic = 0xfeedface
//	uint32 version = 3
//	uint32 type              enum request_type { REQ_NEW_CONTROL, REQ_NEW_PORT0 }: 0,
//	                         with a port number wanted in the bits above 8 (0: any)
//	struct sockaddr_un sock  the client's own bound datagram socket (110 bytes)
//	char description[128]
//
// all in host byte order. The switch makes a datagram socket for the new
// port, bound at DIR/NNN.FD and connected to the client's, and replies
// with its struct sockaddr_un (110 bytes); the client connects to it.
// Then each datagram is one raw Ethernet frame. The port lives as long as
// the control connection: closing it unplugs the port.
//
// Checked against Debian 12's vde2 2.3.2: strace of `vde_plug
// vde:///DIR` shows exactly this 0xfeedface, 3, 0 request (a 150-byte
// write: the description without its padding) and a 110-byte reply; a
// request of type 11 makes the switch log "Bad request type : 11" and
// close the connection.
const (
	vdeMagic      = 0xfeedface
	vdeVersion    = 3
	vdeNewControl = 0
	sockaddrUnLen = 110 // sizeof(struct sockaddr_un) on Linux
	vdeMaxDescr   = 128
)

// plug is one endpoint's control connection to vde_switch.
type plug struct{ fd int }

func (p *plug) close() { unix.Close(p.fd) }

// vdeRequest encodes a request_v3 for a client bound at path.
func vdeRequest(path, descr string) []byte {
	req := make([]byte, 12+sockaddrUnLen+vdeMaxDescr)
	binary.NativeEndian.PutUint32(req[0:], vdeMagic)
	binary.NativeEndian.PutUint32(req[4:], vdeVersion)
	binary.NativeEndian.PutUint32(req[8:], vdeNewControl)
	binary.NativeEndian.PutUint16(req[12:], unix.AF_UNIX)
	copy(req[14:12+sockaddrUnLen-1], path)
	copy(req[12+sockaddrUnLen:len(req)-1], descr)
	return req
}

// vdePlug plugs ep into the switch whose control socket is ctl and
// connects ep to the port's data socket. Any failure of the handshake is
// an error: no reply, a short one, or one that is not a unix address.
func vdePlug(ctl string, ep *endpoint, descr string) (*plug, error) {
	fd, err := unix.Socket(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, err
	}
	p := &plug{fd: fd}
	fail := func(format string, args ...any) (*plug, error) {
		p.close()
		return nil, fmt.Errorf("VDE plug handshake for %s failed: "+format, append([]any{ep.name}, args...)...)
	}
	tv := unix.NsecToTimeval(int64(5 * time.Second))
	unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &tv)
	unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_SNDTIMEO, &tv)
	if err := unix.Connect(fd, &unix.SockaddrUnix{Name: ctl}); err != nil {
		return fail("connecting to %s: %v", ctl, err)
	}
	req := vdeRequest(ep.path, descr)
	if n, err := unix.Write(fd, req); err != nil || n != len(req) {
		return fail("sending request_v3: wrote %d of %d bytes: %v", n, len(req), err)
	}
	reply := make([]byte, sockaddrUnLen)
	got := 0
	for got < len(reply) {
		n, err := unix.Read(fd, reply[got:])
		if err != nil {
			return fail("reading the reply: %v (after %d bytes)", err, got)
		}
		if n == 0 {
			return fail("the switch closed the control connection after %d bytes of reply (it rejected the request)", got)
		}
		got += n
	}
	if fam := binary.NativeEndian.Uint16(reply); fam != unix.AF_UNIX {
		return fail("reply is not a unix socket address (family %d): % x", fam, reply[:16])
	}
	path := reply[2:]
	if i := bytes.IndexByte(path, 0); i >= 0 {
		path = path[:i]
	}
	if len(path) == 0 || path[0] != '/' {
		return fail("reply names no socket path: %q", path)
	}
	if err := ep.connect(string(path)); err != nil {
		return fail("%v", err)
	}
	return p, nil
}

// startVDE runs vde_switch in the foreground (its console on a pipe we
// hold: it exits when the pipe closes) and plugs every endpoint in.
func (e *env) startVDE(t *topo) error {
	sw := filepath.Join(t.dir, "vde")
	t.mgmt = filepath.Join(t.dir, "mgmt.sock")
	ports := max(32, len(t.eps)+2)
	p, err := startProc("vde_switch", true, nil, nil, e.vde, "--sock", sw, "--mgmt", t.mgmt, "--numports", fmt.Sprint(ports))
	if err != nil {
		return err
	}
	t.proc = p
	ctl := filepath.Join(sw, "ctl")
	deadline := time.Now().Add(10 * time.Second)
	for {
		if err := p.alive(); err != nil {
			return err
		}
		if _, err := os.Stat(ctl); err == nil {
			if _, err := os.Stat(t.mgmt); err == nil {
				break
			}
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("vde_switch made no %s within 10 s: %s", ctl, p.out)
		}
		time.Sleep(10 * time.Millisecond)
	}
	for _, ep := range t.eps {
		pl, err := vdePlug(ctl, ep, "l2fabric bench "+ep.name)
		if err != nil {
			if out := p.out.String(); out != "" {
				err = fmt.Errorf("%w; vde_switch said: %s", err, out)
			}
			return err
		}
		t.plugs = append(t.plugs, pl)
	}
	return nil
}

// vdeCommand runs one command on vde_switch's management console and
// returns its output (between "0000 DATA END WITH '.'" and "."), failing
// unless the status is 1000 Success.
func (t *topo) vdeCommand(cmd string) (string, error) {
	c, err := net.DialTimeout("unix", t.mgmt, 5*time.Second)
	if err != nil {
		return "", err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	var buf []byte
	readUntil := func(marker string) error {
		b := make([]byte, 4096)
		for !strings.Contains(string(buf), marker) {
			n, err := c.Read(b)
			if err != nil {
				return fmt.Errorf("vde_switch console: %w (so far %q)", err, buf)
			}
			buf = append(buf, b[:n]...)
		}
		return nil
	}
	if err := readUntil("vde$ "); err != nil {
		return "", err
	}
	buf = buf[:0]
	if _, err := c.Write([]byte(cmd + "\n")); err != nil {
		return "", err
	}
	if err := readUntil("vde$ "); err != nil {
		return "", err
	}
	out := string(buf)
	if !strings.Contains(out, "1000 Success") {
		return "", fmt.Errorf("vde_switch console %q: %s", cmd, out)
	}
	if i := strings.Index(out, "DATA END WITH '.'\n"); i >= 0 {
		out = out[i+len("DATA END WITH '.'\n"):]
	}
	if i := strings.Index(out, "\n.\n"); i >= 0 {
		out = out[:i]
	}
	return out, nil
}

// vdeLearned counts the MACs in vde_switch's table.
func (t *topo) vdeLearned() (int, error) {
	out, err := t.vdeCommand("hash/print")
	if err != nil {
		return 0, err
	}
	n := 0
	for _, l := range strings.Split(out, "\n") {
		if strings.Contains(l, "Addr:") {
			n++
		}
	}
	if n == 0 {
		return 0, fmt.Errorf("vde_switch hash/print lists no address: %q", out)
	}
	return n, nil
}

// vdeCounters sums the IN and OUT packet counts of vde_switch's ports.
func (t *topo) vdeCounters() (in, out uint64, err error) {
	s, err := t.vdeCommand("port/allprint")
	if err != nil {
		return 0, 0, err
	}
	for _, l := range strings.Split(s, "\n") {
		f := strings.Fields(l)
		if len(f) >= 3 && f[1] == "pkts" {
			var v uint64
			fmt.Sscan(f[2], &v)
			switch f[0] {
			case "IN:":
				in += v
			case "OUT:":
				out += v
			}
		}
	}
	return in, out, nil
}
