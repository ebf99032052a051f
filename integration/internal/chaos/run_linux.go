//go:build linux

package chaos

import (
	"context"
	crand "crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/l2fabric/l2fabric/fabric"
	"github.com/l2fabric/l2fabric/fabric/control"
)

// Bounds of the invariants.
const (
	// flowBound: a flow between VMs that stay must deliver within this.
	flowBound = 3 * time.Second
	// restartGrace excuses stalled flows after the daemon restarts.
	restartGrace = 8 * time.Second
	// checkpointEvery is how often the run pauses to check the books and
	// sample resources.
	checkpointEvery = 15 * time.Second
	// minRestartGap spaces kill -9 restarts.
	minRestartGap = 30 * time.Second
	// Margins of "flat", from an instance's first checkpoint to any
	// later one, in the same state (no transient VMs, no loop): the
	// goroutines and descriptors of a few ports still going, and RSS
	// the Go runtime has not yet returned.
	slackGoroutines = 25
	slackFDs        = 25
	slackRSSKiB     = 64 << 10
)

// readyLine is what the daemon logs once every --port is open.
const readyLine = "l2fabric running"

// etherFlow is the EtherType of the steady flows' frames.
const etherFlow = 0x88b6

// Run runs the chaos for cfg.Duration, then stops the daemon with SIGTERM
// and checks what it left. It returns the report, whose Problems say what
// did not hold, and an error only if the run itself could not be set up.
func Run(ctx context.Context, cfg Config) (*Report, error) {
	if os.Geteuid() != 0 {
		return nil, errors.New("the chaos run needs root, for network namespaces")
	}
	if cfg.Logf == nil {
		cfg.Logf = func(string, ...any) {}
	}
	if cfg.Seed == 0 {
		cfg.Seed = time.Now().UnixNano()
	}
	dir, err := os.MkdirTemp("/tmp", "l2fchaos")
	if err != nil {
		return nil, err
	}
	r := &run{
		cfg: cfg, dir: dir, rnd: rand.New(rand.NewSource(cfg.Seed)),
		rep: &Report{Seed: cfg.Seed, Actions: map[string]int{}}, start: time.Now(),
	}
	defer os.RemoveAll(dir)
	defer r.teardownNetwork()
	if err := r.setupNetwork(); err != nil {
		return r.rep, err
	}
	if err := r.startDaemon(); err != nil {
		return r.rep, err
	}
	if err := r.startStayers(); err != nil {
		r.d.kill()
		return r.rep, err
	}
	r.chaos(ctx)
	r.finish()
	return r.rep, nil
}

// run is one chaos run.
type run struct {
	cfg   Config
	dir   string
	rnd   *rand.Rand // the chaos goroutine's only
	rep   *Report
	start time.Time
	mu    sync.Mutex // guards rep.Problems

	sw, lan, hc string // namespaces: the switch's, the LAN's (br0), vc's host
	d           *daemon
	instance    int
	lastRestart time.Time

	// Steady traffic.
	flows      []*flow
	vms        map[string]*stayer
	paused     atomic.Bool
	graceUntil atomic.Int64 // unix ns
	stopFlows  chan struct{}
	flowsDone  sync.WaitGroup

	// Chaos state.
	loop, tapOut, vcGone bool
	transient            int
	base                 *Sample       // the current instance's first checkpoint
	pendingSP            *net.UnixConn // the socketpair VM's socket, before startStayers
}

func (r *run) logf(format string, args ...any) {
	r.cfg.Logf("%6.1fs "+format, append([]any{time.Since(r.start).Seconds()}, args...)...)
}

func (r *run) problem(format string, args ...any) {
	msg := fmt.Sprintf("%.1fs: ", time.Since(r.start).Seconds()) + fmt.Sprintf(format, args...)
	r.mu.Lock()
	r.rep.Problems = append(r.rep.Problems, msg)
	r.mu.Unlock()
	r.cfg.Logf("PROBLEM %s", msg)
}

// ---------------------------------------------------------------------------
// The network: sw holds the daemon with host ports va, vb, vc and its TAP
// tapc (with a bridge brt to pull it from); lan holds br0 (STP off) with
// va's and, when looped, vb's peers, and a host; hc is vc's host.

func ipCmd(args ...string) error {
	out, err := exec.Command("ip", args...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("ip %s: %v: %s", strings.Join(args, " "), err, strings.TrimSpace(string(out)))
	}
	return nil
}

func nsIP(ns string, args ...string) error { return ipCmd(append([]string{"-n", ns}, args...)...) }

func (r *run) setupNetwork() error {
	var b [3]byte
	crand.Read(b[:])
	tag := hex.EncodeToString(b[:])
	r.sw, r.lan, r.hc = "l2fc-sw-"+tag, "l2fc-lan-"+tag, "l2fc-hc-"+tag
	steps := [][]string{
		{"netns", "add", r.sw}, {"netns", "add", r.lan}, {"netns", "add", r.hc},
		{"-n", r.sw, "link", "set", "lo", "up"},
		{"-n", r.lan, "link", "add", "br0", "type", "bridge", "stp_state", "0"},
		{"-n", r.lan, "link", "set", "br0", "up"},
		{"link", "add", "va", "netns", r.sw, "type", "veth", "peer", "name", "pa", "netns", r.lan},
		{"link", "add", "vb", "netns", r.sw, "type", "veth", "peer", "name", "pb", "netns", r.lan},
		{"link", "add", "h0", "netns", r.lan, "type", "veth", "peer", "name", "ph", "netns", r.lan},
		{"-n", r.lan, "link", "set", "pa", "master", "br0"},
		{"-n", r.lan, "link", "set", "ph", "master", "br0"},
		{"-n", r.lan, "addr", "add", "198.18.20.2/24", "dev", "h0"},
		{"-n", r.sw, "link", "add", "brt", "type", "bridge", "stp_state", "0"},
		{"-n", r.sw, "link", "set", "brt", "up"},
	}
	for _, l := range []struct{ ns, dev string }{{r.sw, "va"}, {r.sw, "vb"}, {r.lan, "pa"}, {r.lan, "pb"}, {r.lan, "ph"}, {r.lan, "h0"}} {
		steps = append(steps, []string{"-n", l.ns, "link", "set", l.dev, "up"})
	}
	for _, s := range steps {
		if err := ipCmd(s...); err != nil {
			return err
		}
	}
	return r.makeVC()
}

// makeVC (re-)creates vc, the interface behind the host port vc, cabled
// to hc.
func (r *run) makeVC() error {
	for _, s := range [][]string{
		{"link", "add", "vc", "netns", r.sw, "type", "veth", "peer", "name", "eth0", "netns", r.hc},
		{"-n", r.sw, "link", "set", "vc", "up"},
		{"-n", r.hc, "link", "set", "eth0", "up"},
	} {
		if err := ipCmd(s...); err != nil {
			return err
		}
	}
	return nil
}

func (r *run) teardownNetwork() {
	for _, ns := range []string{r.sw, r.lan, r.hc} {
		if ns != "" {
			exec.Command("ip", "netns", "del", ns).Run()
		}
	}
}

// ---------------------------------------------------------------------------
// The daemon.

type daemon struct {
	cmd      *exec.Cmd
	pid      int
	ctl      string
	logPath  string
	done     chan struct{}
	killed   atomic.Bool
	instance int
}

func (r *run) listenPath() string { return filepath.Join(r.dir, "x.sock") }

// streamPath is the daemon's stream listening socket (socket_vmnet's
// protocol).
func (r *run) streamPath() string { return filepath.Join(r.dir, "st.sock") }

// startDaemon starts l2fabric in sw with its ports and a socketpair VM.
func (r *run) startDaemon() error {
	r.instance++
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return err
	}
	theirs := os.NewFile(uintptr(fds[1]), "socketpair-daemon")
	mine := os.NewFile(uintptr(fds[0]), "socketpair-vm")
	d := &daemon{ctl: filepath.Join(r.dir, "ctl.sock"), done: make(chan struct{}), instance: r.instance,
		logPath: filepath.Join(r.dir, fmt.Sprintf("daemon-%d.log", r.instance))}
	logf, err := os.Create(d.logPath)
	if err != nil {
		return err
	}
	args := []string{"netns", "exec", r.sw, r.cfg.Bin, "--control", d.ctl, "--log-level", "info",
		"--port", "dgram:" + r.listenPath(), "--port", "host:va", "--port", "host:vb", "--port", "host:vc",
		"--port", "tap:tapc", "--port", "dgram:fd=3,name=sp", "--port", "stream:" + r.streamPath()}
	d.cmd = exec.Command("ip", args...)
	d.cmd.ExtraFiles = []*os.File{theirs}
	d.cmd.Stdout, d.cmd.Stderr = logf, logf
	if err := d.cmd.Start(); err != nil {
		logf.Close()
		return err
	}
	theirs.Close()
	d.pid = d.cmd.Process.Pid
	go func() { d.cmd.Wait(); logf.Close(); close(d.done) }()
	r.d = d
	// The control socket answers before the ports are open: the log
	// line the daemon writes once they are is what says it is ready.
	deadline := time.Now().Add(10 * time.Second)
	for {
		if b, _ := os.ReadFile(d.logPath); strings.Contains(string(b), readyLine) && d.call("version", nil, nil) == nil {
			break
		}
		select {
		case <-d.done:
			return fmt.Errorf("l2fabric exited at start: %s", tail(d.logPath))
		default:
		}
		if time.Now().After(deadline) {
			d.kill()
			return fmt.Errorf("l2fabric not answering 10 s after start: %s", tail(d.logPath))
		}
		time.Sleep(50 * time.Millisecond)
	}
	c, err := net.FileConn(mine)
	mine.Close()
	if err != nil {
		return err
	}
	if sp := r.vms["sp"]; sp != nil {
		sp.setConn(c.(*net.UnixConn))
	} else {
		r.pendingSP = c.(*net.UnixConn)
	}
	r.base = nil
	r.lastRestart = time.Now()
	r.tapOut = true // a new TAP is in no bridge
	r.logf("daemon %d started, pid %d", r.instance, d.pid)
	return nil
}

// tail returns the end of a log file, for error messages.
func tail(path string) string {
	b, _ := os.ReadFile(path)
	if len(b) > 4000 {
		b = b[len(b)-4000:]
	}
	return string(b)
}

// call runs one control request.
func (d *daemon) call(command string, args, result any) error {
	c, err := net.DialTimeout("unix", d.ctl, 2*time.Second)
	if err != nil {
		return err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	req := control.Request{Command: command}
	if args != nil {
		if req.Args, err = json.Marshal(args); err != nil {
			return err
		}
	}
	if err := json.NewEncoder(c).Encode(req); err != nil {
		return err
	}
	var resp control.Response
	if err := json.NewDecoder(c).Decode(&resp); err != nil {
		return err
	}
	if !resp.OK {
		return errors.New(resp.Error)
	}
	if result != nil {
		return json.Unmarshal(resp.Result, result)
	}
	return nil
}

func (d *daemon) kill() {
	d.killed.Store(true)
	d.cmd.Process.Kill()
	<-d.done
}

func (d *daemon) exited() bool {
	select {
	case <-d.done:
		return true
	default:
		return false
	}
}

// ---------------------------------------------------------------------------
// VMs that stay, and their flows.

// stayer is a VM attached for the whole run: a listener client with an
// unconnected socket (qemu -netdev dgram's shape, which outlives daemon
// restarts), or the socketpair VM, whose socket is replaced at each
// restart.
type stayer struct {
	name string
	mac  [6]byte
	conn atomic.Pointer[net.UnixConn]
	to   *net.UnixAddr // the listening socket; nil for the socketpair
}

func (s *stayer) setConn(c *net.UnixConn) {
	if old := s.conn.Swap(c); old != nil {
		old.Close()
	}
}

// flow is frames from one stayer to another, with the last delivery.
type flow struct {
	id       byte
	from, to *stayer
	seq      uint64
	lastRx   atomic.Int64 // unix ns
}

func (r *run) startStayers() error {
	r.vms = map[string]*stayer{}
	r.stopFlows = make(chan struct{})
	for i, name := range []string{"s1", "s2"} {
		s := &stayer{name: name, mac: [6]byte{0x02, 0xc0, 0, 0, 0, byte(i + 1)}, to: &net.UnixAddr{Name: r.listenPath(), Net: "unixgram"}}
		c, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: filepath.Join(r.dir, name+".sock"), Net: "unixgram"})
		if err != nil {
			return err
		}
		c.SetReadBuffer(4 << 20)
		s.setConn(c)
		r.vms[name] = s
	}
	sp := &stayer{name: "sp", mac: [6]byte{0x02, 0xc0, 0, 0, 0, 3}}
	sp.setConn(r.pendingSP)
	r.pendingSP = nil
	r.vms["sp"] = sp
	s1, s2 := r.vms["s1"], r.vms["s2"]
	r.flows = []*flow{{id: 1, from: s1, to: s2}, {id: 2, from: s2, to: s1}, {id: 3, from: sp, to: s1}, {id: 4, from: s1, to: sp}}
	now := time.Now().UnixNano()
	for _, f := range r.flows {
		f.lastRx.Store(now)
	}
	for _, s := range r.vms {
		r.flowsDone.Add(1)
		go r.receive(s)
	}
	r.flowsDone.Add(2)
	go r.send()
	go r.watchFlows()
	return nil
}

// send sends one frame of every flow every 10 ms, unless paused.
func (r *run) send() {
	defer r.flowsDone.Done()
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	buf := make([]byte, 60)
	for {
		select {
		case <-r.stopFlows:
			return
		case <-tick.C:
		}
		if r.paused.Load() {
			continue
		}
		for _, f := range r.flows {
			f.seq++
			copy(buf[0:6], f.to.mac[:])
			copy(buf[6:12], f.from.mac[:])
			binary.BigEndian.PutUint16(buf[12:], etherFlow)
			buf[14] = f.id
			binary.BigEndian.PutUint64(buf[15:], f.seq)
			c := f.from.conn.Load()
			if f.from.to != nil {
				c.WriteToUnix(buf, f.from.to) // errors: the daemon is restarting
			} else {
				c.Write(buf)
			}
		}
	}
}

// receive notes the flows' frames s receives.
func (r *run) receive(s *stayer) {
	defer r.flowsDone.Done()
	buf := make([]byte, 1<<16)
	for {
		c := s.conn.Load()
		n, err := c.Read(buf)
		if err != nil {
			select {
			case <-r.stopFlows:
				return
			default:
			}
			if c == s.conn.Load() {
				time.Sleep(10 * time.Millisecond) // not replaced yet
			}
			continue
		}
		if n >= 23 && binary.BigEndian.Uint16(buf[12:]) == etherFlow && [6]byte(buf[0:6]) == s.mac {
			id := buf[14]
			for _, f := range r.flows {
				if f.id == id && f.to == s {
					f.lastRx.Store(time.Now().UnixNano())
				}
			}
		}
	}
}

// watchFlows reports a flow that delivers nothing for flowBound, outside
// pauses and the grace after a restart.
func (r *run) watchFlows() {
	defer r.flowsDone.Done()
	tick := time.NewTicker(250 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-r.stopFlows:
			return
		case <-tick.C:
		}
		now := time.Now()
		if r.paused.Load() || now.UnixNano() < r.graceUntil.Load() {
			for _, f := range r.flows {
				f.lastRx.Store(now.UnixNano())
			}
			continue
		}
		for _, f := range r.flows {
			if quiet := now.Sub(time.Unix(0, f.lastRx.Load())); quiet > flowBound {
				r.problem("flow %s -> %s delivered nothing for %v", f.from.name, f.to.name, quiet.Round(time.Millisecond))
				f.lastRx.Store(now.UnixNano())
			}
		}
	}
}

// resume restarts the flows' clocks after a pause.
func (r *run) resume() {
	now := time.Now().UnixNano()
	for _, f := range r.flows {
		f.lastRx.Store(now)
	}
	r.paused.Store(false)
}

// ---------------------------------------------------------------------------
// The chaos.

// chaos runs random actions until the duration is over or ctx ends, with a
// checkpoint every checkpointEvery.
func (r *run) chaos(ctx context.Context) {
	end := r.start.Add(r.cfg.Duration)
	nextCheck := time.Now().Add(checkpointEvery)
	type action struct {
		name   string
		weight int
		do     func()
	}
	actions := []action{
		{"vm-vanish", 4, func() { r.transientVM("vanish") }},
		{"vm-crash", 2, func() { r.transientVM("crash") }},
		{"garbage", 2, func() { r.transientVM("garbage") }},
		{"mac-flood", 1, func() { r.transientVM("flood") }},
		{"stream-vm", 2, r.streamVM},
		{"listener", 1, r.listenerAttachDetach},
		{"iface", 1, r.toggleVC},
		{"tap", 1, r.toggleTap},
		{"loop", 1, r.toggleLoop},
	}
	total := 0
	for _, a := range actions {
		total += a.weight
	}
	for time.Now().Before(end) && ctx.Err() == nil {
		if r.d.exited() {
			r.problem("l2fabric exited on its own: %s", tail(r.d.logPath))
			r.restart(false)
		}
		if time.Now().After(nextCheck) {
			r.checkpoint()
			nextCheck = time.Now().Add(checkpointEvery)
			continue
		}
		if time.Since(r.lastRestart) > minRestartGap && r.rnd.Intn(60) == 0 {
			r.restart(true)
			continue
		}
		n := r.rnd.Intn(total)
		for _, a := range actions {
			if n < a.weight {
				r.rep.Actions[a.name]++
				a.do()
				break
			}
			n -= a.weight
		}
		time.Sleep(time.Duration(100+r.rnd.Intn(400)) * time.Millisecond)
	}
}

// restart kills the daemon with SIGKILL (when kill) and starts it again.
func (r *run) restart(kill bool) {
	r.rep.Actions["kill-9"]++
	r.graceUntil.Store(time.Now().Add(restartGrace).UnixNano())
	if kill {
		r.d.kill()
	}
	// A host port's interface must exist when the daemon starts (it
	// refuses a missing one, naming what exists): put vc back first.
	if r.vcGone {
		r.toggleVC()
	}
	r.rep.Restarts++
	if err := r.startDaemon(); err != nil {
		r.problem("restart: %v", err)
		return
	}
	r.graceUntil.Store(time.Now().Add(restartGrace).UnixNano())
}

// transientVM attaches a vfkit-like VM that does what kind says and goes:
// sends a few frames and vanishes (socket closed and removed), or crashes
// (socket closed, file left), or sends garbage, or floods random source
// MACs.
func (r *run) transientVM(kind string) {
	r.transient++
	path := filepath.Join(r.dir, fmt.Sprintf("t%d.sock", r.transient))
	defer os.Remove(path) // a crashed VM's file is the VM's to clean, not the daemon's
	c, err := net.DialUnix("unixgram", &net.UnixAddr{Name: path, Net: "unixgram"}, &net.UnixAddr{Name: r.listenPath(), Net: "unixgram"})
	if err != nil {
		return // the daemon is restarting (the bound file stays: removed above)
	}
	defer c.Close()
	c.Write([]byte("VFKT"))
	src := [6]byte{0x02, 0xd0, 0, 0, byte(r.transient >> 8), byte(r.transient)}
	frame := func(dst [6]byte, n int) []byte {
		b := make([]byte, n)
		copy(b, dst[:])
		copy(b[6:], src[:])
		binary.BigEndian.PutUint16(b[12:], etherFlow)
		return b
	}
	bcast := [6]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}
	switch kind {
	case "vanish", "crash":
		for i := range 1 + r.rnd.Intn(50) {
			dst := bcast
			if i%2 == 1 {
				dst = r.vms["s1"].mac
			}
			c.Write(frame(dst, 60+r.rnd.Intn(1400)))
		}
	case "garbage":
		for range 200 {
			b := make([]byte, r.rnd.Intn(2000))
			r.rnd.Read(b)
			c.Write(b)
		}
	case "flood":
		for range 3000 {
			b := frame(bcast, 60)
			r.rnd.Read(b[6:12])
			b[6] &^= 1 // unicast sources
			c.Write(b)
		}
	}
}

// streamVM connects to the stream listening socket as socket_vmnet's
// clients do, sends a few length-prefixed frames (sometimes a bad prefix,
// which ends the connection) and hangs up, sometimes in the middle of a
// frame.
func (r *run) streamVM() {
	c, err := net.DialTimeout("unix", r.streamPath(), time.Second)
	if err != nil {
		return // the daemon is restarting
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(2 * time.Second))
	r.transient++
	src := [6]byte{0x02, 0xd1, 0, 0, byte(r.transient >> 8), byte(r.transient)}
	for i := range 1 + r.rnd.Intn(30) {
		n := 60 + r.rnd.Intn(1400)
		b := make([]byte, 4+n)
		binary.BigEndian.PutUint32(b, uint32(n))
		copy(b[4:], []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff})
		copy(b[10:], src[:])
		binary.BigEndian.PutUint16(b[16:], etherFlow)
		last := false
		switch {
		case i == 5 && r.rnd.Intn(4) == 0:
			binary.BigEndian.PutUint32(b, 3) // a runt prefix: the connection ends
			last = true
		case i == 7 && r.rnd.Intn(4) == 0:
			b = b[:4+n/2] // hang up mid-frame
			last = true
		}
		if _, err := c.Write(b); err != nil || last {
			return
		}
	}
}

// listenerAttachDetach attaches a second listening socket at run time,
// sends through two of its clients and detaches it.
func (r *run) listenerAttachDetach() {
	y := filepath.Join(r.dir, "y.sock")
	if err := r.d.call("attach", control.AttachArgs{Spec: "dgram:" + y}, nil); err != nil {
		if !r.d.exited() {
			r.problem("attach dgram:%s: %v", y, err)
		}
		return
	}
	for i := range 2 {
		p := filepath.Join(r.dir, fmt.Sprintf("y%d.sock", i))
		c, err := net.DialUnix("unixgram", &net.UnixAddr{Name: p, Net: "unixgram"}, &net.UnixAddr{Name: y, Net: "unixgram"})
		if err != nil {
			os.Remove(p)
			r.problem("client of y: %v", err)
			continue
		}
		b := make([]byte, 60)
		copy(b, []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02, 0xe0, 0, 0, 0, byte(i)})
		c.Write(b)
		c.Close()
		os.Remove(p)
	}
	time.Sleep(50 * time.Millisecond)
	if err := r.d.call("detach", control.DetachArgs{Name: "y"}, nil); err != nil && !r.d.exited() {
		r.problem("detach y: %v", err)
	}
	if _, err := os.Lstat(y); err == nil {
		r.problem("detach y left %s behind", y)
	}
}

// toggleVC deletes the interface behind host port vc, or re-creates it.
func (r *run) toggleVC() {
	if r.vcGone {
		if err := r.makeVC(); err != nil {
			r.problem("re-creating vc: %v", err)
			return
		}
	} else if err := nsIP(r.sw, "link", "del", "vc"); err != nil {
		r.problem("deleting vc: %v", err)
		return
	}
	r.vcGone = !r.vcGone
}

// toggleTap pulls the daemon's TAP from brt, or puts it back.
func (r *run) toggleTap() {
	master := "brt"
	if !r.tapOut {
		master = "nomaster"
	}
	args := []string{"link", "set", "tapc", "master", "brt"}
	if master == "nomaster" {
		args = []string{"link", "set", "tapc", "nomaster"}
	}
	if err := nsIP(r.sw, args...); err != nil {
		if !r.d.exited() {
			r.problem("tap: %v", err)
		}
		return
	}
	r.tapOut = !r.tapOut
}

// toggleLoop makes a loop (vb's peer joins br0, where va's is) or removes
// it.
func (r *run) toggleLoop() {
	args := []string{"link", "set", "pb", "master", "br0"}
	if r.loop {
		args = []string{"link", "set", "pb", "nomaster"}
	}
	if err := nsIP(r.lan, args...); err != nil {
		r.problem("loop: %v", err)
		return
	}
	r.loop = !r.loop
}

// normalize brings the network back to its starting state: no loop, vc
// present, the TAP out of its bridge.
func (r *run) normalize() {
	if r.loop {
		r.toggleLoop()
	}
	if r.vcGone {
		r.toggleVC()
	}
	if !r.tapOut {
		r.toggleTap()
	}
}

// ---------------------------------------------------------------------------
// Checkpoints.

// checkpoint pauses the traffic, checks the books and samples resources.
func (r *run) checkpoint() {
	r.rep.Checkpoints++
	r.paused.Store(true)
	defer r.resume()
	r.normalize()
	time.Sleep(300 * time.Millisecond)
	var st fabric.Stats
	deadline := time.Now().Add(10 * time.Second)
	for {
		err := r.d.call("stats", nil, &st)
		if err == nil && st.Unaccounted() == 0 {
			break
		}
		if time.Now().After(deadline) {
			if err != nil {
				r.problem("stats: %v", err)
			} else {
				r.problem("books do not balance: %d frames read unaccounted for (rx %d, forwarded %d, flooded %d, filtered %d, probes %d, rx drops %d)",
					st.Unaccounted(), st.Totals.RxFrames, st.Fabric.Forwarded, st.Fabric.Flooded, st.Fabric.Filtered, st.Totals.Probes, st.Totals.RxDrops())
			}
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	var dbg control.DebugResult
	if err := r.d.call("debug", nil, &dbg); err != nil {
		r.problem("debug: %v", err)
		return
	}
	s := Sample{At: time.Since(r.start), Instance: r.instance, Goroutines: dbg.Goroutines,
		FDs: countFDs(r.d.pid), RSSKiB: rssKiB(r.d.pid), HeapKiB: int(dbg.HeapAlloc >> 10), Ports: st.Ports, Detached: st.Detached, RxFrames: st.Totals.RxFrames}
	r.rep.Samples = append(r.rep.Samples, s)
	r.logf("checkpoint: daemon %d: %d goroutines, %d fds, RSS %d KiB (heap %d KiB), %d ports, %d detached, %d frames read; books balance",
		s.Instance, s.Goroutines, s.FDs, s.RSSKiB, s.HeapKiB, s.Ports, s.Detached, s.RxFrames)
	if r.base == nil {
		r.base = &s
		return
	}
	b := r.base
	if s.Goroutines > b.Goroutines+slackGoroutines {
		r.problem("goroutines grew from %d to %d", b.Goroutines, s.Goroutines)
	}
	if s.FDs > b.FDs+slackFDs {
		r.problem("file descriptors grew from %d to %d", b.FDs, s.FDs)
	}
	if s.RSSKiB > 2*b.RSSKiB+slackRSSKiB {
		r.problem("RSS grew from %d KiB to %d KiB", b.RSSKiB, s.RSSKiB)
	}
}

func countFDs(pid int) int {
	es, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
	if err != nil {
		return -1
	}
	return len(es)
}

func rssKiB(pid int) int {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return -1
	}
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "VmRSS:"); ok {
			n, _ := strconv.Atoi(strings.TrimSuffix(strings.TrimSpace(v), " kB"))
			return n
		}
	}
	return -1
}

// ---------------------------------------------------------------------------
// The end.

// finish runs a last checkpoint, stops the traffic, stops the daemon with
// SIGTERM and checks that it exited 0 and left nothing behind.
func (r *run) finish() {
	r.checkpoint()
	close(r.stopFlows)
	for _, s := range r.vms {
		s.conn.Load().Close()
	}
	r.flowsDone.Wait()
	d := r.d
	d.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-d.done:
	case <-time.After(15 * time.Second):
		r.problem("l2fabric did not exit within 15 s of SIGTERM")
		d.kill()
	}
	if code := d.cmd.ProcessState.ExitCode(); code != 0 {
		r.problem("l2fabric exited with status %d after SIGTERM", code)
	}
	for _, n := range []string{"x.sock", "y.sock", "st.sock", "ctl.sock"} {
		if _, err := os.Lstat(filepath.Join(r.dir, n)); err == nil {
			r.problem("after SIGTERM %s is still there", n)
		}
	}
	if err := nsIP(r.sw, "link", "show", "tapc"); err == nil {
		r.problem("after SIGTERM the TAP tapc is still there")
	}
	for i := 1; i <= r.instance; i++ {
		log := tail(filepath.Join(r.dir, fmt.Sprintf("daemon-%d.log", i)))
		for _, bad := range []string{"panic:", "DATA RACE", "fatal error:"} {
			if strings.Contains(log, bad) {
				r.problem("daemon %d's log has %q: %s", i, bad, log)
			}
		}
	}
	entries, _ := os.ReadDir(r.dir)
	var left []string
	for _, e := range entries {
		if !strings.HasSuffix(e.Name(), ".log") && !slices.Contains([]string{"s1.sock", "s2.sock"}, e.Name()) {
			left = append(left, e.Name())
		}
	}
	if len(left) > 0 {
		r.problem("files left in the run's directory: %v", left)
	}
}
