package integration

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

const (
	// waitTimeout bounds every wait for a frame or for the daemon to reach
	// a state, so that a broken switch fails a test instead of hanging it.
	waitTimeout = 5 * time.Second
	// startTimeout bounds the daemon's start and stop, and every client
	// command.
	startTimeout = 10 * time.Second

	// etherTest is the EtherType of the frames tests send; their payload
	// starts with a 64-bit frame ID.
	etherTest = 0x88b6
	// etherMarker is the EtherType of the broadcast marker frames that
	// order observations (see lan.fence); their payload starts with a
	// 64-bit sequence number.
	etherMarker = 0x88b5

	// readyLine is what the daemon logs once every --port is open.
	readyLine = "l2fabric running"
)

// ---------------------------------------------------------------------------
// Temporary directories and running the binary.

// shortTempDir makes a directory with a short path (unix socket paths must
// be under 104 bytes, and t.TempDir's can be longer) and removes it when
// the test ends.
func shortTempDir(t testing.TB) string {
	t.Helper()
	base := os.TempDir()
	if len(base) > 40 {
		base = "/tmp"
	}
	dir, err := os.MkdirTemp(base, "l2f")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	return dir
}

// cmdResult is how a run of the binary ended.
type cmdResult struct {
	stdout, stderr string
	code           int
}

// String describes the result for failure messages.
func (r cmdResult) String() string {
	return fmt.Sprintf("exit status %d\nstdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
}

// runBin runs the binary with args to completion (at most startTimeout).
// A run that cannot start or that is killed by the timeout fails the test.
func runBin(t testing.TB, args ...string) cmdResult {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), startTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Env = binEnv()
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	r := cmdResult{stdout: stdout.String(), stderr: stderr.String()}
	var ee *exec.ExitError
	switch {
	case ctx.Err() != nil:
		t.Fatalf("l2fabric %s: still running after %v\n%s", strings.Join(args, " "), startTimeout, r)
	case errors.As(err, &ee):
		r.code = ee.ExitCode()
	case err != nil:
		t.Fatalf("l2fabric %s: %v", strings.Join(args, " "), err)
	}
	return r
}

// binEnv is the environment the binary runs in: the tests' own, with the
// race detector's one-second sleep at exit turned off (the binary is built
// with -race when the tests are, and every client command exits).
func binEnv() []string {
	return append(os.Environ(), "GORACE="+strings.TrimSpace(os.Getenv("GORACE")+" atexit_sleep_ms=0"))
}

// eventually calls check until it returns nil, failing the test with its
// last error if that takes longer than waitTimeout. It waits for the
// daemon to reach a state; it is never a substitute for an ordering proof.
func eventually(t testing.TB, what string, check func() error) {
	t.Helper()
	deadline := time.Now().Add(waitTimeout)
	for {
		err := check()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %v: %v", what, waitTimeout, err)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// ---------------------------------------------------------------------------
// The daemon.

// daemon is a running `l2fabric run`.
type daemon struct {
	t       *testing.T
	ctl     string   // control socket path
	sockets []string // socket files it creates and must remove on exit
	cmd     *exec.Cmd
	log     *logWriter
	done    chan struct{} // closed when the process has exited
	stopped bool
	quiet   bool // do not print the log when the test fails
	// noBooks skips the books check at teardown, for a test that leaves
	// a storm running (loop protection off).
	noBooks bool
}

// logWriter collects the daemon's output and notices the ready line.
type logWriter struct {
	mu    sync.Mutex
	buf   bytes.Buffer
	ready chan struct{}
	seen  bool
}

// Write implements io.Writer.
func (w *logWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf.Write(p)
	if !w.seen && bytes.Contains(w.buf.Bytes(), []byte(readyLine)) {
		w.seen = true
		close(w.ready)
	}
	return len(p), nil
}

// String returns everything written so far.
func (w *logWriter) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.buf.String()
}

// startDaemon runs l2fabric with --control dir/ctl.sock and args and waits
// until it has opened every port. When the test ends the daemon is stopped
// with SIGTERM (unless the test did so) and must exit with status 0 having
// removed its control socket and the listening sockets of its --port
// arguments; its log is printed if the test failed.
func startDaemon(t *testing.T, dir string, args ...string) *daemon {
	t.Helper()
	return startDaemonIn(t, "", dir, args...)
}

// startDaemonIn is startDaemon with the daemon running in the network
// namespace ns (none when ns is empty), as `ip netns exec ns l2fabric ...`.
func startDaemonIn(t *testing.T, ns, dir string, args ...string) *daemon {
	t.Helper()
	d := &daemon{
		t:    t,
		ctl:  filepath.Join(dir, "ctl.sock"),
		log:  &logWriter{ready: make(chan struct{})},
		done: make(chan struct{}),
	}
	d.sockets = append(d.sockets, d.ctl)
	for i, a := range args {
		if a == "--port" && i+1 < len(args) {
			if p := listenPath(args[i+1]); p != "" {
				d.sockets = append(d.sockets, p)
			}
		}
	}
	d.cmd = exec.Command(bin, append([]string{"--control", d.ctl}, args...)...)
	if ns != "" {
		d.cmd = exec.Command("ip", append([]string{"netns", "exec", ns, bin, "--control", d.ctl}, args...)...)
	}
	d.cmd.Stdout, d.cmd.Stderr = d.log, d.log
	d.cmd.Env = binEnv()
	d.cmd.SysProcAttr = daemonSysProcAttr()
	if err := d.cmd.Start(); err != nil {
		t.Fatalf("starting l2fabric: %v", err)
	}
	go func() {
		d.cmd.Wait()
		close(d.done)
	}()
	t.Cleanup(func() {
		if !d.stopped {
			if !t.Failed() && !d.noBooks {
				d.checkBooks()
			}
			d.stopClean()
		}
		if t.Failed() && !d.quiet {
			t.Logf("daemon log:\n%s", d.log)
		}
	})
	select {
	case <-d.log.ready:
	case <-d.done:
		t.Fatalf("l2fabric exited at start with status %d:\n%s", d.cmd.ProcessState.ExitCode(), d.log)
	case <-time.After(startTimeout):
		t.Fatalf("l2fabric did not log %q within %v:\n%s", readyLine, startTimeout, d.log)
	}
	return d
}

// listenPath returns the socket path of a dgram or stream listener spec
// (dgram:PATH[,...], stream:PATH[,...]), or "" for other specs.
func listenPath(spec string) string {
	arg, ok := strings.CutPrefix(spec, "dgram:")
	if !ok {
		arg, ok = strings.CutPrefix(spec, "stream:")
	}
	if !ok {
		return ""
	}
	arg, _, _ = strings.Cut(arg, ",")
	if strings.Contains(arg, "=") {
		return ""
	}
	return arg
}

// stop sends SIGTERM and returns the exit status.
func (d *daemon) stop() int {
	d.t.Helper()
	d.stopped = true
	if err := d.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		select {
		case <-d.done:
		default:
			d.t.Fatalf("signalling l2fabric: %v", err)
		}
	}
	select {
	case <-d.done:
	case <-time.After(startTimeout):
		d.cmd.Process.Kill()
		<-d.done
		d.t.Fatalf("l2fabric did not exit within %v of SIGTERM", startTimeout)
	}
	return d.cmd.ProcessState.ExitCode()
}

// stopClean stops the daemon and checks that it exited with status 0 and
// removed every socket file it created.
func (d *daemon) stopClean() {
	d.t.Helper()
	if code := d.stop(); code != 0 {
		d.t.Errorf("l2fabric exited with status %d after SIGTERM, want 0", code)
	}
	if strings.Contains(d.log.String(), "WARNING: DATA RACE") {
		d.t.Errorf("the race detector found a data race in l2fabric (see its log)")
	}
	for _, p := range d.sockets {
		if _, err := os.Lstat(p); !errors.Is(err, os.ErrNotExist) {
			hint := ""
			if p != d.ctl {
				hint = " (if only now and then: a shutdown race, see TestShutdownAlwaysRemovesListeningSockets)"
			}
			d.t.Errorf("after exit, %s is still there (Lstat: %v)%s", p, err, hint)
		}
	}
}

// cli runs a client command against the daemon.
func (d *daemon) cli(args ...string) cmdResult {
	d.t.Helper()
	return runBin(d.t, append(args, "--control", d.ctl)...)
}

// mustCLI runs a client command that must succeed and returns its stdout.
func (d *daemon) mustCLI(args ...string) string {
	d.t.Helper()
	r := d.cli(args...)
	if r.code != 0 {
		d.t.Fatalf("l2fabric %s: %s", strings.Join(args, " "), r)
	}
	return r.stdout
}

// jsonCLI runs a client command and decodes its stdout into v.
func (d *daemon) jsonCLI(v any, args ...string) error {
	d.t.Helper()
	r := d.cli(args...)
	if r.code != 0 {
		return fmt.Errorf("l2fabric %s: %s", strings.Join(args, " "), r)
	}
	if err := json.Unmarshal([]byte(r.stdout), v); err != nil {
		return fmt.Errorf("l2fabric %s: bad JSON: %v\n%s", strings.Join(args, " "), err, r.stdout)
	}
	return nil
}

// fdbEntry is one element of `l2fabric fdb --json`.
type fdbEntry struct {
	Port   string  `json:"port"`
	VLAN   int     `json:"vlan"`
	MAC    string  `json:"mac"`
	Static bool    `json:"static"`
	Age    float64 `json:"age_seconds"`
}

// portCounters are the counters of `l2fabric ports --json`.
type portCounters struct {
	RxFrames    uint64 `json:"rx_frames"`
	RxBytes     uint64 `json:"rx_bytes"`
	TxFrames    uint64 `json:"tx_frames"`
	TxBytes     uint64 `json:"tx_bytes"`
	Runt        uint64 `json:"drop_runt"`
	Oversize    uint64 `json:"drop_oversize"`
	LinkLocal   uint64 `json:"drop_link_local"`
	BadSource   uint64 `json:"drop_bad_source"`
	RxBackend   uint64 `json:"drop_rx_backend"`
	TxQueueFull uint64 `json:"drop_tx_queue_full"`
	TxError     uint64 `json:"drop_tx_error"`
	Loop        uint64 `json:"drop_loop"`
	TxLoop      uint64 `json:"drop_tx_loop"`
	Storm       uint64 `json:"drop_storm"`
}

// portInfo is one element of `l2fabric ports --json`.
type portInfo struct {
	Name     string       `json:"name"`
	Kind     string       `json:"kind"`
	Device   string       `json:"device"`
	Info     string       `json:"info"`
	State    string       `json:"state"`
	VLAN     int          `json:"vlan"`
	MTU      int          `json:"mtu"`
	FDB      int          `json:"fdb_entries"`
	Counters portCounters `json:"counters"`
}

// totals are the fabric-wide counters of `l2fabric stats --json`: every
// port's, attached or detached, summed.
type totals struct {
	RxFrames uint64 `json:"rx_frames"`
	TxFrames uint64 `json:"tx_frames"`
	Probes   uint64 `json:"probes_rx"`
	ProbesTx uint64 `json:"probes_tx"`
	// Receive-side drops: of frames the fabric read.
	Runt           uint64 `json:"drop_runt"`
	Oversize       uint64 `json:"drop_oversize"`
	TaggedOnAccess uint64 `json:"drop_tagged_on_access"`
	VLAN           uint64 `json:"drop_vlan"`
	Spoofed        uint64 `json:"drop_spoofed"`
	BadSource      uint64 `json:"drop_bad_source"`
	LinkLocal      uint64 `json:"drop_link_local"`
	Loop           uint64 `json:"drop_loop"`
	Storm          uint64 `json:"drop_storm"`
	// Dropped before the fabric read them.
	RxBackend uint64 `json:"drop_rx_backend"`
	// Transmit side, per copy.
	LinkDown    uint64 `json:"drop_link_down"`
	TxQueueFull uint64 `json:"drop_tx_queue_full"`
	TxError     uint64 `json:"drop_tx_error"`
	TxOversize  uint64 `json:"drop_tx_oversize"`
	TxLoop      uint64 `json:"drop_tx_loop"`
	Detached    uint64 `json:"drop_detached"`
}

// rxDrops sums the receive-side drop reasons.
func (t totals) rxDrops() uint64 {
	return t.Runt + t.Oversize + t.TaggedOnAccess + t.VLAN + t.Spoofed + t.BadSource + t.LinkLocal + t.Loop + t.Storm
}

// books checks the receive side of the fabric's books: every frame read
// by any port, attached or detached, was forwarded to its one port,
// flooded, filtered (its destination on its own port), consumed as a loop
// probe or dropped for a receive-side reason:
//
//	rx_frames = forwarded + flooded + filtered + probes_rx + receive drops
//
// Copies are counted on the transmit side, per egress port (tx_frames and
// the transmit drops), and are not part of this balance: a flooded frame
// has as many copies as its VLAN has other ports.
func (s stats) books() error {
	out := s.Fabric.Forwarded + s.Fabric.Flooded + s.Fabric.Filtered + s.Totals.Probes + s.Totals.rxDrops()
	if s.Totals.RxFrames != out {
		return fmt.Errorf("frames read %d != forwarded %d + flooded %d + filtered %d + probes %d + dropped %d (%+v): %d unaccounted",
			s.Totals.RxFrames, s.Fabric.Forwarded, s.Fabric.Flooded, s.Fabric.Filtered, s.Totals.Probes, s.Totals.rxDrops(), s.Totals,
			int64(s.Totals.RxFrames)-int64(out))
	}
	return nil
}

// checkBooks waits for the books to balance (frames read just now may
// still be on their way) and fails the test if they do not.
func (d *daemon) checkBooks() {
	d.t.Helper()
	select {
	case <-d.done:
		return // the test ended the daemon its own way
	default:
	}
	eventually(d.t, "the books balance at teardown", func() error { return d.stats().books() })
}

// stats is `l2fabric stats --json`. (encoding/json matches keys
// case-insensitively, so the fdb fields decode whatever their case; see
// TestStatsJSONKeysAreSnakeCase for the case itself.)
type stats struct {
	Uptime float64 `json:"uptime_seconds"`
	Ports  int     `json:"ports"`
	Fabric struct {
		Forwarded uint64 `json:"forwarded"`
		Flooded   uint64 `json:"flooded"`
		Filtered  uint64 `json:"filtered"`
	} `json:"fabric"`
	FDB struct {
		Current int    `json:"current"`
		Max     int    `json:"max"`
		Static  int    `json:"static"`
		Learned uint64 `json:"learned"`
		Moved   uint64 `json:"moved"`
		Expired uint64 `json:"expired"`
		Evicted uint64 `json:"evicted"`
	} `json:"fdb"`
	FDBAging float64 `json:"fdb_aging_seconds"`
	Totals   totals  `json:"totals"`
	Detached int     `json:"ports_detached"`
}

// fdb returns `l2fabric fdb --json` with extra args (filters).
func (d *daemon) fdb(args ...string) []fdbEntry {
	d.t.Helper()
	var es []fdbEntry
	if err := d.jsonCLI(&es, append([]string{"fdb", "--json"}, args...)...); err != nil {
		d.t.Fatal(err)
	}
	return es
}

// ports returns `l2fabric ports --json`.
func (d *daemon) ports() []portInfo {
	d.t.Helper()
	var ps []portInfo
	if err := d.jsonCLI(&ps, "ports", "--json"); err != nil {
		d.t.Fatal(err)
	}
	return ps
}

// port returns the port called name from `l2fabric ports --json`.
func (d *daemon) port(name string) (portInfo, bool) {
	d.t.Helper()
	for _, p := range d.ports() {
		if p.Name == name {
			return p, true
		}
	}
	return portInfo{}, false
}

// mustPort is port for a port that must exist.
func (d *daemon) mustPort(name string) portInfo {
	d.t.Helper()
	p, ok := d.port(name)
	if !ok {
		d.t.Fatalf("no port %q in l2fabric ports --json", name)
	}
	return p
}

// stats returns `l2fabric stats --json`.
func (d *daemon) stats() stats {
	d.t.Helper()
	var s stats
	if err := d.jsonCLI(&s, "stats", "--json"); err != nil {
		d.t.Fatal(err)
	}
	return s
}

// portNames returns the names in `l2fabric ports --json`.
func (d *daemon) portNames() []string {
	d.t.Helper()
	var names []string
	for _, p := range d.ports() {
		names = append(names, p.Name)
	}
	return names
}

// waitPorts waits until every named port is listed and up: a client is a
// port only once the listener has read its first datagram.
func (d *daemon) waitPorts(names ...string) {
	d.t.Helper()
	eventually(d.t, "ports "+strings.Join(names, ", ")+" attached", func() error {
		up := map[string]bool{}
		for _, p := range d.ports() {
			up[p.Name] = p.State == "up"
		}
		for _, n := range names {
			if !up[n] {
				return fmt.Errorf("%s not up; ports: %v", n, up)
			}
		}
		return nil
	})
}

// waitPortGone waits until the port called name is no longer listed.
func (d *daemon) waitPortGone(name string) {
	d.t.Helper()
	eventually(d.t, "port "+name+" detached", func() error {
		if names := d.portNames(); slices.Contains(names, name) {
			return fmt.Errorf("still listed: %v", names)
		}
		return nil
	})
}

// controlCall sends one raw request line on the control socket, bypassing
// the client commands' own checks, and returns the decoded reply.
func (d *daemon) controlCall(request string) (ok bool, errMsg string) {
	d.t.Helper()
	c, err := net.DialTimeout("unix", d.ctl, startTimeout)
	if err != nil {
		d.t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(startTimeout))
	if _, err := c.Write([]byte(request + "\n")); err != nil {
		d.t.Fatal(err)
	}
	line, err := bufio.NewReader(c).ReadBytes('\n')
	if err != nil {
		d.t.Fatalf("control reply to %s: %v", request, err)
	}
	var resp struct {
		OK    bool   `json:"ok"`
		Error string `json:"error"`
	}
	if err := json.Unmarshal(line, &resp); err != nil {
		d.t.Fatalf("control reply to %s: %v: %s", request, err, line)
	}
	return resp.OK, resp.Error
}

// ---------------------------------------------------------------------------
// MAC addresses and frames.

// mac is a MAC-48 address.
type mac [6]byte

// vmMAC returns 02:00:00:00:00:b, the address of test VM b.
func vmMAC(b byte) mac { return mac{0x02, 0, 0, 0, 0, b} }

// broadcast is ff:ff:ff:ff:ff:ff.
var broadcast = mac{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}

// mustMAC parses aa:bb:cc:dd:ee:ff.
func mustMAC(s string) mac {
	hw, err := net.ParseMAC(s)
	if err != nil || len(hw) != 6 {
		panic("bad MAC " + s)
	}
	return mac(hw)
}

// String formats m as the daemon does: lower-case, colon-separated.
func (m mac) String() string { return net.HardwareAddr(m[:]).String() }

// ethernet builds an untagged frame.
func ethernet(dst, src mac, etherType uint16, payload []byte) []byte {
	f := make([]byte, 0, 14+len(payload))
	f = append(f, dst[:]...)
	f = append(f, src[:]...)
	f = binary.BigEndian.AppendUint16(f, etherType)
	return append(f, payload...)
}

// testFrame builds a test frame with a payload of size bytes (at least 8)
// that starts with id.
func testFrame(dst, src mac, id uint64, size int) []byte {
	p := make([]byte, max(size, 8))
	binary.BigEndian.PutUint64(p, id)
	for i := 8; i < len(p); i++ {
		p[i] = byte(i)
	}
	return ethernet(dst, src, etherTest, p)
}

// rxFrame is a frame a VM received.
type rxFrame []byte

// dst returns the destination address of a valid frame.
func (f rxFrame) dst() mac { return mac(f[0:6]) }

// src returns the source address of a valid frame.
func (f rxFrame) src() mac { return mac(f[6:12]) }

// etherType returns the EtherType of a valid frame.
func (f rxFrame) etherType() uint16 { return binary.BigEndian.Uint16(f[12:14]) }

// valid reports whether f holds an Ethernet header and a 64-bit number.
func (f rxFrame) valid() bool { return len(f) >= 22 }

// isMarker reports whether f is a marker frame.
func (f rxFrame) isMarker() bool { return f.valid() && f.etherType() == etherMarker }

// num returns the ID of a test frame or the sequence number of a marker.
func (f rxFrame) num() uint64 { return binary.BigEndian.Uint64(f[14:22]) }

// String describes f for failure messages.
func (f rxFrame) String() string {
	if !f.valid() {
		return fmt.Sprintf("<%d-byte frame % x>", len(f), []byte(f))
	}
	kind := fmt.Sprintf("ethertype %#04x", f.etherType())
	switch f.etherType() {
	case etherTest:
		kind = fmt.Sprintf("test id %d", f.num())
	case etherMarker:
		kind = fmt.Sprintf("marker %d", f.num())
	}
	return fmt.Sprintf("<%s > %s, %s, %d bytes>", f.src(), f.dst(), kind, len(f))
}

// ids returns the IDs of test frames, and fails the test on any other
// kind of frame (markers are never in the lists the helpers return).
func ids(t testing.TB, who string, fs []rxFrame) []uint64 {
	t.Helper()
	out := []uint64{}
	for _, f := range fs {
		if !f.valid() || f.etherType() != etherTest {
			t.Errorf("%s received an unexpected frame %v", who, f)
			continue
		}
		out = append(out, f.num())
	}
	return out
}

// wantIDs checks that fs are exactly the test frames want, in order.
func wantIDs(t testing.TB, who string, fs []rxFrame, want ...uint64) {
	t.Helper()
	if want == nil {
		want = []uint64{}
	}
	if got := ids(t, who, fs); !slices.Equal(got, want) {
		t.Errorf("%s received test frames %v, want %v (frames: %v)", who, got, want, fs)
	}
}

// ---------------------------------------------------------------------------
// VMs.

// lan is the set of VMs of one test, for choosing the senders of marker
// frames.
type lan struct {
	t   *testing.T
	dir string
	vms []*vm
}

// newLAN returns a lan whose VMs bind their sockets in dir.
func newLAN(t *testing.T, dir string) *lan { return &lan{t: t, dir: dir} }

// vm is a client of a listening socket of the switch. By default it
// behaves like vfkit: a unixgram socket bound at its own path and connected
// to the listening socket, that sends "VFKT" first and then one Ethernet
// frame per datagram, and a goroutine reads what the switch sends it into
// rx, so that its socket never fills up. (See vmOptions for the other
// behaviours.)
type vm struct {
	t    *testing.T
	l    *lan
	file string // socket file name, e.g. "a.sock"
	path string
	port string // the port the switch makes of it: DEVICE/file
	mac  mac
	vlan int
	conn *net.UnixConn
	to   *net.UnixAddr // the listening socket, when conn is not connected
	rx   chan rxFrame
	// gone is set for a VM that cannot take part in fences: it has
	// vanished, or it does not read.
	gone bool
}

// vmOptions change how a VM behaves.
type vmOptions struct {
	// unconnected: the socket is not connected to the listening socket
	// and sends with sendto, as qemu -netdev dgram does.
	unconnected bool
	// noRead: nothing reads the socket, as with a VM that is paused or
	// whose network driver has not started.
	noRead bool
}

// markerSeq numbers marker frames, unique across the whole run.
var markerSeq atomic.Uint64

// join attaches a vfkit-like VM called name (socket file dir/name.sock)
// with MAC 02:00:00:00:00:macByte to the switch's listening socket listen,
// whose clients are in VLAN vlan. It sends the hello; the caller waits for
// the port with daemon.waitPorts(v.port).
func (l *lan) join(listen, name string, macByte byte, vlan int) *vm {
	l.t.Helper()
	return l.joinWith(listen, name, macByte, vlan, vmOptions{})
}

// joinWith is join with options.
func (l *lan) joinWith(listen, name string, macByte byte, vlan int, o vmOptions) *vm {
	l.t.Helper()
	v := &vm{
		t:    l.t,
		l:    l,
		file: name + ".sock",
		path: filepath.Join(l.dir, name+".sock"),
		mac:  vmMAC(macByte),
		vlan: vlan,
		rx:   make(chan rxFrame, 4096),
		gone: o.noRead,
	}
	v.port = strings.TrimSuffix(filepath.Base(listen), ".sock") + "/" + v.file
	local := &net.UnixAddr{Name: v.path, Net: "unixgram"}
	remote := &net.UnixAddr{Name: listen, Net: "unixgram"}
	var err error
	if o.unconnected {
		v.conn, err = net.ListenUnixgram("unixgram", local)
		v.to = remote
	} else {
		v.conn, err = net.DialUnix("unixgram", local, remote)
	}
	if err != nil {
		l.t.Fatalf("vm %s: %v", name, err)
	}
	// vfkit's buffer sizes.
	v.conn.SetReadBuffer(4 << 20)
	v.conn.SetWriteBuffer(1 << 20)
	if !o.noRead {
		go v.readLoop()
	}
	l.t.Cleanup(func() {
		v.conn.Close()
		os.Remove(v.path)
	})
	v.send([]byte("VFKT"))
	l.vms = append(l.vms, v)
	return v
}

// readLoop moves received datagrams into v.rx until the socket is closed.
func (v *vm) readLoop() {
	defer close(v.rx)
	buf := make([]byte, 1<<16)
	for {
		n, err := v.conn.Read(buf)
		if err != nil {
			return
		}
		v.rx <- rxFrame(bytes.Clone(buf[:n]))
	}
}

// send sends one datagram to the switch.
func (v *vm) send(b []byte) {
	v.t.Helper()
	var err error
	if v.to != nil {
		_, err = v.conn.WriteToUnix(b, v.to)
	} else {
		_, err = v.conn.Write(b)
	}
	if err != nil {
		v.t.Fatalf("%s: sending %d bytes: %v", v.file, len(b), err)
	}
}

// sendTest sends test frame id from v to dst and returns its bytes.
func (v *vm) sendTest(dst mac, id uint64) []byte {
	v.t.Helper()
	f := testFrame(dst, v.mac, id, 46)
	v.send(f)
	return f
}

// sendMarker broadcasts a marker frame from v and returns its sequence
// number.
func (v *vm) sendMarker() uint64 {
	v.t.Helper()
	seq := markerSeq.Add(1)
	p := make([]byte, 46)
	binary.BigEndian.PutUint64(p, seq)
	v.send(ethernet(broadcast, v.mac, etherMarker, p))
	return seq
}

// next returns the next frame v received, failing the test after
// waitTimeout.
func (v *vm) next(waitingFor string) rxFrame {
	v.t.Helper()
	select {
	case f, ok := <-v.rx:
		if !ok {
			v.t.Fatalf("%s: socket closed while waiting for %s", v.file, waitingFor)
		}
		return f
	case <-time.After(waitTimeout):
		v.t.Fatalf("%s: no %s within %v", v.file, waitingFor, waitTimeout)
	}
	panic("unreachable")
}

// readUntilMarker returns the frames v received before marker seq from
// sender, skipping other markers.
func (v *vm) readUntilMarker(sender *vm, seq uint64) []rxFrame {
	v.t.Helper()
	var got []rxFrame
	what := fmt.Sprintf("marker %d from %s", seq, sender.file)
	for {
		f := v.next(what)
		if f.isMarker() {
			if f.src() == sender.mac && f.num() == seq {
				return got
			}
			continue
		}
		got = append(got, f)
	}
}

// expect returns the next non-marker frame v receives, which must be test
// frame id.
func (v *vm) expect(id uint64) rxFrame {
	v.t.Helper()
	for {
		f := v.next(fmt.Sprintf("test frame %d", id))
		if f.isMarker() {
			continue
		}
		if !f.valid() || f.etherType() != etherTest || f.num() != id {
			v.t.Fatalf("%s: received %v, want test frame %d", v.file, f, id)
		}
		return f
	}
}

// vanish closes v's socket and removes its file, as a VM that has gone
// away leaves things.
func (v *vm) vanish() {
	v.t.Helper()
	v.gone = true
	v.conn.Close()
	if err := os.Remove(v.path); err != nil {
		v.t.Fatal(err)
	}
}

// crash closes v's socket but leaves its file, as a VM killed before it
// could clean up does.
func (v *vm) crash() {
	v.t.Helper()
	v.gone = true
	v.conn.Close()
}

// peerOf returns another live VM in v's VLAN, to send markers v observes.
func (l *lan) peerOf(v *vm) *vm {
	l.t.Helper()
	for _, o := range l.vms {
		if o != v && !o.gone && o.vlan == v.vlan {
			return o
		}
	}
	l.t.Fatalf("no other VM in VLAN %d to send markers to %s", v.vlan, v.file)
	return nil
}

// learn makes the switch learn each VM's MAC: each broadcasts a marker,
// and a receiver of the marker proves it was processed (a frame's source
// is learned before it is forwarded).
func (l *lan) learn(vms ...*vm) {
	l.t.Helper()
	for _, v := range vms {
		w := l.peerOf(v)
		w.readUntilMarker(v, v.sendMarker())
	}
}

// fence proves that every frame s sent so far has been delivered wherever
// the switch was going to deliver it, and returns the frames (markers
// excluded) each observer received up to that point.
//
// Delivery from one port to another is FIFO, so an observer in s's VLAN
// reads until a marker s sent after the frames under test. An observer
// that cannot receive s's markers (s itself, or a VM in another VLAN)
// reads until a marker from another VM of its own VLAN, sent once s's
// frames are known to be fully forwarded: s sends two markers and a
// witness receives both, and since s's second marker was sent after the
// witness received the first, the switch read it in a later batch than
// every frame before the first marker, so all of those had been queued for
// their destinations before anyone sends the observer's marker.
func (l *lan) fence(s *vm, observers ...*vm) map[*vm][]rxFrame {
	l.t.Helper()
	got := map[*vm][]rxFrame{}
	w := l.peerOf(s)
	seq := s.sendMarker()
	got[w] = append(got[w], w.readUntilMarker(s, seq)...)
	seq = s.sendMarker()
	got[w] = append(got[w], w.readUntilMarker(s, seq)...)
	for _, o := range observers {
		switch {
		case o == w:
		case o != s && o.vlan == s.vlan:
			got[o] = o.readUntilMarker(s, seq)
		default:
			r := l.peerOf(o)
			got[o] = o.readUntilMarker(r, r.sendMarker())
		}
	}
	return got
}

// staleSocket leaves a socket file at path, as a process that died without
// cleaning up does: a datagram socket, or a listening stream socket, bound
// there and closed. (The net package's sockets are close-on-exec, so no
// process the tests start concurrently can inherit one and keep it alive.)
func staleSocket(t testing.TB, path string, stream bool) {
	t.Helper()
	if stream {
		ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
		if err != nil {
			t.Fatal(err)
		}
		ln.SetUnlinkOnClose(false)
		ln.Close()
		return
	}
	c, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: path, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	c.Close()
}

// isSocket reports whether path is a socket file.
func isSocket(path string) bool {
	fi, err := os.Lstat(path)
	return err == nil && fi.Mode()&os.ModeSocket != 0
}

// hasFrame reports whether v has received a frame not yet read.
func (v *vm) hasFrame() bool { return len(v.rx) > 0 }
