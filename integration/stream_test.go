package integration

import (
	"bufio"
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
)

// ---------------------------------------------------------------------------
// Stream clients: lima's Virtualization.framework VMs, and raw connections.

// streamLAN is a lan whose VMs attach to stream listeners as lima attaches
// a vz VM to a `socket:` network.
type streamLAN struct {
	*lan
	conns map[string]int // connections made to each listening socket: its ports are DEVICE/<n>
	pumps map[*vm]*vzPump
}

func newStreamLAN(t *testing.T, dir string) *streamLAN {
	return &streamLAN{lan: newLAN(t, dir), conns: map[string]int{}, pumps: map[*vm]*vzPump{}}
}

// vzPump is lima's pump for a vz VM: it dials the stream socket and moves
// frames between it and one end of a SOCK_DGRAM socketpair, whose other
// end is the VM's (VZFileHandleNetworkDeviceAttachment's).
type vzPump struct {
	stream *net.UnixConn
	dg     *net.UnixConn
}

// dialStream connects to a stream listener and returns the connection and
// the name of the port the switch makes of it.
func (l *streamLAN) dialStream(listen string) (*net.UnixConn, string) {
	l.t.Helper()
	nc, err := net.DialUnix("unix", nil, &net.UnixAddr{Name: listen, Net: "unix"})
	if err != nil {
		l.t.Fatalf("connecting to %s: %v", listen, err)
	}
	l.t.Cleanup(func() { nc.Close() })
	l.conns[listen]++
	return nc, fmt.Sprintf("%s/%d", strings.TrimSuffix(filepath.Base(listen), ".sock"), l.conns[listen])
}

// socketpairConns returns the two ends of a unix socketpair of type typ.
func socketpairConns(t testing.TB, typ int) (*net.UnixConn, *net.UnixConn) {
	t.Helper()
	fds, err := syscall.Socketpair(syscall.AF_UNIX, typ, 0)
	if err != nil {
		t.Fatal(err)
	}
	var cs [2]*net.UnixConn
	for i, fd := range fds {
		f := os.NewFile(uintptr(fd), "socketpair")
		c, err := net.FileConn(f)
		f.Close()
		if err != nil {
			t.Fatal(err)
		}
		cs[i] = c.(*net.UnixConn)
		t.Cleanup(func() { cs[i].Close() })
	}
	return cs[0], cs[1]
}

// joinVZ attaches a VM called name with MAC 02:00:00:00:00:macByte to the
// stream listener listen (whose clients are in VLAN vlan) through a
// lima-style pump. The caller waits for v.port with daemon.waitPorts.
func (l *streamLAN) joinVZ(listen, name string, macByte byte, vlan int, o vmOptions) *vm {
	l.t.Helper()
	vmEnd, pumpEnd := socketpairConns(l.t, syscall.SOCK_DGRAM)
	// lima's buffer sizes for the VM's end.
	vmEnd.SetWriteBuffer(1 << 20)
	vmEnd.SetReadBuffer(4 << 20)
	st, port := l.dialStream(listen)
	p := &vzPump{stream: st, dg: pumpEnd}
	go p.toSwitch()
	go p.toVM()
	v := &vm{t: l.t, l: l.lan, file: name, port: port, mac: vmMAC(macByte), vlan: vlan, conn: vmEnd,
		rx: make(chan rxFrame, 4096), gone: o.noRead}
	if !o.noRead {
		go v.readLoop()
	}
	l.vms = append(l.vms, v)
	l.pumps[v] = p
	return v
}

// toSwitch frames each datagram of the VM onto the stream.
func (p *vzPump) toSwitch() {
	buf := make([]byte, 4+65536)
	for {
		n, err := p.dg.Read(buf[4:])
		if err != nil {
			return
		}
		binary.BigEndian.PutUint32(buf, uint32(n))
		if _, err := p.stream.Write(buf[:4+n]); err != nil {
			return
		}
	}
}

// toVM reads frames off the stream (lima copies through 32 KiB) and sends
// each to the VM as a datagram.
func (p *vzPump) toVM() {
	r := bufio.NewReaderSize(p.stream, 32<<10)
	var h [4]byte
	buf := make([]byte, 65536)
	for {
		if _, err := io.ReadFull(r, h[:]); err != nil {
			return
		}
		n := binary.BigEndian.Uint32(h[:])
		if n > uint32(len(buf)) {
			return
		}
		if _, err := io.ReadFull(r, buf[:n]); err != nil {
			return
		}
		if _, err := p.dg.Write(buf[:n]); err != nil {
			return
		}
	}
}

// hangUp ends v as a VM that lima stops: the pump and its connection go.
func (l *streamLAN) hangUp(v *vm) {
	v.gone = true
	p := l.pumps[v]
	p.stream.Close()
	p.dg.Close()
	v.conn.Close()
}

// startStreamSwitch starts a daemon with one stream listener, dir/x.sock
// (device "x", VLAN 1), plus extra args, and attaches n vz-style VMs a,
// b, c... with MACs 02:00:00:00:00:01, :02...: ports x/1, x/2...
func startStreamSwitch(t *testing.T, n int, extra ...string) (*daemon, *streamLAN, []*vm) {
	t.Helper()
	dir := shortTempDir(t)
	x := filepath.Join(dir, "x.sock")
	d := startDaemon(t, dir, append([]string{"--port", "stream:" + x}, extra...)...)
	l := newStreamLAN(t, dir)
	var vms []*vm
	var names []string
	for i := range n {
		v := l.joinVZ(x, string(rune('a'+i)), byte(i+1), 1, vmOptions{})
		vms = append(vms, v)
		names = append(names, v.port)
	}
	d.waitPorts(names...)
	return d, l, vms
}

// ---------------------------------------------------------------------------
// Forwarding between vz-style clients: the checks dgram clients pass.

// TestStreamVZClientsSwitched: lima-vz-style clients are each a port of
// their own, learned there; known unicast reaches its one port;
// broadcast, multicast and unknown unicast reach every other client
// unchanged; link-local frames are never forwarded.
func TestStreamVZClientsSwitched(t *testing.T) {
	t.Parallel()
	d, l, vms := startStreamSwitch(t, 3)
	a, b, c := vms[0], vms[1], vms[2]
	l.learn(a, b, c)

	byMAC := entriesByMAC(d.fdb())
	for _, v := range vms {
		if e := byMAC[v.mac.String()]; e.Port != v.port || e.VLAN != 1 {
			t.Errorf("fdb entry for %s: %+v, want it on %s in VLAN 1", v.mac, e, v.port)
		}
	}
	if pi := d.mustPort("x/1"); pi.Kind != "stream" || pi.Device != "x" || !strings.Contains(pi.Info, "pid ") {
		t.Errorf("port x/1: %+v, want kind stream, device x and the peer's pid", pi)
	}

	a.sendTest(b.mac, 1)
	got := l.fence(a, a, b, c)
	wantIDs(t, "b", got[b], 1)
	wantIDs(t, "c", got[c])
	wantIDs(t, "a (the sender)", got[a])

	unknown := vmMAC(0x77)
	for i, dst := range []mac{broadcast, mustMAC("01:00:5e:00:00:fb"), mustMAC("33:33:00:00:00:01"), unknown} {
		a.sendTest(dst, uint64(10+i))
	}
	got = l.fence(a, a, b, c)
	wantIDs(t, "b", got[b], 10, 11, 12, 13)
	wantIDs(t, "c", got[c], 10, 11, 12, 13)
	wantIDs(t, "a (the sender)", got[a])
	if _, ok := entriesByMAC(d.fdb())[unknown.String()]; ok {
		t.Errorf("the unknown destination %s was learned", unknown)
	}

	a.sendTest(mustMAC("01:80:c2:00:00:00"), 20)
	a.sendTest(mustMAC("01:80:c2:00:00:0e"), 21)
	a.sendTest(broadcast, 22)
	got = l.fence(a, b, c)
	wantIDs(t, "b", got[b], 22)
	wantIDs(t, "c", got[c], 22)
	if n := d.mustPort(a.port).Counters.LinkLocal; n != 2 {
		t.Errorf("%s drop_link_local = %d, want 2", a.port, n)
	}
}

// TestStreamVLANIsolation: two stream listeners in VLANs 10 and 20 are two
// separate LANs.
func TestStreamVLANIsolation(t *testing.T) {
	t.Parallel()
	dir := shortTempDir(t)
	v10, v20 := filepath.Join(dir, "v10.sock"), filepath.Join(dir, "v20.sock")
	d := startDaemon(t, dir, "--port", "stream:"+v10+",vlan=10", "--port", "stream:"+v20+",vlan=20")
	l := newStreamLAN(t, dir)
	a1, a2 := l.joinVZ(v10, "a1", 0x11, 10, vmOptions{}), l.joinVZ(v10, "a2", 0x12, 10, vmOptions{})
	b1, b2 := l.joinVZ(v20, "b1", 0x21, 20, vmOptions{}), l.joinVZ(v20, "b2", 0x22, 20, vmOptions{})
	d.waitPorts(a1.port, a2.port, b1.port, b2.port)
	checkVLANIsolation(t, d, l.lan, a1, a2, b1, b2)
}

// TestStreamMACMoves: a VM that comes back on a new connection with the
// same MAC (a restarted qemu or lima) is found there at once, while its
// old connection is still open; when the old one closes, the entry
// stays with the new.
func TestStreamMACMoves(t *testing.T) {
	t.Parallel()
	d, l, vms := startStreamSwitch(t, 3)
	a, b, c := vms[0], vms[1], vms[2]
	l.learn(a, b, c)

	x := filepath.Join(l.dir, "x.sock")
	a2 := l.joinVZ(x, "a-again", 1, 1, vmOptions{}) // a's MAC, x/4
	d.waitPorts(a2.port)
	moved := d.stats().FDB.Moved
	l.learn(a2)
	if e := entriesByMAC(d.fdb())[a.mac.String()]; e.Port != a2.port {
		t.Fatalf("after a frame from the new connection, %s is on %q, want %s", a.mac, e.Port, a2.port)
	}
	if m := d.stats().FDB.Moved; m != moved+1 {
		t.Errorf("fdb moved %d, want %d", m, moved+1)
	}
	b.sendTest(a.mac, 1)
	got := l.fence(b, a, a2, c)
	wantIDs(t, "the new connection", got[a2], 1)
	wantIDs(t, "the old connection", got[a])
	wantIDs(t, "c", got[c])

	l.hangUp(a)
	d.waitPortGone(a.port)
	if e := entriesByMAC(d.fdb())[a.mac.String()]; e.Port != a2.port {
		t.Errorf("after the old connection closed, %s is on %q, want %s", a.mac, e.Port, a2.port)
	}
	c.sendTest(a.mac, 2)
	got = l.fence(c, a2, b)
	wantIDs(t, "the new connection", got[a2], 2)
	wantIDs(t, "b", got[b])
}

// TestStreamVanishedClient: VMs whose connections close are detached,
// their FDB entries go, and the others keep working.
func TestStreamVanishedClient(t *testing.T) {
	t.Parallel()
	d, l, vms := startStreamSwitch(t, 4)
	a, b, c, e := vms[0], vms[1], vms[2], vms[3]
	l.learn(a, b, c, e)

	l.hangUp(c)
	l.hangUp(e)
	d.waitPortGone(c.port)
	d.waitPortGone(e.port)
	for _, en := range d.fdb() {
		if en.MAC == c.mac.String() || en.MAC == e.mac.String() {
			t.Errorf("entry of a vanished client left: %+v", en)
		}
	}
	if x := d.mustPort("x"); !strings.Contains(x.Info, "2 clients") {
		t.Errorf("device x info %q, want 2 clients", x.Info)
	}
	b.sendTest(broadcast, 1)
	a.sendTest(b.mac, 2)
	got := l.fence(a, a, b)
	wantIDs(t, "a", got[a], 1)
	wantIDs(t, "b", got[b], 2)
	if s := d.stats(); s.Ports != 2 || s.FDB.Current != 2 {
		t.Errorf("stats: %d ports, %d fdb entries; want 2 and 2", s.Ports, s.FDB.Current)
	}
}

// TestStreamRuntAndOversize: a frame over the MTU but within the stream's
// limit (MTU plus a tagged header) is counted as oversize and the stream
// goes on; a length under 14 bytes cannot be followed, so that client's
// connection is closed and counted, and nobody else notices.
func TestStreamRuntAndOversize(t *testing.T) {
	t.Parallel()
	d, l, vms := startStreamSwitch(t, 3)
	a, b, c := vms[0], vms[1], vms[2]

	a.send(testFrame(broadcast, a.mac, 90, 1501)) // one byte over the MTU
	a.sendTest(broadcast, 1)
	full := testFrame(broadcast, a.mac, 2, 1500)
	a.send(full)
	got := l.fence(a, b, c)
	wantIDs(t, "b", got[b], 1, 2)
	wantIDs(t, "c", got[c], 1, 2)
	if n := d.mustPort(a.port).Counters.Oversize; n != 1 {
		t.Errorf("%s drop_oversize = %d, want 1", a.port, n)
	}

	a.send(testFrame(broadcast, a.mac, 0, 8)[:10]) // runt: the pump frames it with length 10
	a.gone = true
	d.waitPortGone(a.port)
	if x := d.mustPort("x"); !strings.Contains(x.Info, "1 closed for bad framing") {
		t.Errorf("device x info %q, want the runt's connection counted", x.Info)
	}
	b.sendTest(c.mac, 3)
	c.sendTest(b.mac, 4)
	got = l.fence(c, b, c)
	wantIDs(t, "b", got[b], 4)
	wantIDs(t, "c", got[c], 3)
}

// TestStreamBadInputIsolated: garbage lengths, a zero-length frame, a
// connection that closes mid-frame and a client that never reads change
// nothing for the other connections.
func TestStreamBadInputIsolated(t *testing.T) {
	t.Parallel()
	d, l, vms := startStreamSwitch(t, 2)
	a, b := vms[0], vms[1]
	x := filepath.Join(l.dir, "x.sock")
	l.learn(a, b)

	raw := func(data []byte, close bool) string {
		nc, port := l.dialStream(x)
		d.waitPorts(port)
		if _, err := nc.Write(data); err != nil {
			t.Fatal(err)
		}
		if close {
			nc.Close()
		}
		return port
	}
	prefix := func(n uint32, rest ...byte) []byte { return append(binary.BigEndian.AppendUint32(nil, n), rest...) }
	frame := testFrame(broadcast, vmMAC(0x66), 50, 46)
	bad := []string{
		raw(prefix(0xdeadbeef, frame...), false),                               // garbage length
		raw(append(prefix(0), prefix(uint32(len(frame)), frame...)...), false), // zero-length frame
		raw(prefix(uint32(len(frame)), frame[:20]...), true),                   // closes mid-frame
	}
	for _, p := range bad {
		d.waitPortGone(p)
	}
	if info := d.mustPort("x").Info; !strings.Contains(info, "2 clients, 2 closed for bad framing") {
		t.Errorf("device x info %q, want 2 clients and the 2 bad lengths counted", info)
	}
	if _, ok := entriesByMAC(d.fdb())[vmMAC(0x66).String()]; ok {
		t.Errorf("a frame after a bad length or cut short was learned")
	}

	// A client that never reads: it receives every broadcast until its
	// socket fills, then its frames are dropped, and b receives each of
	// a's frames all along.
	z := l.joinVZ(x, "z", 0x2a, 1, vmOptions{noRead: true})
	d.waitPorts(z.port)
	const frames = 3000 // full-size: several MB, far more than z's buffers
	for id := uint64(1); id <= frames; id++ {
		a.send(testFrame(broadcast, a.mac, id, 1500))
		select {
		case f := <-b.rx:
			if !f.valid() || f.num() != id {
				t.Fatalf("b received %v, want test frame %d", f, id)
			}
		case <-time.After(waitTimeout):
			t.Fatalf("b did not receive frame %d of %d within %v while z does not read\nb: %+v\nz: %+v",
				id, frames, waitTimeout, d.mustPort(b.port).Counters, d.mustPort(z.port).Counters)
		}
	}
	if zc := d.mustPort(z.port).Counters; zc.TxQueueFull == 0 {
		t.Errorf("z never read, yet no frame for it was dropped: %+v", zc)
	}
	a.sendTest(b.mac, frames+1)
	b.expect(frames + 1)
}

// TestStreamConnectSurvivesServerRestart: a stream:connect= port to
// another l2fabric goes down when that server stops, forgetting the MACs
// behind it, and comes back up with it; frames then flow again.
func TestStreamConnectSurvivesServerRestart(t *testing.T) {
	t.Parallel()
	dirA, dirB := shortTempDir(t), shortTempDir(t)
	srv := filepath.Join(dirB, "srv.sock")
	b := startDaemon(t, dirB, "--port", "stream:"+srv)
	x := filepath.Join(dirA, "x.sock")
	a := startDaemon(t, dirA, "--port", "stream:"+x, "--port", "stream:connect="+srv+",name=up")
	a.waitPorts("up")
	b.waitPorts("srv/1")

	l := newStreamLAN(t, dirA)
	l.conns[srv] = 1 // a's uplink
	v1 := l.joinVZ(x, "v1", 1, 1, vmOptions{})
	w1 := l.joinVZ(srv, "w1", 2, 1, vmOptions{})
	a.waitPorts(v1.port)
	b.waitPorts(w1.port)
	l.learn(v1, w1)
	if e := entriesByMAC(a.fdb())[w1.mac.String()]; e.Port != "up" {
		t.Errorf("%s on %q in the first switch, want up", w1.mac, e.Port)
	}
	v1.sendTest(w1.mac, 1)
	wantIDs(t, "w1", l.fence(v1, w1)[w1], 1)

	b.stopClean()
	l.hangUp(w1)
	eventually(t, "the uplink down", func() error {
		if p := a.mustPort("up"); !strings.HasPrefix(p.State, "down") || p.FDB != 0 {
			return fmt.Errorf("up: state %q, %d fdb entries", p.State, p.FDB)
		}
		return nil
	})

	b = startDaemon(t, dirB, "--port", "stream:"+srv)
	eventually(t, "the uplink up again", func() error {
		if p := a.mustPort("up"); p.State != "up" {
			return fmt.Errorf("up: state %q", p.State)
		}
		return nil
	})
	b.waitPorts("srv/1")
	l.conns[srv] = 1
	w2 := l.joinVZ(srv, "w2", 3, 1, vmOptions{})
	b.waitPorts(w2.port)
	l.learn(v1, w2)
	v1.sendTest(w2.mac, 2)
	w2.sendTest(v1.mac, 3)
	got := l.fence(w2, v1, w2)
	wantIDs(t, "v1", got[v1], 3)
	wantIDs(t, "w2", got[w2], 2)
	if p := a.mustPort("up"); p.Counters.TxError != 0 {
		t.Errorf("uplink counters: %+v", p.Counters)
	}
}

// TestStreamSocketFile: mode= and group= apply to the socket file, a
// stale one is replaced, a live one is an error.
func TestStreamSocketFile(t *testing.T) {
	t.Parallel()
	dir := shortTempDir(t)
	path := filepath.Join(dir, "s.sock")
	staleSocket(t, path, true)
	d := startDaemon(t, dir, "--port", "stream:"+path+",mode=0606,group=1")
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o606 {
		t.Errorf("socket mode %v, want 0606", fi.Mode().Perm())
	}
	if gid := fi.Sys().(*syscall.Stat_t).Gid; gid != 1 {
		t.Errorf("socket group %d, want 1", gid)
	}
	r := runBin(t, "--control", filepath.Join(dir, "ctl2.sock"), "--port", "stream:"+path)
	if r.code == 0 || !strings.Contains(r.stderr, "in use") {
		t.Errorf("a second l2fabric on the live socket: %s; want an in-use error", r)
	}

	// At run time: attach makes another listener, detach removes it and
	// its file.
	lab := filepath.Join(dir, "lab.sock")
	d.mustCLI("attach", "stream:"+lab+",vlan=20")
	if fi, err := os.Stat(lab); err != nil || fi.Mode().Perm() != 0o660 {
		t.Errorf("attached listener's socket file: %v, %v; want mode 0660", fi, err)
	}
	if p := d.mustPort("lab"); p.Kind != "stream" || p.VLAN != 20 {
		t.Errorf("attached listener: %+v", p)
	}
	d.mustCLI("detach", "lab")
	if _, err := os.Lstat(lab); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("detached listener's socket file is still there")
	}
	d.stopClean()
	if _, err := os.Lstat(path); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("socket file left after exit")
	}
}
