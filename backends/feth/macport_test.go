//go:build linux || darwin

package feth

// The macOS port's logic on a model of the kernel (fakekernel_test.go) and
// an in-memory switched port, on a real fabric.

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/l2fabric/l2fabric/backends/internal/linkwatch"
	"github.com/l2fabric/l2fabric/fabric"
	"github.com/l2fabric/l2fabric/fabric/fabrictest"
	"github.com/l2fabric/l2fabric/frames"
)

// fakeSwitched stands for the bpfndrv port on the switched end.
type fakeSwitched struct {
	*fabrictest.FilterPort
	ifname string
}

func (p *fakeSwitched) RxDropped() uint64 { return 7 }

// macEnv is a system on a fake kernel, and a fabric using it.
type macEnv struct {
	k      *fakeKernel
	sys    *system
	f      *fabric.Fabric
	logs   *logBuffer
	root   atomic.Bool
	mu     sync.Mutex
	opened []*fakeSwitched
	openFn func(ifname string) error // when set, fails openSwitched
}

func newMacEnv(t *testing.T) *macEnv {
	t.Helper()
	e := &macEnv{k: newFakeKernel()}
	e.root.Store(true)
	log, lb := testLogger(t)
	e.logs = lb
	e.sys = &system{
		ops:    e.k,
		store:  &pairStore{path: filepath.Join(t.TempDir(), "l2fabric", recordFile), log: hclog.NewNullLogger()},
		self:   self(os.Getpid(), "boot-1"),
		isRoot: e.root.Load,
		openSwitched: func(ifname string, _ hclog.Logger) (switchedPort, error) {
			if e.openFn != nil {
				if err := e.openFn(ifname); err != nil {
					return nil, err
				}
			}
			p := &fakeSwitched{FilterPort: fabrictest.NewFilter(8), ifname: ifname}
			e.mu.Lock()
			e.opened = append(e.opened, p)
			e.mu.Unlock()
			return p, nil
		},
		links: func() (linkwatch.Source, error) { return e.k.feed, nil },
	}
	f, err := fabric.New(fabric.Config{Kinds: fabric.Kinds{e.sys.kind()}, Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	e.f = f
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { f.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	return e
}

func (e *macEnv) switched(i int) *fakeSwitched {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.opened[i]
}

func (e *macEnv) records(t *testing.T) []pairRecord {
	t.Helper()
	rs, err := e.sys.store.list()
	if err != nil {
		t.Fatal(err)
	}
	return rs
}

func (e *macEnv) port(name string) (fabric.PortInfo, bool) {
	for _, p := range e.f.Ports() {
		if p.Name == name {
			return p, true
		}
	}
	return fabric.PortInfo{}, false
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

// waitState waits until the port's state is state.
func (e *macEnv) waitState(t *testing.T, name, state string) {
	t.Helper()
	var last string
	deadline := time.Now().Add(5 * time.Second)
	for {
		p, ok := e.port(name)
		last = p.State
		if ok && p.State == state {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("port %s: state %q, want %q", name, last, state)
		}
		time.Sleep(time.Millisecond)
	}
}

// mark returns the position in the logs from which waitUp looks.
func (e *macEnv) mark() int { return len(e.logs.String()) }

// waitUp waits until the fabric has logged the port's link up with
// reason (after mark), and the port is up.
func (e *macEnv) waitUp(t *testing.T, mark int, name, reason string) {
	t.Helper()
	want := `port link up: port=` + name + ` reason="` + reason + `"`
	waitFor(t, want, func() bool { return strings.Contains(e.logs.String()[mark:], want) })
	e.waitState(t, name, "up")
}

// settle lets the port handle the events of a change (and find nothing
// more to do).
func (e *macEnv) settle() { time.Sleep(30 * time.Millisecond) }

func TestMacSpec(t *testing.T) {
	ks := fabric.Kinds{(&system{}).kind()}
	for spec, want := range map[string]string{
		"feth:":                      "missing bridge name",
		"feth:,dev=feth1":            "missing bridge name",
		"feth:bridge1234567890":      "longer than the 15",
		"feth:a/b":                   "contains '/'",
		"feth:bridge1,dev=en0":       "the kernel names a feth feth<unit>, the unit 0-32767",
		"feth:bridge1,dev=feth":      "feth<unit>",
		"feth:bridge1,dev=feth01":    "feth<unit>",
		"feth:bridge1,dev=feth-1":    "feth<unit>",
		"feth:bridge1,dev=feth32768": "feth<unit>",
		"feth:bridge1,dev=fethx":     "feth<unit>",
		"feth:bridge1,persist=on":    "unknown option",
		"feth:bridge1,mtu=10":        "mtu must be",
	} {
		_, _, _, err := ks.Parse(spec)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: error %v, want %q", spec, err, want)
		}
	}
	for _, spec := range []string{"feth:bridge1", "feth:bridge100,dev=feth7,mtu=1500,name=host", "feth:bridge0,dev=feth32767", "feth:bridge1,dev=feth0"} {
		if _, _, _, err := ks.Parse(spec); err != nil {
			t.Errorf("%s: %v", spec, err)
		}
	}
	o, err := parseMacOptions(fabric.Spec{Text: "feth:bridge1", Kind: "feth", Arg: "bridge1"})
	if err != nil || o.bridge != "bridge1" || o.dev != "feth" {
		t.Errorf("options %+v %v", o, err)
	}
}

func TestNames(t *testing.T) {
	for name, want := range map[string]bool{
		"bridge0": true, "bridge100": true, "bridge32767": true, "bridge32768": false,
		"bridge": false, "bridge01": false, "bridge1a": false, "en0": false, "xbridge1": false,
	} {
		if isBridgeName(name) != want {
			t.Errorf("isBridgeName(%q) = %v", name, !want)
		}
	}
	if got := bridgeList([]string{"en0", "bridge10", "lo0", "bridge2", "bridge0", "bridgex"}); !slices.Equal(got, []string{"bridge0", "bridge2", "bridge10"}) {
		t.Errorf("bridgeList %v", got)
	}
}

func TestMacOpen(t *testing.T) {
	e := newMacEnv(t)
	e.k.addBridge("bridge1", 1500, "en0")
	name, err := e.f.Open("feth:bridge1")
	if err != nil {
		t.Fatal(err)
	}
	if name != "feth-bridge1" {
		t.Errorf("port name %q", name)
	}
	p, _ := e.port("feth-bridge1")
	if p.Kind != "feth" || p.MTU != 1500 || p.State != "up" || p.Info != "feth0 in bridge bridge1, switched through its peer feth1" {
		t.Errorf("port %+v", p)
	}
	if p.Counters.RxBackend != 7 {
		t.Errorf("the switched port's drops are not shown: %+v", p.Counters)
	}
	for n, want := range map[string]string{
		"feth0":   "feth peer=feth1 up mtu=1500 in=bridge1",
		"feth1":   "feth peer=feth0 up mtu=1500",
		"bridge1": "bridge up mtu=1500 members=en0,feth0",
	} {
		if got := e.k.state(n); got != want {
			t.Errorf("%s: %s, want %s", n, got, want)
		}
	}
	sw := e.switched(0)
	if sw.ifname != "feth1" {
		t.Errorf("switching %s, want feth1", sw.ifname)
	}
	rs := e.records(t)
	if len(rs) != 1 || rs[0].Member != "feth0" || rs[0].Switched != "feth1" || rs[0].Bridge != "bridge1" || rs[0].PID != os.Getpid() || rs[0].Boot != "boot-1" {
		t.Errorf("record %+v", rs)
	}

	// The switched port is the fabric's: frames and the filter pass
	// through.
	waitFor(t, "the filter set", func() bool { _, n := sw.Remote(); return n > 0 })
	vm := fabrictest.New(8)
	if err := e.f.Attach(vm, fabric.PortConfig{Name: "vm"}); err != nil {
		t.Fatal(err)
	}
	frame := make([]byte, 60)
	copy(frame, "\xff\xff\xff\xff\xff\xff\x02\x00\x00\x00\x00\x01\x08\x00")
	vm.Inject(frame)
	if _, err := sw.WaitWritten(1, 5*time.Second); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the VM's MAC in the filter", func() bool {
		macs, _ := sw.Remote()
		return slices.Contains(macs, frames.MAC{2, 0, 0, 0, 0, 1})
	})
	reply := make([]byte, 60)
	copy(reply, "\x02\x00\x00\x00\x00\x01\x02\x00\x00\x00\x00\x02\x08\x00")
	sw.Inject(reply)
	if _, err := vm.WaitWritten(1, 5*time.Second); err != nil {
		t.Fatal(err)
	}

	// A second port on another bridge gets the next pair.
	e.k.addBridge("bridge2", 1500)
	if _, err := e.f.Open("feth:bridge2,dev=feth7,name=b2"); err != nil {
		t.Fatal(err)
	}
	if got := e.k.state("feth7"); got != "feth peer=feth2 up mtu=1500 in=bridge2" {
		t.Errorf("feth7: %s", got)
	}
	if len(e.records(t)) != 2 {
		t.Errorf("records %+v", e.records(t))
	}

	if err := e.f.Detach("feth-bridge1"); err != nil {
		t.Fatal(err)
	}
	if !sw.Closed() {
		t.Error("switched port not closed")
	}
	if got := e.k.feths(); !slices.Equal(got, []string{"feth2", "feth7"}) {
		t.Errorf("feths after detach: %v", got)
	}
	if got := e.k.state("bridge1"); got != "bridge up mtu=1500 members=en0" {
		t.Errorf("bridge1: %s", got)
	}
	if rs := e.records(t); len(rs) != 1 || rs[0].Member != "feth7" {
		t.Errorf("records %+v", rs)
	}
	if err := e.f.Detach("b2"); err != nil {
		t.Fatal(err)
	}
	if got := e.k.feths(); len(got) != 0 {
		t.Errorf("feths left: %v", got)
	}
	if rs := e.records(t); len(rs) != 0 {
		t.Errorf("records %+v", rs)
	}
	if _, err := os.Stat(e.sys.store.path); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("record file still there: %v", err)
	}
}

func TestMacMTU(t *testing.T) {
	e := newMacEnv(t)
	// An empty bridge takes its first member's MTU: the feth gets the
	// bridge's, so that joining does not change it.
	e.k.addBridge("bridge1", 2000)
	if _, err := e.f.Open("feth:bridge1"); err != nil {
		t.Fatal(err)
	}
	if p, _ := e.port("feth-bridge1"); p.MTU != 2000 {
		t.Errorf("port MTU %d", p.MTU)
	}
	for _, n := range []string{"feth0", "feth1"} {
		if got := e.k.state(n); !strings.Contains(got, "mtu=2000") {
			t.Errorf("%s: %s", n, got)
		}
	}
	if got := e.k.state("bridge1"); got != "bridge up mtu=2000 members=feth0" {
		t.Errorf("bridge1: %s", got)
	}

	// mtu= that the bridge's members do not have: BRDGADD refuses it.
	e.k.addBridge("bridge2", 1500, "en0")
	_, err := e.f.Open("feth:bridge2,mtu=1400,name=b2")
	if err == nil || !strings.Contains(err.Error(), "adding feth2 to bridge bridge2: the bridge's MTU is 1500, the feth's 1400: give the port mtu=1500") {
		t.Errorf("error %v", err)
	}
	// More than a feth takes.
	e.k.addBridge("bridge3", 9000, "en1")
	_, err = e.f.Open("feth:bridge3,name=b3")
	if err == nil || !strings.Contains(err.Error(), "setting the MTU of feth2 to 9000: the kernel refuses it (a feth's MTU is at most `sysctl net.link.fake.max_mtu`") {
		t.Errorf("error %v", err)
	}
	if got := e.k.feths(); !slices.Equal(got, []string{"feth0", "feth1"}) {
		t.Errorf("failed opens left %v", got)
	}
	if rs := e.records(t); len(rs) != 1 {
		t.Errorf("records %+v", rs)
	}
}

func TestMacOpenErrors(t *testing.T) {
	e := newMacEnv(t)
	for spec, want := range map[string]string{
		"feth:bridge1": "bridge bridge1 does not exist (there is no bridge: create one with `sudo ifconfig bridge1 create up`)",
		"feth:en0":     "en0 is not a bridge (there is no bridge",
	} {
		if _, err := e.f.Open(spec); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: error %v, want %q", spec, err, want)
		}
	}
	e.k.addBridge("bridge10", 1500)
	e.k.addBridge("bridge2", 1500)
	if _, err := e.f.Open("feth:bridge1"); err == nil || !strings.Contains(err.Error(), "bridge bridge1 does not exist (bridges: bridge2, bridge10)") {
		t.Errorf("error %v", err)
	}
	if _, err := e.f.Open("feth:en0"); err == nil || !strings.Contains(err.Error(), "en0 is not a bridge (bridges: bridge2, bridge10)") {
		t.Errorf("error %v", err)
	}

	e.root.Store(false)
	if _, err := e.f.Open("feth:bridge2"); err == nil || !strings.Contains(err.Error(), "feth needs root") || !errors.Is(err, errNeedRoot) {
		t.Errorf("not root: %v", err)
	}
	e.root.Store(true)
	// The kernel's EPERM says the same.
	e.k.fail("create", "", syscall.EPERM)
	if _, err := e.f.Open("feth:bridge2"); !errors.Is(err, errNeedRoot) {
		t.Errorf("EPERM: %v", err)
	}
	e.k.fail("create", "", nil)

	// dev= naming a feth that exists.
	e.k.create("feth3")
	if _, err := e.f.Open("feth:bridge2,dev=feth3"); err == nil || !strings.Contains(err.Error(), "creating feth3: it already exists") {
		t.Errorf("error %v", err)
	}

	// Each step failing leaves nothing behind.
	for _, step := range []struct{ op, name string }{
		{"create", "feth"}, {"setPeer", ""}, {"mtu", "feth1"}, {"setUp", "feth0"}, {"setUp", "feth1"}, {"addMember", "bridge2"},
	} {
		e.k.fail(step.op, step.name, syscall.EIO)
		if _, err := e.f.Open("feth:bridge2"); err == nil || !strings.Contains(err.Error(), syscall.EIO.Error()) {
			t.Errorf("%v failing: error %v", step, err)
		}
		e.k.fail(step.op, step.name, nil)
		if got := e.k.feths(); !slices.Equal(got, []string{"feth3"}) {
			t.Errorf("%v failing left %v", step, got)
		}
		if rs := e.records(t); len(rs) != 0 {
			t.Errorf("%v failing left records %+v", step, rs)
		}
	}
	e.openFn = func(string) error { return errors.New("no bpf") }
	if _, err := e.f.Open("feth:bridge2"); err == nil || err.Error() != "feth:bridge2: switching feth1: no bpf" {
		t.Errorf("error %v", err)
	}
	e.openFn = nil
	if got := e.k.feths(); !slices.Equal(got, []string{"feth3"}) {
		t.Errorf("failed switch left %v", got)
	}
	// A port name in use: the new pair goes again.
	vm := fabrictest.New(1)
	e.f.Attach(vm, fabric.PortConfig{Name: "feth-bridge2"})
	if _, err := e.f.Open("feth:bridge2"); !errors.Is(err, fabric.ErrNameInUse) {
		t.Errorf("error %v", err)
	}
	if got := e.k.feths(); !slices.Equal(got, []string{"feth3"}) {
		t.Errorf("failed attach left %v", got)
	}
	if rs := e.records(t); len(rs) != 0 {
		t.Errorf("records %+v", rs)
	}
}

func TestMacOpenCleansUp(t *testing.T) {
	e := newMacEnv(t)
	e.k.addBridge("bridge1", 1500)
	m, s := pairIn(t, e.k, "bridge1")
	if err := e.sys.store.put(pairRecord{ID: "old", Bridge: "bridge1", Member: m, Switched: s, PID: 1 << 30, Boot: "boot-1"}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.f.Open("feth:bridge1"); err != nil {
		t.Fatal(err)
	}
	// The leftovers went first: the new pair takes their names.
	rs := e.records(t)
	if len(rs) != 1 || rs[0].ID == "old" || rs[0].Member != "feth0" || rs[0].Switched != "feth1" {
		t.Errorf("records %+v", rs)
	}
	if got := e.k.state("bridge1"); got != "bridge up mtu=1500 members=feth0" {
		t.Errorf("bridge1: %s", got)
	}
	if !strings.Contains(e.logs.String(), "destroyed feth interfaces left by an earlier run") {
		t.Error("clean-up not logged")
	}
}

func TestMacLink(t *testing.T) {
	e := newMacEnv(t)
	e.k.addBridge("bridge1", 1500, "en0")
	if _, err := e.f.Open("feth:bridge1"); err != nil {
		t.Fatal(err)
	}
	const port = "feth-bridge1"
	member := func() string {
		t.Helper()
		rs := e.records(t)
		if len(rs) != 1 {
			t.Fatalf("records %+v", rs)
		}
		return rs[0].Member
	}
	inBridge := func(m, b string) {
		t.Helper()
		waitFor(t, m+" in "+b, func() bool { return strings.HasSuffix(e.k.state(m), "in="+b) })
	}

	// Taken out of the bridge: re-added, the link staying up.
	mark := e.mark()
	e.k.deletem("feth0")
	inBridge("feth0", "bridge1")
	e.settle()
	e.waitState(t, port, "up")
	if logs := e.logs.String()[mark:]; !strings.Contains(logs, "feth was taken out of the bridge: re-added it") || strings.Contains(logs, "port link") {
		t.Errorf("re-adding not logged, or the link changed:\n%s", logs)
	}

	// Made a member of another bridge: down, not fought over; back when
	// freed.
	e.k.addBridge("bridge2", 1500)
	e.k.moveTo("feth0", "bridge2")
	e.waitState(t, port, "down (feth0 was moved to bridge2: not re-joining bridge bridge1)")
	e.settle()
	if got := e.k.state("feth0"); !strings.HasSuffix(got, "in=bridge2") {
		t.Errorf("feth0 taken back: %s", got)
	}
	mark = e.mark()
	e.k.deletem("feth0")
	e.waitUp(t, mark, port, "re-joined bridge bridge1")
	inBridge("feth0", "bridge1")

	// The bridge destroyed, and created again.
	e.k.destroy("bridge1")
	e.waitState(t, port, "down (bridge bridge1 deleted)")
	mark = e.mark()
	e.k.addBridge("bridge1", 1500)
	e.waitUp(t, mark, port, "bridge bridge1 back")
	inBridge("feth0", "bridge1")

	// Set down by hand, and up again.
	e.k.setAdminUp("feth0", false)
	e.waitState(t, port, "down (interface feth0 set down)")
	e.settle()
	if got := e.k.state("feth0"); strings.Contains(got, " up") {
		t.Errorf("feth0 set up again by the port: %s", got)
	}
	mark = e.mark()
	e.k.setAdminUp("feth0", true)
	e.waitUp(t, mark, port, "interface feth0 up")
	e.k.setAdminUp("feth1", false)
	e.waitState(t, port, "down (interface feth1 set down)")
	e.k.setAdminUp("feth1", true)
	e.waitState(t, port, "up")

	// The member destroyed: created again, peered, joined, recorded, the
	// link staying up if that happens between two checks. The kernel
	// gives it the lowest free unit: feth0 again.
	e.k.create("feth") // feth2, someone else's
	e.k.destroy("feth0")
	waitFor(t, "feth0 re-created", func() bool { return strings.HasPrefix(e.k.state("feth0"), "feth peer=feth1 up") })
	inBridge("feth0", "bridge1")
	if got := e.k.state("feth1"); got != "feth peer=feth0 up mtu=1500" {
		t.Errorf("feth1: %s", got)
	}
	e.waitState(t, port, "up")
	// When feth0 is taken meanwhile, the next free unit.
	e.k.replace("feth0") // destroyed, and someone else's feth0 made
	waitFor(t, "feth3 re-created", func() bool { return strings.HasPrefix(e.k.state("feth3"), "feth peer=feth1 up") })
	inBridge("feth3", "bridge1")
	if m := member(); m != "feth3" {
		t.Errorf("recorded member %s", m)
	}

	// Re-creating failing: down until it works.
	e.k.fail("create", "feth", syscall.ENOSPC)
	e.k.destroy("feth3")
	e.waitState(t, port, "down (interface feth3 deleted)")
	e.settle()
	e.waitState(t, port, "down (interface feth3 deleted)")
	if rs := e.records(t); len(rs) != 1 || rs[0].Member != "" || rs[0].Switched != "feth1" {
		t.Errorf("records while the member is lost: %+v", rs)
	}
	mark = e.mark()
	e.k.fail("create", "feth", nil)
	e.waitUp(t, mark, port, "interface feth3 re-created and joined to bridge bridge1")
	if m := member(); m != "feth3" {
		t.Errorf("recorded member %s", m)
	}

	// The switched port's own link: down while it is, whatever the
	// bridge side does.
	sw := e.switched(0)
	sw.SetLink(false, "interface feth1 gone from bpf")
	e.waitState(t, port, "down (interface feth1 gone from bpf)")
	e.k.destroy("bridge1")
	e.waitState(t, port, "down (bridge bridge1 deleted)")
	sw.SetLink(true, "bpf back")
	e.settle()
	e.waitState(t, port, "down (bridge bridge1 deleted)")
	mark = e.mark()
	e.k.addBridge("bridge1", 1500)
	e.waitUp(t, mark, port, "bridge bridge1 back")

	// The switched end destroyed: down for good.
	e.k.destroy("feth1")
	e.waitState(t, port, "down (interface feth1 deleted)")

	if err := e.f.Detach(port); err != nil {
		t.Fatal(err)
	}
	if got := e.k.feths(); !slices.Equal(got, []string{"feth0", "feth2"}) {
		t.Errorf("feths after detach: %v", got)
	}
	if rs := e.records(t); len(rs) != 0 {
		t.Errorf("records %+v", rs)
	}
}

func TestMacCloseFailure(t *testing.T) {
	e := newMacEnv(t)
	e.k.addBridge("bridge1", 1500)
	if _, err := e.f.Open("feth:bridge1"); err != nil {
		t.Fatal(err)
	}
	e.k.fail("destroy", "feth0", syscall.EBUSY)
	if err := e.f.Detach("feth-bridge1"); err != nil {
		t.Fatal(err)
	}
	// feth1 went, feth0 could not: the record stays for the next start.
	if got := e.k.feths(); !slices.Equal(got, []string{"feth0"}) {
		t.Errorf("feths %v", got)
	}
	rs := e.records(t)
	if len(rs) != 1 || rs[0].Member != "feth0" {
		t.Errorf("records %+v", rs)
	}
	e.k.fail("destroy", "feth0", nil)
	other := self(os.Getpid(), "boot-1") // the next run, given the same PID
	if err := e.sys.store.cleanUp(e.k, other); err != nil {
		t.Fatal(err)
	}
	if got := e.k.feths(); len(got) != 0 {
		t.Errorf("feths %v", got)
	}
}

// TestMacPortClose checks the port on its own: Close closes the switched
// port even while it waits to report a link change, and closes the
// events channel.
func TestMacPortClose(t *testing.T) {
	k := newFakeKernel()
	k.addBridge("bridge1", 1500)
	log, _ := testLogger(t)
	store := &pairStore{path: filepath.Join(t.TempDir(), recordFile), log: log}
	m := &pairMaker{ops: k, store: store, self: self(1, "b"), log: log}
	pair, err := m.createPair("bridge1", "feth", 0)
	if err != nil {
		t.Fatal(err)
	}
	sw := &fakeSwitched{FilterPort: fabrictest.NewFilter(8)}
	p, err := newFethPort(sw, m, pair, k.feed, log)
	if err != nil {
		t.Fatal(err)
	}
	port, err := p.port()
	if err != nil {
		t.Fatal(err)
	}
	if f, ok := port.(fabric.AddressFilter); !ok {
		t.Error("the port hides the switched port's address filter")
	} else {
		f.SetRemoteMACs([]frames.MAC{{2, 0, 0, 0, 0, 1}})
		if got, _ := sw.Remote(); len(got) != 1 {
			t.Errorf("SetRemoteMACs not delegated: the switched port has %v", got)
		}
	}
	if d, ok := port.(fabric.RxDropper); port.BatchSize() != 8 || !ok || d.RxDropped() != 7 {
		t.Error("BatchSize or RxDropped not delegated")
	}
	// Link changes nobody reads fill the port's channel, then the
	// switched port's: both wait to send.
	k.destroy("bridge1")
	sent := make(chan struct{})
	go func() {
		defer close(sent)
		for i := range 40 {
			sw.SetLink(i%2 == 1, strconv.Itoa(i))
		}
	}()
	time.Sleep(50 * time.Millisecond)
	done := make(chan error)
	go func() { done <- port.Close() }()
	select {
	case err := <-done:
		if err != nil {
			t.Error(err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Close hangs")
	}
	select {
	case <-sent:
	case <-time.After(5 * time.Second):
		t.Fatal("the switched port still waits to send")
	}
	l, ok := port.(fabric.Linker)
	if !ok {
		t.Fatal("the port is not a Linker")
	}
	for range l.LinkEvents() {
	}
	if !sw.Closed() || len(k.feths()) != 0 {
		t.Errorf("closed %v, feths %v", sw.Closed(), k.feths())
	}
	if port.Close() != nil {
		t.Error("second Close")
	}
}
