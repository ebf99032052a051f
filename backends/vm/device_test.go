//go:build linux || darwin

package vm

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"golang.org/x/sys/unix"

	"github.com/l2fabric/l2fabric/fabric"
)

// fakeHV is a hypervisor whose machines do nothing but hold their NIC
// sockets, for the test to send and receive frames as the guest.
type fakeHV struct {
	mu        sync.Mutex
	machines  []*fakeMachine
	failStart error // the next starts fail with it
	attempts  int   // calls of start
	ignoreReq bool  // guests ignore requestStop
	booted    chan *fakeMachine
}

func newFakeHV() *fakeHV { return &fakeHV{booted: make(chan *fakeMachine, 16)} }

func (h *fakeHV) newMachine(def *Definition, nics []*os.File, _ hclog.Logger) (machine, error) {
	if len(nics) != len(def.NICs) {
		return nil, fmt.Errorf("%d sockets for %d NICs", len(nics), len(def.NICs))
	}
	return &fakeMachine{hv: h, nics: nics, doneCh: make(chan struct{})}, nil
}

func (h *fakeHV) setFailStart(err error) {
	h.mu.Lock()
	h.failStart = err
	h.mu.Unlock()
}

func (h *fakeHV) count() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.machines)
}

type fakeMachine struct {
	hv        *fakeHV
	nics      []*os.File
	doneCh    chan struct{}
	once      sync.Once
	fail      error
	requested atomic.Bool
	stopped   atomic.Bool
}

func (m *fakeMachine) start() error {
	m.hv.mu.Lock()
	m.hv.attempts++
	err := m.hv.failStart
	if err == nil {
		m.hv.machines = append(m.hv.machines, m)
	}
	m.hv.mu.Unlock()
	if err == nil {
		m.hv.booted <- m
	}
	return err
}

// powerOff ends the machine: a guest power-off (nil) or a failure.
func (m *fakeMachine) powerOff(err error) {
	m.once.Do(func() {
		m.fail = err
		close(m.doneCh)
	})
}

func (m *fakeMachine) done() <-chan struct{} { return m.doneCh }
func (m *fakeMachine) err() error            { return m.fail }

func (m *fakeMachine) requestStop() error {
	m.requested.Store(true)
	m.hv.mu.Lock()
	ignore := m.hv.ignoreReq
	m.hv.mu.Unlock()
	if !ignore {
		go m.powerOff(nil)
	}
	return nil
}

func (m *fakeMachine) stop() error {
	m.stopped.Store(true)
	m.powerOff(nil)
	return nil
}

// send sends a frame as the guest on NIC i.
func (m *fakeMachine) send(t *testing.T, i int, frame []byte) {
	t.Helper()
	if _, err := unix.Write(int(m.nics[i].Fd()), frame); err != nil {
		t.Fatalf("guest send on NIC %d: %v", i, err)
	}
}

// recv receives a frame as the guest on NIC i, or fails after a while.
func (m *fakeMachine) recv(t *testing.T, i int) []byte {
	t.Helper()
	buf := make([]byte, 65536)
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		n, _, err := unix.Recvfrom(int(m.nics[i].Fd()), buf, unix.MSG_DONTWAIT)
		if n > 0 {
			return buf[:n]
		}
		if err != nil && !errors.Is(err, unix.EAGAIN) {
			t.Fatalf("guest recv on NIC %d: %v", i, err)
		}
		time.Sleep(2 * time.Millisecond)
	}
	t.Fatalf("guest received nothing on NIC %d", i)
	return nil
}

// quiet reports that nothing arrives on NIC i for a short while.
func (m *fakeMachine) quiet(t *testing.T, i int) {
	t.Helper()
	buf := make([]byte, 65536)
	time.Sleep(50 * time.Millisecond)
	if n, _, _ := unix.Recvfrom(int(m.nics[i].Fd()), buf, unix.MSG_DONTWAIT); n > 0 {
		t.Fatalf("guest received an unexpected %d-byte frame on NIC %d", n, i)
	}
}

func (h *fakeHV) nextBoot(t *testing.T) *fakeMachine {
	t.Helper()
	select {
	case m := <-h.booted:
		return m
	case <-time.After(5 * time.Second):
		t.Fatal("the VM did not boot")
		return nil
	}
}

// broadcast is an Ethernet broadcast from src.
func broadcast(src byte, payload string) []byte {
	f := make([]byte, 60)
	copy(f, []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02, 0, 0, 0, 0, src, 0x08, 0x00})
	copy(f[14:], payload)
	return f
}

type testEnv struct {
	t      *testing.T
	hv     *fakeHV
	f      *fabric.Fabric
	dir    string
	cancel context.CancelFunc
	done   chan struct{}
	kc     kindConfig
}

// newEnv runs a fabric whose vm kind boots fake machines from VMs defined
// in a temporary directory.
func newEnv(t *testing.T, edit func(kc *kindConfig)) *testEnv {
	t.Helper()
	e := &testEnv{t: t, hv: newFakeHV(), dir: t.TempDir(), done: make(chan struct{})}
	e.kc = kindConfig{catalog: NewCatalog(e.dir), hv: e.hv,
		stopTimeout: 2 * time.Second, backoffMin: 10 * time.Millisecond, backoffMax: 40 * time.Millisecond, stableAfter: time.Hour}
	if edit != nil {
		edit(&e.kc)
	}
	f, err := fabric.New(fabric.Config{Kinds: fabric.Kinds{newKind(e.kc)}, Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	e.f = f
	ctx, cancel := context.WithCancel(context.Background())
	e.cancel = cancel
	go func() { f.Run(ctx); close(e.done) }()
	t.Cleanup(e.stop)
	return e
}

func (e *testEnv) stop() {
	e.cancel()
	<-e.done
}

func (e *testEnv) define(name, conf string) {
	e.t.Helper()
	writeVM(e.t, e.dir, name, conf)
}

func (e *testEnv) open(spec string) string {
	e.t.Helper()
	name, err := e.f.Open(spec)
	if err != nil {
		e.t.Fatalf("open %s: %v", spec, err)
	}
	return name
}

// port returns the port called name, or fails.
func (e *testEnv) port(name string) fabric.PortInfo {
	e.t.Helper()
	for _, p := range e.f.Ports() {
		if p.Name == name {
			return p
		}
	}
	e.t.Fatalf("no port %s in %+v", name, e.f.Ports())
	return fabric.PortInfo{}
}

// waitState waits for port name's state to be want.
func (e *testEnv) waitState(name, want string) {
	e.t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		got := e.port(name).State
		if got == want {
			return
		}
		if time.Now().After(deadline) {
			e.t.Fatalf("port %s is %q, want %q", name, got, want)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// waitDown waits for port name's link to be down, for whatever reason.
func (e *testEnv) waitDown(name string) {
	e.t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !strings.HasPrefix(e.port(name).State, "down") {
		if time.Now().After(deadline) {
			e.t.Fatalf("port %s is %q, want down", name, e.port(name).State)
		}
		time.Sleep(time.Millisecond)
	}
}

func (h *fakeHV) startAttempts() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.attempts
}

func TestTwoPortsOfOneVM(t *testing.T) {
	e := newEnv(t, nil)
	e.define("router", "kernel=Image\nnics=3\nnic=mtu=9000\n")
	if got := e.open("vm:router,vlan=10"); got != "router" {
		t.Errorf("the first port's Open returned %q, want the device router", got)
	}
	if got := e.open("vm:router,vlan=20"); got != "router/1" {
		t.Errorf("the second port's Open returned %q, want router/1", got)
	}
	if got := e.open("vm:router,vlan=20,name=lan"); got != "lan" {
		t.Errorf("the third port's Open returned %q, want lan", got)
	}
	m := e.hv.nextBoot(t)
	if n := e.hv.count(); n != 1 {
		t.Fatalf("%d boots, want 1", n)
	}
	p0, p1 := e.port("router/0"), e.port("router/1")
	if p0.Kind != "vm" || p0.Device != "router" || p0.VLAN != 10 || p0.MTU != 9000 || p0.State != "up" ||
		!strings.Contains(p0.Info, "nic 0, mac "+DeriveMAC("router", 0).String()) {
		t.Errorf("router/0: %+v", p0)
	}
	if p1.VLAN != 20 || p1.MTU != 1500 || e.port("lan").VLAN != 20 {
		t.Errorf("router/1: %+v", p1)
	}
	if devs := e.f.Devices(); len(devs) != 1 || devs[0] != "router" {
		t.Errorf("devices: %q", devs)
	}

	// Frames flow between the guest's NICs 1 and 2 (VLAN 20), not to NIC 0.
	frame := broadcast(1, "hello from nic 1")
	m.send(t, 1, frame)
	if got := m.recv(t, 2); !bytes.Equal(got, frame) {
		t.Errorf("NIC 2 received %x, want %x", got, frame)
	}
	m.quiet(t, 0)

	// All NICs are taken; nic= picks one explicitly.
	if _, err := e.f.Open("vm:router"); err == nil || !strings.Contains(err.Error(), "all 3 NICs of VM router are attached") {
		t.Errorf("a fourth port: %v", err)
	}
	if err := e.f.Detach("router/1"); err != nil {
		t.Fatal(err)
	}
	if _, err := e.f.Open("vm:router,nic=0"); err == nil || !strings.Contains(err.Error(), "NIC 0 of VM router is already attached") {
		t.Errorf("nic=0 again: %v", err)
	}
	if got := e.open("vm:router,nic=1,name=again,vlan=20"); got != "again" {
		t.Errorf("re-attaching NIC 1: %q", got)
	}
	m.send(t, 1, frame)
	if got := m.recv(t, 2); !bytes.Equal(got, frame) {
		t.Errorf("after re-attaching, NIC 2 received %x", got)
	}
	if n := e.hv.count(); n != 1 {
		t.Errorf("%d boots, want still 1", n)
	}
}

func TestRestartOnFailure(t *testing.T) {
	e := newEnv(t, nil)
	e.define("router", "kernel=Image\nnics=2\nrestart=on-failure\n")
	e.open("vm:router")
	e.open("vm:router")
	m := e.hv.nextBoot(t)
	e.waitState("router/0", "up")

	// Make the restart fail once, to see the backoff retry.
	e.hv.setFailStart(errors.New("no luck"))
	m.powerOff(errors.New("the virtual machine entered the error state"))
	e.waitDown("router/0")
	e.waitDown("router/1")
	for deadline := time.Now().Add(5 * time.Second); e.hv.startAttempts() < 3; time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("%d start attempts, want a retry after the failed restart", e.hv.startAttempts())
		}
	}
	if st := e.port("router/0").State; st != "down (vm failed to start)" && st != "down (vm restarting)" {
		t.Errorf("router/0 is %q while the VM fails to start", st)
	}
	e.hv.setFailStart(nil)
	m2 := e.hv.nextBoot(t)
	e.waitState("router/0", "up")
	e.waitState("router/1", "up")
	if n := e.hv.count(); n != 2 {
		t.Errorf("%d boots, want 2", n)
	}
	// The new boot gets the same sockets, and they work.
	frame := broadcast(1, "after restart")
	m2.send(t, 0, frame)
	if got := m2.recv(t, 1); !bytes.Equal(got, frame) {
		t.Errorf("after restart NIC 1 received %x", got)
	}
	// A guest power-off is not a failure: no restart.
	m2.powerOff(nil)
	e.waitState("router/0", "down (vm stopped)")
	time.Sleep(100 * time.Millisecond)
	if n := e.hv.count(); n != 2 {
		t.Errorf("%d boots after a power-off with restart=on-failure, want 2", n)
	}
	if info := deviceInfo(e, "router"); !strings.Contains(info, "stopped (boots: 2)") {
		t.Errorf("device info %q", info)
	}
}

func deviceInfo(e *testEnv, name string) string {
	for _, p := range e.f.Ports() {
		if p.Name == name {
			return p.Info
		}
	}
	return ""
}

func TestRestartPolicies(t *testing.T) {
	for _, tt := range []struct {
		policy    string
		failure   error
		wantBoots int
		wantState string
	}{
		{"no", errors.New("boom"), 1, "down (vm failed)"},
		{"no", nil, 1, "down (vm stopped)"},
		{"always", nil, 2, "up"},
		{"always", errors.New("boom"), 2, "up"},
		{"on-failure", nil, 1, "down (vm stopped)"},
	} {
		t.Run(fmt.Sprintf("%s/%v", tt.policy, tt.failure), func(t *testing.T) {
			e := newEnv(t, nil)
			e.define("vm1", "kernel=Image\nrestart="+tt.policy+"\n")
			e.open("vm:vm1")
			m := e.hv.nextBoot(t)
			m.powerOff(tt.failure)
			if tt.wantBoots > 1 {
				e.hv.nextBoot(t)
			}
			e.waitState("vm1/0", tt.wantState)
			time.Sleep(60 * time.Millisecond)
			if n := e.hv.count(); n != tt.wantBoots {
				t.Errorf("%d boots, want %d", n, tt.wantBoots)
			}
		})
	}
}

func TestShutdown(t *testing.T) {
	t.Run("guest powers off when asked", func(t *testing.T) {
		e := newEnv(t, nil)
		e.define("router", "kernel=Image\n")
		e.open("vm:router")
		m := e.hv.nextBoot(t)
		start := time.Now()
		e.stop()
		if !m.requested.Load() || m.stopped.Load() {
			t.Errorf("requested %v, stopped %v: want a request only", m.requested.Load(), m.stopped.Load())
		}
		if d := time.Since(start); d > time.Second {
			t.Errorf("shutdown took %v", d)
		}
	})
	t.Run("guest ignores the request", func(t *testing.T) {
		e := newEnv(t, func(kc *kindConfig) { kc.stopTimeout = 100 * time.Millisecond })
		e.hv.ignoreReq = true
		e.define("router", "kernel=Image\n")
		e.open("vm:router")
		m := e.hv.nextBoot(t)
		start := time.Now()
		e.stop()
		if !m.requested.Load() || !m.stopped.Load() {
			t.Errorf("requested %v, stopped %v: want both", m.requested.Load(), m.stopped.Load())
		}
		if d := time.Since(start); d < 100*time.Millisecond {
			t.Errorf("stopped after %v, before the stop timeout", d)
		}
	})
}

func TestDetachDevice(t *testing.T) {
	e := newEnv(t, nil)
	e.define("router", "kernel=Image\nnics=2\n")
	e.open("vm:router")
	e.open("vm:router")
	m := e.hv.nextBoot(t)
	if err := e.f.Detach("router"); err != nil {
		t.Fatal(err)
	}
	if !m.requested.Load() {
		t.Error("the guest was not asked to power off")
	}
	if len(e.f.Ports()) != 0 || len(e.f.Devices()) != 0 {
		t.Errorf("left behind: %+v %q", e.f.Ports(), e.f.Devices())
	}
	// The VM's sockets are closed.
	if _, err := unix.Write(int(m.nics[0].Fd()), broadcast(1, "x")); err == nil {
		t.Error("the old VM's socket still works")
	}
	// Attaching it again boots it again.
	e.open("vm:router")
	e.hv.nextBoot(t)
	e.waitState("router/0", "up")
	if n := e.hv.count(); n != 2 {
		t.Errorf("%d boots, want 2", n)
	}
}

func TestBootFailure(t *testing.T) {
	e := newEnv(t, nil)
	e.define("router", "kernel=Image\nrestart=always\n")
	e.hv.setFailStart(errors.New("invalid configuration"))
	_, err := e.f.Open("vm:router")
	if err == nil || !strings.Contains(err.Error(), "starting VM router: invalid configuration") {
		t.Fatalf("open: %v", err)
	}
	if len(e.f.Ports()) != 0 || len(e.f.Devices()) != 0 {
		t.Errorf("left behind: %+v", e.f.Ports())
	}
	e.hv.setFailStart(nil)
	e.open("vm:router")
	e.hv.nextBoot(t)
}

func TestCheck(t *testing.T) {
	dir := t.TempDir()
	writeVM(t, dir, "router", "kernel=Image\nnics=2\nnic=mtu=9000\n")
	writeVM(t, dir, "nokernel", "kernel=missing\n")
	kinds := fabric.Kinds{newKind(kindConfig{catalog: NewCatalog(dir), hv: newFakeHV()})}
	for _, spec := range []string{"vm:router", "vm:router,nic=1", "vm:router,nic=0,mtu=9000,vlan=5", "vm:router,name=wan"} {
		if _, _, _, err := kinds.Parse(spec); err != nil {
			t.Errorf("%s: %v", spec, err)
		}
	}
	for _, tt := range []struct{ spec, want string }{
		{"vm:", "missing VM name"},
		{"vm:name=x", "missing VM name"},
		{"vm:a b", "may contain only"},
		{"vm:db", `no such VM "db"`},
		{"vm:nokernel", "does not exist"},
		{"vm:router,nic=2", "VM router has 2 NICs (0 to 1)"},
		{"vm:router,nic=-1", "nic must be a NIC index"},
		{"vm:router,nic=x", "nic must be a NIC index"},
		{"vm:router,nic=1,mtu=9000", "larger than the MTU 1500 of NIC 1"},
		{"vm:router,disk=x", "unknown option for kind vm"},
	} {
		_, _, _, err := kinds.Parse(tt.spec)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: got %v, want an error containing %q", tt.spec, err, tt.want)
		}
	}
	syntax := fabric.Kinds{newKind(kindConfig{catalog: NewCatalog(t.TempDir()), syntaxOnly: true})}
	for _, spec := range []string{"vm:db", "vm:router,nic=9", "vm:router,nic=1,mtu=9000"} {
		if _, _, _, err := syntax.Parse(spec); err != nil {
			t.Errorf("syntax only: %s: %v", spec, err)
		}
	}
	for _, spec := range []string{"vm:", "vm:a b", "vm:router,nic=x", "vm:router,disk=x"} {
		if _, _, _, err := syntax.Parse(spec); err == nil {
			t.Errorf("syntax only: %s was accepted", spec)
		}
	}
	unavailable := fabric.Kinds{newKind(kindConfig{catalog: NewCatalog(dir), unavailable: ErrNeedCgo})}
	if _, _, _, err := unavailable.Parse("vm:router"); !errors.Is(err, ErrNeedCgo) ||
		err.Error() != "vm ports need l2fabric built with cgo on macOS (CGO_ENABLED=1)" {
		t.Errorf("without cgo: %v", err)
	}
}

func TestInlineVM(t *testing.T) {
	e := newEnv(t, nil)
	kernel := writeFile(t, filepath.Join(t.TempDir(), "Image"), arm64Image())
	if err := e.kc.catalog.AddInline("edge:kernel=" + kernel + `,cmdline="console=hvc0 quiet",mac=02:00:00:00:00:aa`); err != nil {
		t.Fatal(err)
	}
	e.open("vm:edge")
	e.hv.nextBoot(t)
	if p := e.port("edge/0"); !strings.Contains(p.Info, "mac 02:00:00:00:00:aa") {
		t.Errorf("edge/0: %+v", p)
	}
}

// TestStaleFramesDrained checks that a new boot of a VM does not start
// with the frames queued for the previous one.
func TestStaleFramesDrained(t *testing.T) {
	e := newEnv(t, nil)
	e.define("a", "kernel=Image\nrestart=always\n")
	e.define("b", "kernel=Image\n")
	e.open("vm:a")
	ma := e.hv.nextBoot(t)
	e.open("vm:b")
	mb := e.hv.nextBoot(t)
	// Frames queued for a's guest while it is not reading.
	mb.send(t, 0, broadcast(2, "stale"))
	if got := ma.recv(t, 0); !bytes.Contains(got, []byte("stale")) {
		t.Fatalf("a received %q", got)
	}
	mb.send(t, 0, broadcast(2, "stale"))
	time.Sleep(50 * time.Millisecond)
	ma.powerOff(nil)
	ma2 := e.hv.nextBoot(t)
	e.waitState("a/0", "up")
	ma2.quiet(t, 0)
	mb.send(t, 0, broadcast(2, "fresh"))
	if got := ma2.recv(t, 0); !bytes.Contains(got, []byte("fresh")) {
		t.Errorf("a's new boot received %q, want the fresh frame", got)
	}
}

// testLogger logs to the test's output, shown when it fails or with -v.
func testLogger(t *testing.T) hclog.Logger {
	return hclog.New(&hclog.LoggerOptions{Level: hclog.Debug, Output: testWriter{t}})
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(b []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(b), "\n"))
	return len(b), nil
}

// TestDefinitionEditedWhileRunning checks that a NIC added to vm.conf
// after the VM booted is refused until the VM is attached again.
func TestDefinitionEditedWhileRunning(t *testing.T) {
	e := newEnv(t, nil)
	e.define("router", "kernel=Image\n")
	e.open("vm:router")
	e.hv.nextBoot(t)
	e.define("router", "kernel=Image\nnics=3\n")
	for _, spec := range []string{"vm:router,nic=2", "vm:router"} {
		if _, err := e.f.Open(spec); err == nil || !strings.Contains(err.Error(), "booted with 1 NICs") && !strings.Contains(err.Error(), "all 1 NICs") {
			t.Errorf("%s: %v", spec, err)
		}
	}
	if err := e.f.Detach("router"); err != nil {
		t.Fatal(err)
	}
	e.open("vm:router,nic=2")
	e.hv.nextBoot(t)
	e.waitState("router/2", "up")
}
