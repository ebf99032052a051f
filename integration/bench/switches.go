//go:build linux

package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/l2fabric/l2fabric/fabric"
	"github.com/l2fabric/l2fabric/fabric/control"
)

// kind is a switch under test and the way its endpoints attach.
type kind int

const (
	l2fPeer     kind = iota // l2fabric, one peer-mode port per VM socket (qemu)
	l2fListener             // l2fabric, one listening socket, VMs connect (vfkit)
	l2fPair                 // l2fabric, one socketpair per VM (Virtualization.framework, vmnet-helper)
	vde                     // vde_switch, endpoints plugged in with the plug protocol
	relay                   // no switch: two sockets relayed to each other, the endpoints sending unconnected as qemu
	relayConn               // the same with connected socket pairs, as VDE and socketpairs
	relayListen             // no switch: one socket both endpoints connect to, as l2fabric's listener
	l2fStream               // l2fabric, one stream listener, VMs connect (lima, socket_vmnet's clients)
	relayStream             // no switch: one stream listener, whole frames moved between its two connections
)

// allKinds are the switches and attach styles measured, in report order.
var allKinds = []kind{l2fPeer, l2fListener, l2fPair, l2fStream, vde, relay, relayConn, relayListen, relayStream}

// isRelay reports whether k is a bare relay (two endpoints, no switching).
func (k kind) isRelay() bool {
	return k == relay || k == relayConn || k == relayListen || k == relayStream
}

// isL2fabric reports whether k is l2fabric in one of its attach styles.
func (k kind) isL2fabric() bool {
	return k == l2fPeer || k == l2fListener || k == l2fPair || k == l2fStream
}

// name is the kind's name for -only.
func (k kind) name() string {
	return [...]string{"peer", "listener", "pair", "vde", "relay", "relay-conn", "relay-listen", "stream", "relay-stream"}[k]
}

func kindNames() []string {
	var s []string
	for _, k := range allKinds {
		s = append(s, k.name())
	}
	return s
}

func kindByName(name string) (kind, bool) {
	for _, k := range allKinds {
		if k.name() == name {
			return k, true
		}
	}
	return 0, false
}

func (k kind) String() string {
	switch k {
	case l2fPeer:
		return "l2fabric (peer)"
	case l2fListener:
		return "l2fabric (listener)"
	case l2fPair:
		return "l2fabric (socketpair)"
	case vde:
		return "vde_switch"
	case relay:
		return "relay (qemu-style)"
	case relayConn:
		return "relay (connected pairs)"
	case l2fStream:
		return "l2fabric (stream)"
	case relayStream:
		return "relay (stream)"
	default:
		return "relay (vfkit-style)"
	}
}

// topo is a running switch with its endpoints attached: eps[0] sends,
// eps[1:1+nrecv] receive, the rest are idle.
type topo struct {
	kind    kind
	dir     string
	eps     []*endpoint
	nrecv   int
	proc    *proc
	control string     // l2fabric's control socket
	mgmt    string     // vde_switch's management socket
	plugs   []*plug    // vde_switch control connections, one per port
	files   []*os.File // the switch's socketpair ends, until it has started
	cleanup []func()   // run in reverse by close
}

func (t *topo) sender() *endpoint      { return t.eps[0] }
func (t *topo) receivers() []*endpoint { return t.eps[1 : 1+t.nrecv] }
func (t *topo) idle() []*endpoint      { return t.eps[1+t.nrecv:] }

// pid is the switch's process id, for its CPU time.
func (t *topo) pid() int { return t.proc.cmd.Process.Pid }

func (t *topo) close() {
	for _, p := range t.plugs {
		p.close()
	}
	if t.proc != nil {
		t.proc.stop()
	}
	for _, e := range t.eps {
		e.close()
	}
	for _, f := range t.files {
		f.Close()
	}
	for i := len(t.cleanup) - 1; i >= 0; i-- {
		t.cleanup[i]()
	}
	os.RemoveAll(t.dir)
}

// env is what starting a switch needs.
type env struct {
	bin    string // the l2fabric binary
	vde    string // vde_switch, "" when skipped
	self   string // this program, run as the relay
	tmp    string // a private directory for sockets
	serial int
}

// newTopo makes a directory and the endpoints for a topology of one sender,
// nrecv receivers and nidle idle stations.
func (e *env) newTopo(k kind, nrecv, nidle int) (*topo, error) {
	e.serial++
	t := &topo{kind: k, dir: filepath.Join(e.tmp, fmt.Sprintf("t%d", e.serial)), nrecv: nrecv}
	if err := os.Mkdir(t.dir, 0o700); err != nil {
		return nil, err
	}
	for i := 0; i < 1+nrecv+nidle; i++ {
		name := "sender"
		switch {
		case i > nrecv:
			name = fmt.Sprintf("idle%d", i-nrecv)
		case i > 0:
			name = fmt.Sprintf("receiver%d", i)
		}
		var ep *endpoint
		var err error
		if k == l2fStream || k == relayStream {
			ep = newStreamEndpoint(name, stationMAC(i+1))
		} else if k == l2fPair {
			var f *os.File
			ep, f, err = newPairEndpoint(name, stationMAC(i+1))
			if err == nil {
				t.files = append(t.files, f)
			}
		} else {
			ep, err = newEndpoint(name, filepath.Join(t.dir, fmt.Sprintf("e%d.sock", i)), stationMAC(i+1))
		}
		if err != nil {
			t.close()
			return nil, err
		}
		t.eps = append(t.eps, ep)
	}
	return t, nil
}

// start starts switch k with one sender, nrecv receivers and nidle idle
// stations attached, and the sender's, receivers' and idle stations' MACs
// learned (checked in the switch's table where it has one).
func (e *env) start(k kind, nrecv, nidle int) (*topo, error) {
	t, err := e.newTopo(k, nrecv, nidle)
	if err != nil {
		return nil, err
	}
	switch k {
	case l2fPeer, l2fListener, l2fPair, l2fStream:
		err = e.startL2fabric(t)
	case vde:
		err = e.startVDE(t)
	case relay, relayConn, relayListen, relayStream:
		switch {
		case nrecv != 1 || nidle != 0:
			err = errors.New("the relay connects exactly two endpoints")
		case k == relayStream:
			err = e.startStreamRelay(t)
		default:
			err = e.startRelay(t)
		}
	}
	if err == nil {
		err = t.learn()
	}
	if err != nil {
		t.close()
		return nil, fmt.Errorf("%v: %w", k, err)
	}
	return t, nil
}

// startL2fabric runs the l2fabric binary with peer-mode ports, one per
// endpoint (qemu's -netdev dgram with fixed paths), or one listening
// socket that every endpoint connects to and says VFKT to (vfkit), or
// socketpair ends it inherits, one per endpoint (a VM l2fabric boots, or
// vmnet-helper's --fd).
func (e *env) startL2fabric(t *topo) error {
	t.control = filepath.Join(t.dir, "ctl.sock")
	args := []string{e.bin, "--control", t.control, "--log-level", "warn"}
	listen := filepath.Join(t.dir, "vms.sock")
	switch t.kind {
	case l2fPair:
		for i := range t.eps {
			args = append(args, "--port", fmt.Sprintf("dgram:fd=%d,name=p%d", 3+i, i))
		}
	case l2fPeer:
		for i, ep := range t.eps {
			sw := filepath.Join(t.dir, fmt.Sprintf("s%d.sock", i))
			args = append(args, "--port", fmt.Sprintf("dgram:%s,peer=%s,name=p%d", sw, ep.path, i))
			if err := ep.sendTo(sw); err != nil {
				return err
			}
		}
	case l2fStream:
		args = append(args, "--port", "stream:"+listen)
	default:
		args = append(args, "--port", "dgram:"+listen)
	}
	p, err := startProc("l2fabric", false, nil, t.files, args...)
	for _, f := range t.files {
		f.Close() // the child has its copies
	}
	t.files = nil
	if err != nil {
		return err
	}
	t.proc = p
	want := len(t.eps)
	if t.kind == l2fStream {
		if err := t.waitPorts(1); err != nil {
			return err
		}
		if err := t.connectStream(listen); err != nil {
			return err
		}
		want++ // the listening device's own line
	}
	if t.kind == l2fListener {
		// The device is listed alone until a client comes.
		if err := t.waitPorts(1); err != nil {
			return err
		}
		for _, ep := range t.eps {
			if err := ep.connect(listen); err != nil {
				return err
			}
			if err := ep.sendAll([][]byte{[]byte("VFKT")}, time.Now().Add(time.Second)); err != nil {
				return err
			}
		}
		want++ // the listening device's own line
	}
	return t.waitPorts(want)
}

// waitPorts waits until l2fabric lists n ports.
func (t *topo) waitPorts(n int) error {
	deadline := time.Now().Add(10 * time.Second)
	var last string
	for time.Now().Before(deadline) {
		if err := t.proc.alive(); err != nil {
			return err
		}
		var ports []fabric.PortInfo
		if err := t.call("ports", nil, &ports); err != nil {
			last = err.Error()
		} else if len(ports) == n {
			return nil
		} else {
			last = fmt.Sprintf("%d ports listed", len(ports))
		}
		time.Sleep(20 * time.Millisecond)
	}
	return fmt.Errorf("l2fabric did not list %d ports within 10 s (%s); its output:\n%s", n, last, t.proc.out)
}

// call makes one control request to l2fabric.
func (t *topo) call(command string, args, result any) error {
	c, err := control.Dial(t.control)
	if err != nil {
		return err
	}
	defer c.Close()
	return c.Call(command, args, result)
}

// l2fCounters returns the sum of l2fabric's per-port counters.
func (t *topo) l2fCounters() (fabric.Counters, error) {
	var ports []fabric.PortInfo
	var sum fabric.Counters
	if err := t.call("ports", nil, &ports); err != nil {
		return sum, err
	}
	for _, p := range ports {
		c := p.Counters
		sum.RxFrames += c.RxFrames
		sum.TxFrames += c.TxFrames
		sum.RxBackend += c.RxBackend
		sum.TxQueueFull += c.TxQueueFull
		sum.TxError += c.TxError
	}
	return sum, nil
}

// startRelay runs this program as a relay between two sockets connected to
// the endpoints, as l2fabric's peer-mode sockets are, the endpoints sending
// to it unconnected as qemu does (relay) or connected back (relayConn), or
// as a relay on one socket both endpoints connect to (relayListen).
func (e *env) startRelay(t *topo) error {
	a, b := filepath.Join(t.dir, "s0.sock"), filepath.Join(t.dir, "s1.sock")
	spec := strings.Join([]string{a, t.eps[0].path, b, t.eps[1].path}, ",")
	if t.kind == relayListen {
		spec = a + ",listen"
	}
	if t.kind == relayConn {
		spec += ",connect"
	}
	p, err := startProc("relay", false, []string{relayEnv + "=" + spec}, nil, e.self)
	if err != nil {
		return err
	}
	t.proc = p
	t.cleanup = append(t.cleanup, func() { os.Remove(a); os.Remove(b) })
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(p.out.String(), "ready") {
		if err := p.alive(); err != nil {
			return err
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("relay not ready within 10 s: %s", p.out)
		}
		time.Sleep(10 * time.Millisecond)
	}
	switch t.kind {
	case relayConn:
		if err := t.eps[0].connect(a); err != nil {
			return err
		}
		return t.eps[1].connect(b)
	case relayListen:
		for _, ep := range t.eps {
			if err := ep.connect(a); err != nil {
				return err
			}
			if err := ep.sendAll([][]byte{[]byte("VFKT")}, time.Now().Add(time.Second)); err != nil {
				return err
			}
		}
		return nil
	}
	if err := t.eps[0].sendTo(a); err != nil {
		return err
	}
	return t.eps[1].sendTo(b)
}

// learn teaches the switch every station and checks the switch delivers:
// the sender's first frame (to the first receiver, not yet known, so
// flooded) must reach every receiver, then each other station sends one
// frame to the sender, which must reach it. Where the switch has a table
// that can be read, it must then hold every station.
func (t *topo) learn() error {
	const wait = 2 * time.Second
	s := t.sender()
	rs := t.receivers()
	if err := s.sendAll([][]byte{frame(rs[0].mac, s.mac, 64)}, time.Now().Add(wait)); err != nil {
		return err
	}
	for _, r := range rs {
		if err := expect(r, s.mac, wait); err != nil {
			return err
		}
	}
	for _, x := range t.eps[1:] {
		if err := x.sendAll([][]byte{frame(s.mac, x.mac, 64)}, time.Now().Add(wait)); err != nil {
			return err
		}
		if err := expect(s, x.mac, wait); err != nil {
			return err
		}
	}
	for _, x := range t.eps {
		x.drain()
	}
	switch t.kind {
	case l2fPeer, l2fListener, l2fPair, l2fStream:
		var entries []struct {
			MAC string `json:"mac"`
		}
		if err := t.call("fdb.show", nil, &entries); err != nil {
			return err
		}
		if len(entries) != len(t.eps) {
			return fmt.Errorf("l2fabric learned %d MACs, want %d", len(entries), len(t.eps))
		}
	case vde:
		n, err := t.vdeLearned()
		if err != nil {
			return err
		}
		if n != len(t.eps) {
			return fmt.Errorf("vde_switch learned %d MACs, want %d", n, len(t.eps))
		}
	}
	return nil
}

// expect waits for a frame from src on ep.
func expect(ep *endpoint, src [6]byte, wait time.Duration) error {
	bufs := [][]byte{make([]byte, 2048)}
	sizes := []int{0}
	deadline := time.Now().Add(wait)
	for time.Now().Before(deadline) {
		n, err := ep.recv(bufs, sizes)
		if err != nil || n == 0 {
			continue
		}
		if sizes[0] >= 14 && [6]byte(bufs[0][6:12]) == src {
			return nil
		}
	}
	return fmt.Errorf("%s received no frame from %x within %v: the switch does not deliver", ep.name, src, wait)
}
