//go:build linux || darwin

package stream

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/l2fabric/l2fabric/backends/internal/sockfile"
	"github.com/l2fabric/l2fabric/fabric"
)

const waitTimeout = 10 * time.Second

// newFabric runs a fabric with the stream kind until the test ends.
func newFabric(t *testing.T) *fabric.Fabric {
	t.Helper()
	f, err := fabric.New(fabric.Config{Kinds: fabric.Kinds{Kind()}})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		f.Run(ctx)
		close(done)
	}()
	t.Cleanup(func() {
		cancel()
		<-done
	})
	return f
}

func tempDir(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "l2f-stream")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	return dir
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(waitTimeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func portInfo(f *fabric.Fabric, name string) (fabric.PortInfo, bool) {
	for _, p := range f.Ports() {
		if p.Name == name {
			return p, true
		}
	}
	return fabric.PortInfo{}, false
}

func mac(b byte) []byte { return []byte{2, 0, 0, 0, 0, b} }

// ethFrame is a frame from src to dst carrying id.
func ethFrame(dst, src []byte, id uint32, size int) []byte {
	f := make([]byte, size)
	copy(f, dst)
	copy(f[6:], src)
	binary.BigEndian.PutUint16(f[12:], 0x88b5)
	binary.BigEndian.PutUint32(f[14:], id)
	return f
}

// client is a stream client, as qemu or lima's pump is.
type client struct {
	t  *testing.T
	nc *net.UnixConn
}

func dialClient(t *testing.T, path string) *client {
	t.Helper()
	nc, err := net.DialUnix("unix", nil, &net.UnixAddr{Name: path, Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close() })
	return &client{t: t, nc: nc}
}

func (c *client) send(frames ...[]byte) {
	c.t.Helper()
	if _, err := c.nc.Write(encode(frames...)); err != nil {
		c.t.Fatal(err)
	}
}

// next reads one frame.
func (c *client) next() []byte {
	c.t.Helper()
	c.nc.SetReadDeadline(time.Now().Add(waitTimeout))
	var h [4]byte
	if _, err := io.ReadFull(c.nc, h[:]); err != nil {
		c.t.Fatalf("reading a frame: %v", err)
	}
	n := binary.BigEndian.Uint32(h[:])
	if n > 1<<16 {
		c.t.Fatalf("length %d from the switch", n)
	}
	f := make([]byte, n)
	if _, err := io.ReadFull(c.nc, f); err != nil {
		c.t.Fatalf("reading a frame: %v", err)
	}
	return f
}

func (c *client) expect(id uint32) {
	c.t.Helper()
	f := c.next()
	if len(f) < 18 || binary.BigEndian.Uint32(f[14:]) != id {
		c.t.Fatalf("received %x, want frame %d", f, id)
	}
}

func TestListenerSwitchesConnections(t *testing.T) {
	f := newFabric(t)
	path := filepath.Join(tempDir(t), "vms.sock")
	if _, err := f.Open("stream:" + path); err != nil {
		t.Fatal(err)
	}
	a, b := dialClient(t, path), dialClient(t, path)
	waitFor(t, "two ports", func() bool {
		_, ok1 := portInfo(f, "vms/1")
		_, ok2 := portInfo(f, "vms/2")
		return ok1 && ok2
	})
	if p, _ := portInfo(f, "vms/1"); !strings.Contains(p.Info, fmt.Sprintf("pid %d", os.Getpid())) {
		t.Errorf("vms/1 info %q, want the peer's pid %d", p.Info, os.Getpid())
	}
	bcast := []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}
	a.send(ethFrame(bcast, mac(1), 1, 60))
	b.expect(1)
	// Byte by byte: reassembled across reads.
	for _, c := range encode(ethFrame(mac(1), mac(2), 2, 1514)) {
		if _, err := b.nc.Write([]byte{c}); err != nil {
			t.Fatal(err)
		}
	}
	a.expect(2)
	es := f.Entries()
	if len(es) != 2 {
		t.Fatalf("fdb %+v, want 2 entries", es)
	}
	for _, e := range es {
		want := map[byte]string{1: "vms/1", 2: "vms/2"}[e.MAC[5]]
		if e.Port != want {
			t.Errorf("%v on %s, want %s", e.MAC, e.Port, want)
		}
	}
}

func TestBadLengthClosesOnlyThatConnection(t *testing.T) {
	for _, tc := range []struct {
		name   string
		prefix uint32
		runt   bool
	}{{"zero", 0, true}, {"runt", 10, true}, {"over the MTU", 1519, false}, {"huge", 0xfffffff0, false}} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFabric(t)
			path := filepath.Join(tempDir(t), "x.sock")
			if _, err := f.Open("stream:" + path); err != nil {
				t.Fatal(err)
			}
			a, b, bad := dialClient(t, path), dialClient(t, path), dialClient(t, path)
			waitFor(t, "three ports", func() bool { return len(f.Ports()) == 4 })
			bad.send(ethFrame([]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}, mac(3), 9, 60))
			a.expect(9)
			b.expect(9)
			if _, err := bad.nc.Write(binary.BigEndian.AppendUint32(nil, tc.prefix)); err != nil {
				t.Fatal(err)
			}
			bad.nc.Write(make([]byte, 100))
			// The bad connection is closed by the switch...
			bad.nc.SetReadDeadline(time.Now().Add(waitTimeout))
			for {
				_, err := bad.nc.Read(make([]byte, 4096))
				if err == io.EOF || errors.Is(err, unix.ECONNRESET) {
					break
				}
				if err != nil {
					t.Fatalf("the bad connection was not closed: %v", err)
				}
			}
			waitFor(t, "the bad port detached", func() bool { _, ok := portInfo(f, "x/3"); return !ok })
			if x, _ := portInfo(f, "x"); !strings.Contains(x.Info, "2 clients, 1 closed for bad framing") {
				t.Errorf("device info %q, want 2 clients and 1 closed for bad framing", x.Info)
			}
			// ...and the others carry on.
			a.send(ethFrame(mac(2), mac(1), 1, 60))
			b.expect(1)
			b.send(ethFrame(mac(1), mac(2), 2, 60))
			a.expect(2)
		})
	}
}

func TestSocketFile(t *testing.T) {
	dir := tempDir(t)
	path := filepath.Join(dir, "s.sock")

	// A stale socket file is replaced.
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	ln.SetUnlinkOnClose(false)
	ln.Close()
	s, err := listenUnix(path, sockfile.Perm{Mode: 0o640, UID: -1, GID: os.Getgid()})
	if err != nil {
		t.Fatalf("stale socket not replaced: %v", err)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o640 {
		t.Errorf("mode %v, want 0640", fi.Mode().Perm())
	}
	if st := fi.Sys().(*syscall.Stat_t); int(st.Gid) != os.Getgid() {
		t.Errorf("group %d, want %d", st.Gid, os.Getgid())
	}

	// A live one is an error, and is left alone.
	if _, err := listenUnix(path, sockfile.Perm{Mode: DefaultMode, UID: -1, GID: -1}); err == nil || !strings.Contains(err.Error(), "in use") {
		t.Errorf("second listener on a live socket: %v, want an in-use error", err)
	}
	if !sockfile.Live(path) {
		t.Errorf("the first listener's socket is gone")
	}

	// A file that is not a socket is never replaced.
	plain := filepath.Join(dir, "plain")
	os.WriteFile(plain, nil, 0o600)
	if _, err := listenUnix(plain, sockfile.Perm{Mode: DefaultMode, UID: -1, GID: -1}); err == nil || !strings.Contains(err.Error(), "not a socket") {
		t.Errorf("listening over a plain file: %v", err)
	}

	// Removed on close.
	if err := s.close(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Lstat(path); !os.IsNotExist(err) {
		t.Errorf("socket file left after close: %v", err)
	}
}

func TestSpecErrors(t *testing.T) {
	ks := fabric.Kinds{Kind()}
	for spec, want := range map[string]string{
		"stream:":                            "missing socket path",
		"stream:/a.sock,connect=/b.sock":     "stands alone",
		"stream:connect=/b.sock,mode=0600":   "listening socket",
		"stream:fd=3,group=staff":            "listening socket",
		"stream:fd=x":                        "file descriptor",
		"stream:/a.sock,mode=999":            "octal",
		"stream:/a.sock,group=no-such-group": "no group",
		"stream:/a.sock,bogus=1":             "bogus",
	} {
		if _, _, _, err := ks.Parse(spec); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: error %v, want one mentioning %q", spec, err, want)
		}
	}
	for _, spec := range []string{"stream:/a.sock", "stream:/a.sock,mode=0666,group=0", "stream:connect=/b.sock,vlan=3", "stream:fd=3"} {
		if _, _, _, err := ks.Parse(spec); err != nil {
			t.Errorf("%s: %v", spec, err)
		}
	}
}

// socketPair returns a conn on one end of a stream socketpair and the
// other end.
func socketPair(t *testing.T, sndbuf int) (*conn, *os.File) {
	t.Helper()
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM, 0)
	if err != nil {
		t.Fatal(err)
	}
	f := os.NewFile(uintptr(fds[0]), "mine")
	nc, err := net.FileConn(f)
	f.Close()
	if err != nil {
		t.Fatal(err)
	}
	c, err := newConn(nc.(*net.UnixConn), FrameLimit(1500))
	if err != nil {
		t.Fatal(err)
	}
	if sndbuf > 0 {
		c.rc.Control(func(fd uintptr) { unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_SNDBUF, sndbuf) })
	}
	peer := os.NewFile(uintptr(fds[1]), "peer")
	t.Cleanup(func() {
		c.close()
		peer.Close()
	})
	return c, peer
}

// TestWriteToPeerThatStopsReading: writes to a peer that does not read
// give up after a bounded wait with ErrTxFull, and the frames they report
// sent, including a frame cut by a full socket, reach the peer whole and
// in order once it reads: the stream never goes out of step.
func TestWriteToPeerThatStopsReading(t *testing.T) {
	c, peer := socketPair(t, 16<<10)
	batch := make([][]byte, 64)
	sent := uint32(0)
	full := 0
	cut := false // a frame was cut by the full socket, and finished later
	for round := 0; full < 3 && round < 10000; round++ {
		for i := range batch {
			batch[i] = ethFrame(mac(1), mac(2), sent+uint32(i), 997) // odd size: cut mid-frame
		}
		n, err := c.write(batch)
		sent += uint32(n)
		cut = cut || len(c.pending) > 0
		if err != nil {
			if !errors.Is(err, fabric.ErrTxFull) {
				t.Fatalf("write: %v, want ErrTxFull", err)
			}
			full++
		}
	}
	if full == 0 {
		t.Fatal("writes to a peer that does not read never reported ErrTxFull")
	}
	if !cut {
		t.Fatal("no write stopped inside a frame: the test does not exercise finishing one")
	}
	// The peer reads everything: every frame reported sent arrives, then
	// nothing else.
	done := make(chan error, 1)
	go func() {
		for len(c.pending) > 0 { // finish the cut frame, as the next Write would
			if _, err := c.write(nil); err != nil && !errors.Is(err, fabric.ErrTxFull) {
				done <- err
				return
			}
		}
		done <- nil
	}()
	r := NewReassembler(FrameLimit(1500), 0)
	for id := uint32(0); id < sent; {
		peer.SetReadDeadline(time.Now().Add(waitTimeout))
		n, err := peer.Read(r.Space())
		if err != nil {
			t.Fatalf("peer read after %d of %d frames: %v", id, sent, err)
		}
		r.Commit(n)
		for {
			f, err := r.Next()
			if err != nil {
				t.Fatalf("frame %d: %v", id, err)
			}
			if f == nil {
				break
			}
			if got := binary.BigEndian.Uint32(f[14:]); got != id || len(f) != 997 {
				t.Fatalf("frame %d arrived as frame %d of %d bytes", id, got, len(f))
			}
			id++
		}
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if r.Buffered() != 0 {
		t.Errorf("%d bytes after the last frame", r.Buffered())
	}
}

func TestConnReadWriteDoNotAllocate(t *testing.T) {
	c, peer := socketPair(t, 0)
	bufs := make([][]byte, 8)
	for i := range bufs {
		bufs[i] = ethFrame(mac(1), mac(2), uint32(i), 1514)
	}
	in := make([][]byte, c.batch)
	for i := range in {
		in[i] = make([]byte, 1518)
	}
	sizes := make([]int, c.batch)
	wire := encode(bufs...)
	rx := make([]byte, len(wire))
	allocs := testing.AllocsPerRun(50, func() {
		if n, err := c.write(bufs); n != len(bufs) || err != nil {
			t.Fatalf("write: %d, %v", n, err)
		}
		if _, err := io.ReadFull(peer, rx); err != nil {
			t.Fatal(err)
		}
		peer.Write(wire)
		for got := 0; got < len(bufs); {
			n, err := c.read(in, sizes)
			if err != nil {
				t.Fatal(err)
			}
			got += n
		}
	})
	if allocs != 0 {
		t.Errorf("%v allocations per batch of reads and writes, want 0", allocs)
	}
	if !bytes.Equal(rx, wire) {
		t.Errorf("the peer received other bytes than the framed batch")
	}
}

func TestFDPort(t *testing.T) {
	f := newFabric(t)
	path := filepath.Join(tempDir(t), "x.sock")
	if _, err := f.Open("stream:" + path); err != nil {
		t.Fatal(err)
	}
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM, 0)
	if err != nil {
		t.Fatal(err)
	}
	other := os.NewFile(uintptr(fds[1]), "other")
	defer other.Close()
	name, err := f.Open(fmt.Sprintf("stream:fd=%d", fds[0]))
	if err != nil || name != fmt.Sprintf("fd%d", fds[0]) {
		t.Fatalf("open fd: %q, %v", name, err)
	}
	a := dialClient(t, path)
	waitFor(t, "x/1", func() bool { _, ok := portInfo(f, "x/1"); return ok })
	other.Write(encode(ethFrame([]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}, mac(5), 1, 60)))
	a.expect(1)

	dgram, err := unix.Socket(unix.AF_UNIX, unix.SOCK_DGRAM, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(dgram)
	if _, err := f.Open(fmt.Sprintf("stream:fd=%d", dgram)); err == nil || !strings.Contains(err.Error(), "SOCK_STREAM") {
		t.Errorf("fd of a datagram socket: %v", err)
	}
}

// TestConnectReconnects: a connect= port follows its server going away
// (down, FDB flushed) and coming back (up, frames flow again).
func TestConnectReconnects(t *testing.T) {
	f := newFabric(t)
	dir := tempDir(t)
	srv := filepath.Join(dir, "srv.sock")
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: srv, Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	local := filepath.Join(dir, "vms.sock")
	if _, err := f.Open("stream:" + local); err != nil {
		t.Fatal(err)
	}
	if _, err := f.Open("stream:connect=" + srv + ",name=up"); err != nil {
		t.Fatal(err)
	}
	accept := func() *client {
		ln.SetDeadline(time.Now().Add(waitTimeout))
		nc, err := ln.AcceptUnix()
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { nc.Close() })
		return &client{t: t, nc: nc}
	}
	server := accept()
	vm := dialClient(t, local)
	waitFor(t, "vms/1", func() bool { _, ok := portInfo(f, "vms/1"); return ok })
	server.send(ethFrame(mac(1), mac(0x10), 1, 60))
	vm.send(ethFrame(mac(0x10), mac(1), 2, 60))
	server.expect(2)
	waitFor(t, "the server's MAC learned", func() bool { p, _ := portInfo(f, "up"); return p.State == "up" && p.FDB == 1 })

	// The server goes away: the port goes down and forgets its MACs.
	server.nc.Close()
	ln.Close()
	waitFor(t, "the port down", func() bool { p, _ := portInfo(f, "up"); return strings.HasPrefix(p.State, "down") && p.FDB == 0 })

	// It comes back: the port reconnects.
	ln, err = net.ListenUnix("unix", &net.UnixAddr{Name: srv, Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	server = accept()
	waitFor(t, "the port up", func() bool { p, _ := portInfo(f, "up"); return p.State == "up" })
	server.send(ethFrame(mac(1), mac(0x10), 3, 60))
	vm.send(ethFrame(mac(0x10), mac(1), 4, 60))
	server.expect(4)
	if p, _ := portInfo(f, "up"); p.Counters.TxError != 0 {
		t.Errorf("counters after reconnecting: %+v", p.Counters)
	}
}

// TestConnectStartsDown: a connect= port whose server is not there yet
// is attached down, and comes up when the server appears.
func TestConnectStartsDown(t *testing.T) {
	f := newFabric(t)
	srv := filepath.Join(tempDir(t), "later.sock")
	if _, err := f.Open("stream:connect=" + srv); err != nil {
		t.Fatalf("a server not there yet must not fail the port: %v", err)
	}
	waitFor(t, "the port attached and down", func() bool { p, _ := portInfo(f, "later"); return strings.HasPrefix(p.State, "down") })
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: srv, Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	ln.SetDeadline(time.Now().Add(waitTimeout))
	nc, err := ln.AcceptUnix()
	if err != nil {
		t.Fatalf("the port never connected: %v", err)
	}
	defer nc.Close()
	waitFor(t, "the port up", func() bool { p, _ := portInfo(f, "later"); return p.State == "up" })
}
