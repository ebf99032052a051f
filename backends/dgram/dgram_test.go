//go:build linux || darwin

package dgram_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/l2fabric/l2fabric/backends/dgram"
	"github.com/l2fabric/l2fabric/fabric"
)

// shortDir returns a temporary directory with a short path: socket paths
// are limited to about 104 bytes.
func shortDir(t *testing.T) string {
	t.Helper()
	d, err := os.MkdirTemp("", "dg")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(d) })
	return d
}

func newFabric(t *testing.T) *fabric.Fabric {
	t.Helper()
	return newFabricFlow(t, fabric.FlowControl{})
}

func newFabricFlow(t *testing.T, flow fabric.FlowControl) *fabric.Fabric {
	t.Helper()
	f, err := fabric.New(fabric.Config{Kinds: fabric.Kinds{dgram.Kind()}, FlowControl: flow})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { f.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	return f
}

// client is a vfkit-like peer: its own bound socket, connected to the
// switch's.
type client struct {
	t    *testing.T
	fd   int
	path string
}

func dialClient(t *testing.T, path, server string, hello bool) *client {
	t.Helper()
	fd, err := unix.Socket(unix.AF_UNIX, unix.SOCK_DGRAM, 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := unix.Bind(fd, &unix.SockaddrUnix{Name: path}); err != nil {
		t.Fatal(err)
	}
	if server != "" {
		if err := unix.Connect(fd, &unix.SockaddrUnix{Name: server}); err != nil {
			t.Fatal(err)
		}
	}
	tv := unix.NsecToTimeval(int64(5 * time.Second))
	unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &tv)
	c := &client{t: t, fd: fd, path: path}
	t.Cleanup(c.close)
	if hello {
		c.send([]byte(dgram.Hello))
	}
	return c
}

func (c *client) send(b []byte) {
	c.t.Helper()
	if _, err := unix.Write(c.fd, b); err != nil {
		c.t.Fatalf("send from %s: %v", c.path, err)
	}
}

func (c *client) recv() []byte {
	c.t.Helper()
	buf := make([]byte, 70000)
	n, err := unix.Read(c.fd, buf)
	if err != nil {
		c.t.Fatalf("receive on %s: %v", c.path, err)
	}
	return buf[:n]
}

func (c *client) close() {
	if c.fd >= 0 {
		unix.Close(c.fd)
		os.Remove(c.path)
		c.fd = -1
	}
}

func frame(dst, src byte, payload int) []byte {
	f := make([]byte, 14+payload)
	if dst == 0xff {
		copy(f[0:6], []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff})
	} else {
		copy(f[0:6], []byte{2, 0, 0, 0, 0, dst})
	}
	copy(f[6:12], []byte{2, 0, 0, 0, 0, src})
	binary.BigEndian.PutUint16(f[12:], 0x0800)
	return f
}

func portNames(f *fabric.Fabric) []string {
	var out []string
	for _, p := range f.Ports() {
		out = append(out, p.Name+"("+p.State+")")
	}
	return out
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

func TestListenerSwitchesClients(t *testing.T) {
	d := shortDir(t)
	f := newFabric(t)
	sock := filepath.Join(d, "vms.sock")
	name, err := f.Open("dgram:" + sock)
	if err != nil {
		t.Fatal(err)
	}
	if name != "vms" {
		t.Errorf("device name = %q, want vms", name)
	}
	fi, err := os.Stat(sock)
	if err != nil || fi.Mode().Perm() != 0o660 {
		t.Fatalf("socket file: %v, mode %v; want 0660", err, fi.Mode().Perm())
	}
	a := dialClient(t, filepath.Join(d, "a.sock"), sock, true)
	b := dialClient(t, filepath.Join(d, "b.sock"), sock, false) // qemu sends no hello
	b.send(frame(0xff, 0xb, 50))                                // so its first frame makes it a port
	if got := a.recv(); !bytes.Equal(got, frame(0xff, 0xb, 50)) {
		t.Fatalf("a got %x", got)
	}
	a.send(frame(0xff, 0xa, 50))
	if got := b.recv(); !bytes.Equal(got, frame(0xff, 0xa, 50)) {
		t.Fatalf("b got %x", got)
	}
	b.send(frame(0xa, 0xb, 50))
	if got := a.recv(); !bytes.Equal(got, frame(0xa, 0xb, 50)) {
		t.Fatalf("a got %x (the hello must not be forwarded)", got)
	}
	got := strings.Join(portNames(f), " ")
	if got != "vms(listening) vms/a.sock(up) vms/b.sock(up)" {
		t.Errorf("ports = %s", got)
	}
	for _, p := range f.Ports() {
		if p.Name == "vms/a.sock" && (p.Device != "vms" || p.Info != a.path) {
			t.Errorf("client port info %+v", p)
		}
	}
}

// A VM that sends faster than another reads is slowed down to the reader's
// pace, loses nothing, and the push-back reaches its socket: the listener
// waits for the sender's port, which waits for the receiver's.
func TestListenerPushesBackFromBusyClient(t *testing.T) {
	d := shortDir(t)
	// Generous bounds: the test is about waiting while the reader makes
	// progress, not about how a loaded machine schedules it.
	f := newFabricFlow(t, fabric.FlowControl{MaxHold: time.Second, StallAfter: time.Second})
	sock := filepath.Join(d, "vms.sock")
	// Short transmit queues, so that a small backlog fills them.
	if _, err := f.Open("dgram:" + sock + ",txqueue=16"); err != nil {
		t.Fatal(err)
	}
	a := dialClient(t, filepath.Join(d, "a.sock"), sock, true)
	b := dialClient(t, filepath.Join(d, "b.sock"), sock, true)
	b.send(frame(0xa, 0xb, 50)) // learn b
	a.recv()
	const n = 3000
	sent := make(chan error, 1)
	go func() {
		for i := 0; i < n; i++ {
			// Full-size frames: b's socket buffers a megabyte of them
			// (the listener's send buffer), not thousands.
			fr := frame(0xb, 0xa, 1400)
			binary.BigEndian.PutUint32(fr[14:], uint32(i))
			if _, err := unix.Write(a.fd, fr); err != nil { // blocking, as a VM's is
				sent <- err
				return
			}
		}
		sent <- nil
	}()
	buf := make([]byte, 2048)
	for i := 0; i < n; i++ {
		if i%64 == 0 {
			time.Sleep(5 * time.Millisecond) // at most 12.8k frames/s: slower than a sends
		}
		m, err := unix.Read(b.fd, buf)
		if err != nil {
			c := portCounters(f)
			t.Fatalf("b received %d of %d frames, then %v; counters %+v", i, n, err, c)
		}
		if seq := binary.BigEndian.Uint32(buf[14:m]); seq != uint32(i) {
			t.Fatalf("frame %d carries sequence %d: lost or reordered; counters %+v", i, seq, portCounters(f))
		}
	}
	if err := <-sent; err != nil {
		t.Fatal(err)
	}
	c := portCounters(f)
	if d := c["vms/a.sock"].Drops() + c["vms/b.sock"].Drops(); d != 0 {
		t.Errorf("%d frames dropped: %+v", d, c)
	}
	if c["vms/b.sock"].TxWaits == 0 {
		t.Errorf("no tx_waits on the busy port: %+v", c["vms/b.sock"])
	}
}

func portCounters(f *fabric.Fabric) map[string]fabric.Counters {
	m := map[string]fabric.Counters{}
	for _, p := range f.Ports() {
		m[p.Name] = p.Counters
	}
	return m
}

func TestListenerDetachesVanishedClient(t *testing.T) {
	d := shortDir(t)
	f := newFabric(t)
	sock := filepath.Join(d, "vms.sock")
	if _, err := f.Open("dgram:" + sock); err != nil {
		t.Fatal(err)
	}
	a := dialClient(t, filepath.Join(d, "a.sock"), sock, true)
	b := dialClient(t, filepath.Join(d, "b.sock"), sock, true)
	c := dialClient(t, filepath.Join(d, "c.sock"), sock, true)
	waitFor(t, "three clients", func() bool { return len(f.Ports()) == 4 })
	c.close()
	a.send(frame(0xff, 0xa, 50)) // flooding to c finds it gone
	b.recv()
	waitFor(t, "c detached", func() bool { return len(f.Ports()) == 3 })
	// A client that comes back at the same address is a port again.
	c2 := dialClient(t, filepath.Join(d, "c.sock"), sock, true)
	c2.send(frame(0xff, 0xc, 50))
	a.recv()
	waitFor(t, "c back", func() bool { return len(f.Ports()) == 4 })
}

func TestListenerStalePathReplacedLivePathRefused(t *testing.T) {
	d := shortDir(t)
	sock := filepath.Join(d, "vms.sock")
	// A stale socket file: bound, then its socket closed.
	fd, _ := unix.Socket(unix.AF_UNIX, unix.SOCK_DGRAM, 0)
	if err := unix.Bind(fd, &unix.SockaddrUnix{Name: sock}); err != nil {
		t.Fatal(err)
	}
	unix.Close(fd)
	f := newFabric(t)
	if _, err := f.Open("dgram:" + sock); err != nil {
		t.Fatalf("stale socket not replaced: %v", err)
	}
	f2 := newFabric(t)
	if _, err := f2.Open("dgram:" + sock); err == nil || !strings.Contains(err.Error(), "in use") {
		t.Fatalf("second listener on a live path: %v", err)
	}
	reg := filepath.Join(d, "file")
	os.WriteFile(reg, nil, 0o600)
	if _, err := f2.Open("dgram:" + reg); err == nil || !strings.Contains(err.Error(), "not a socket") {
		t.Fatalf("listening over a regular file: %v", err)
	}
	if _, err := f2.Open("dgram:/" + strings.Repeat("x", 120)); err == nil || !strings.Contains(err.Error(), "longer than") {
		t.Fatalf("over-long path: %v", err)
	}
}

func TestDetachDeviceRemovesSocketAndClients(t *testing.T) {
	d := shortDir(t)
	f := newFabric(t)
	sock := filepath.Join(d, "vms.sock")
	if _, err := f.Open("dgram:" + sock + ",name=lab,mode=0600"); err != nil {
		t.Fatal(err)
	}
	if fi, _ := os.Stat(sock); fi.Mode().Perm() != 0o600 {
		t.Errorf("mode=0600 gave %v", fi.Mode().Perm())
	}
	dialClient(t, filepath.Join(d, "a.sock"), sock, true)
	waitFor(t, "client", func() bool { return len(f.Ports()) == 2 })
	if err := f.Detach("lab"); err != nil {
		t.Fatal(err)
	}
	if len(f.Ports()) != 0 {
		t.Errorf("ports after detaching the device: %v", portNames(f))
	}
	if _, err := os.Stat(sock); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("socket file left behind: %v", err)
	}
}

func TestPeerMode(t *testing.T) {
	d := shortDir(t)
	f := newFabric(t)
	// A qemu-like peer: bound at its own path, sending to ours.
	mine, theirs := filepath.Join(d, "sw.sock"), filepath.Join(d, "qemu.sock")
	q := dialClient(t, theirs, "", false)
	if _, err := f.Open("dgram:" + mine + ",peer=" + theirs); err != nil {
		t.Fatal(err)
	}
	// A second port to see what comes out.
	lsock := filepath.Join(d, "l.sock")
	if _, err := f.Open("dgram:" + lsock); err != nil {
		t.Fatal(err)
	}
	c := dialClient(t, filepath.Join(d, "c.sock"), lsock, true)
	waitFor(t, "client", func() bool { return len(f.Ports()) == 3 })
	// Frames from anyone but the peer are ignored: the stranger's frame
	// is read first, so it would reach c before the peer's.
	other := dialClient(t, filepath.Join(d, "o.sock"), "", false)
	if err := unix.Sendto(other.fd, frame(0xff, 0xe, 50), 0, &unix.SockaddrUnix{Name: mine}); err != nil {
		t.Fatal(err)
	}
	if err := unix.Sendto(q.fd, frame(0xff, 0xa, 50), 0, &unix.SockaddrUnix{Name: mine}); err != nil {
		t.Fatal(err)
	}
	if got := c.recv(); !bytes.Equal(got, frame(0xff, 0xa, 50)) {
		t.Fatalf("client got %x, want the peer's frame and never the stranger's", got)
	}
	c.send(frame(0xa, 0xc, 50))
	if got := q.recv(); !bytes.Equal(got, frame(0xa, 0xc, 50)) {
		t.Fatalf("peer got %x", got)
	}
	// The peer going away does not remove the port: qemu may restart.
	q.close()
	c.send(frame(0xff, 0xc, 51))
	c.send(frame(0xff, 0xc, 52))
	waitFor(t, "tx errors counted", func() bool {
		for _, p := range f.Ports() {
			if p.Name == "sw" {
				return p.Counters.TxError > 0
			}
		}
		return false
	})
	if n := len(f.Ports()); n != 3 {
		t.Errorf("peer-mode port removed when its peer went away: %v", portNames(f))
	}
	// The peer comes back (qemu restarted) at the same path: frames flow
	// to it again.
	q2 := dialClient(t, theirs, "", false)
	deadline := time.Now().Add(5 * time.Second)
	tv := unix.NsecToTimeval(int64(200 * time.Millisecond))
	unix.SetsockoptTimeval(q2.fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &tv)
	buf := make([]byte, 2048)
	for {
		c.send(frame(0xff, 0xc, 53))
		if n, err := unix.Read(q2.fd, buf); err == nil && bytes.Equal(buf[:n], frame(0xff, 0xc, 53)) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("peer-mode port did not reach its peer after the peer came back")
		}
	}
}

func TestFDMode(t *testing.T) {
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_DGRAM, 0)
	if err != nil {
		t.Fatal(err)
	}
	vm := &client{t: t, fd: fds[1]}
	t.Cleanup(vm.close)
	tv := unix.NsecToTimeval(int64(5 * time.Second))
	unix.SetsockoptTimeval(vm.fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &tv)
	d := shortDir(t)
	f := newFabric(t)
	name, err := f.Open("dgram:fd=" + strconv.Itoa(fds[0]))
	if err != nil {
		t.Fatal(err)
	}
	if name != "fd"+strconv.Itoa(fds[0]) {
		t.Errorf("name = %q", name)
	}
	lsock := filepath.Join(d, "l.sock")
	if _, err := f.Open("dgram:" + lsock); err != nil {
		t.Fatal(err)
	}
	c := dialClient(t, filepath.Join(d, "c.sock"), lsock, true)
	waitFor(t, "client", func() bool { return len(f.Ports()) == 3 })
	vm.send(frame(0xff, 0xa, 50))
	if got := c.recv(); !bytes.Equal(got, frame(0xff, 0xa, 50)) {
		t.Fatalf("client got %x", got)
	}
	c.send(frame(0xa, 0xc, 50))
	if got := vm.recv(); !bytes.Equal(got, frame(0xa, 0xc, 50)) {
		t.Fatalf("vm got %x", got)
	}
	// The VM side closing takes the port down at the next send.
	vm.close()
	c.send(frame(0xff, 0xc, 50))
	waitFor(t, "fd port detached", func() bool { return len(f.Ports()) == 2 })

	// A stream socket is refused with a clear error.
	sp, _ := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM, 0)
	defer unix.Close(sp[0])
	defer unix.Close(sp[1])
	if _, err := f.Open("dgram:fd=" + strconv.Itoa(sp[0])); err == nil || !strings.Contains(err.Error(), "not a SOCK_DGRAM") {
		t.Errorf("stream fd: %v", err)
	}
	// A descriptor refused is left alone: it was not the port's.
	if _, err := unix.FcntlInt(uintptr(sp[0]), unix.F_GETFD, 0); err != nil {
		t.Errorf("the refused fd was closed: %v", err)
	}
}

// TestNewPort uses a socketpair end as Go code does, without a fabric: the
// port has a descriptor of its own, so the caller's file can be closed.
func TestNewPort(t *testing.T) {
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_DGRAM, 0)
	if err != nil {
		t.Fatal(err)
	}
	vm := &client{t: t, fd: fds[1]}
	t.Cleanup(vm.close)
	tv := unix.NsecToTimeval(int64(5 * time.Second))
	unix.SetsockoptTimeval(vm.fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &tv)
	f := os.NewFile(uintptr(fds[0]), "nic")
	p, err := dgram.NewPort(f)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}

	vm.send([]byte(dgram.Hello))
	vm.send(frame(0xff, 0xa, 50))
	bufs, sizes := [][]byte{make([]byte, 2048), make([]byte, 2048)}, make([]int, 2)
	n, err := p.Read(bufs, sizes)
	if err != nil || n != 1 || !bytes.Equal(bufs[0][:sizes[0]], frame(0xff, 0xa, 50)) {
		t.Fatalf("Read = %d, %v, first %x: want the frame alone, the hello consumed", n, err, bufs[0][:sizes[0]])
	}
	if n, err := p.Write([][]byte{frame(0xa, 0xb, 60)}); n != 1 || err != nil {
		t.Fatalf("Write = %d, %v", n, err)
	}
	if got := vm.recv(); !bytes.Equal(got, frame(0xa, 0xb, 60)) {
		t.Fatalf("vm got %x", got)
	}

	// Close ends a pending Read.
	read := make(chan error, 1)
	go func() {
		_, err := p.Read(bufs, sizes)
		read <- err
	}()
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	if err := <-read; err == nil {
		t.Error("Read after Close returned no error")
	}
}

func TestNewPortRefusesStreamSocket(t *testing.T) {
	sp, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM, 0)
	if err != nil {
		t.Fatal(err)
	}
	f := os.NewFile(uintptr(sp[0]), "stream")
	defer unix.Close(sp[1])
	if _, err := dgram.NewPort(f); err == nil || !strings.Contains(err.Error(), "stream is not a SOCK_DGRAM socket") {
		t.Errorf("NewPort on a stream socket: %v", err)
	}
	f.Close()
	if _, err := dgram.NewPort(f); err == nil {
		t.Error("NewPort on a closed file: no error")
	}
}

func TestConnectMode(t *testing.T) {
	d := shortDir(t)
	// A vmnet-helper-like server: learns its client from the first
	// datagram (the hello), connects back, then exchanges frames.
	srvPath := filepath.Join(d, "helper.sock")
	srv := dialClient(t, srvPath, "", false)
	f := newFabric(t)
	name, err := f.Open("dgram:connect=" + srvPath)
	if err != nil {
		t.Fatal(err)
	}
	if name != "helper" {
		t.Errorf("name = %q", name)
	}
	buf := make([]byte, 2048)
	n, from, err := unix.Recvfrom(srv.fd, buf, 0)
	if err != nil || string(buf[:n]) != dgram.Hello {
		t.Fatalf("server got %q, %v; want the hello", buf[:n], err)
	}
	if err := unix.Connect(srv.fd, from); err != nil {
		t.Fatal(err)
	}
	lsock := filepath.Join(d, "l.sock")
	if _, err := f.Open("dgram:" + lsock); err != nil {
		t.Fatal(err)
	}
	c := dialClient(t, filepath.Join(d, "c.sock"), lsock, true)
	waitFor(t, "client", func() bool { return len(f.Ports()) == 3 })
	srv.send(frame(0xff, 0xa, 50))
	if got := c.recv(); !bytes.Equal(got, frame(0xff, 0xa, 50)) {
		t.Fatalf("client got %x", got)
	}
	c.send(frame(0xa, 0xc, 50))
	if got := srv.recv(); !bytes.Equal(got, frame(0xa, 0xc, 50)) {
		t.Fatalf("server got %x", got)
	}
	local := from.(*unix.SockaddrUnix).Name
	if err := f.Detach("helper"); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(local); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("private socket %s left behind", local)
	}
	if _, err := f.Open("dgram:connect=" + filepath.Join(d, "nobody.sock")); err == nil || !strings.Contains(err.Error(), "is the server running") {
		t.Errorf("connect to nothing: %v", err)
	}
}

func TestSpecErrors(t *testing.T) {
	ks := fabric.Kinds{dgram.Kind()}
	for spec, want := range map[string]string{
		"dgram:":                             "missing socket path",
		"dgram:/a,fd=x":                      "fd must be",
		"dgram:/a,fd=3":                      "fd= stands alone",
		"dgram:connect=/a,peer=/b":           "connect= stands alone",
		"dgram:/a,mode=999":                  "octal",
		"dgram:fd=3,group=0":                 "not for an inherited socket",
		"dgram:/a,owner=no-such-user-l2f":    `no user "no-such-user-l2f"`,
		"dgram:/a,group=no-such-group-l2f":   `no group "no-such-group-l2f"`,
		"dgram:/a,hello=yes":                 "not on or off",
		"dgram:/a,peer=":                     "needs a socket path",
		"dgram:/a,hello=perhaps":             "not on or off",
		"dgram:/a,bogus=1":                   "unknown option",
		"dgram:/" + strings.Repeat("p", 200): "longer than",
	} {
		_, _, _, err := ks.Parse(spec)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: error %v, want %q", spec, err, want)
		}
	}
}

func TestListenerOversizeReportedNotTruncated(t *testing.T) {
	d := shortDir(t)
	f := newFabric(t)
	sock := filepath.Join(d, "vms.sock")
	if _, err := f.Open("dgram:" + sock); err != nil {
		t.Fatal(err)
	}
	a := dialClient(t, filepath.Join(d, "a.sock"), sock, true)
	b := dialClient(t, filepath.Join(d, "b.sock"), sock, true)
	waitFor(t, "clients", func() bool { return len(f.Ports()) == 3 })
	a.send(frame(0xff, 0xa, 9000)) // far larger than MTU 1500
	a.send(frame(0xff, 0xa, 50))
	if got := b.recv(); len(got) != 64 {
		t.Fatalf("b got a %d-byte frame, want only the 64-byte one", len(got))
	}
	for _, p := range f.Ports() {
		if p.Name == "vms/a.sock" && p.Counters.Oversize != 1 {
			t.Errorf("drop_oversize = %d, want 1", p.Counters.Oversize)
		}
	}
}
