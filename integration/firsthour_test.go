package integration

import (
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
)

// TestBridgeKeepsItsMAC: feth:BRIDGE leaves the host bridge's address as
// it was, before start, while running and after stop, both for a bridge
// with a port of lower address already and for an empty one (which a
// Linux bridge would otherwise give its first port's address). The TAP
// l2fabric creates has an address that can never be a bridge's lowest.
func TestBridgeKeepsItsMAC(t *testing.T) {
	requireNetAdmin(t)
	dir := shortTempDir(t)
	sw := newNetns(t, "sw")
	sw.ip("link", "add", "br1", "type", "bridge")
	sw.ip("link", "add", "br2", "type", "bridge")
	// br1 already has a port, of a high address: a TAP with a random
	// (lower) one would take over.
	sw.ip("link", "add", "hi0", "address", "fc:00:00:00:00:01", "type", "veth", "peer", "name", "hi1")
	sw.ip("link", "set", "hi0", "master", "br1")
	for _, br := range []string{"br1", "br2"} {
		sw.ip("link", "set", br, "up")
	}
	mac := func(dev string) string {
		out, err := sw.exec("cat", "/sys/class/net/"+dev+"/address")
		if err != nil {
			t.Fatalf("%s's address: %v %s", dev, err, out)
		}
		return strings.TrimSpace(out)
	}
	before := map[string]string{"br1": mac("br1"), "br2": mac("br2")}
	d := startDaemonIn(t, sw.name, dir, "--port", "feth:br1", "--port", "feth:br2", "--port", "tap:tp0")
	d.waitPorts("feth-br1", "feth-br2", "tp0")
	for _, dev := range []string{"l2f-br1", "l2f-br2", "tp0"} {
		if m := mac(dev); !strings.HasPrefix(m, "fe:") {
			t.Errorf("%s, created by l2fabric, has address %s: want fe:..., never a bridge's lowest", dev, m)
		}
	}
	for br, was := range before {
		if now := mac(br); now != was {
			t.Errorf("%s's address changed from %s to %s while l2fabric runs", br, was, now)
		}
	}
	d.stopClean()
	for br, was := range before {
		if now := mac(br); now != was {
			t.Errorf("%s's address changed from %s to %s after l2fabric stopped", br, was, now)
		}
	}
}

// TestMakeInstallStampsCommit: make install builds, stamps the commit
// (even where Go records no VCS information: GOFLAGS=-buildvcs=false, a
// git worktree) and installs under DESTDIR and PREFIX; make run passes
// ARGS to the binary.
func TestMakeInstallStampsCommit(t *testing.T) {
	t.Parallel()
	for _, tool := range []string{"make", "git", "install"} {
		if _, err := exec.LookPath(tool); err != nil {
			missing(t, "no "+tool+": make install not tried")
			return
		}
	}
	rev, err := exec.Command("git", "-C", "..", "rev-parse", "--short=12", "HEAD").Output()
	if err != nil {
		t.Skipf("not a git checkout: %v", err)
	}
	tmp := shortTempDir(t)
	built, dest := filepath.Join(tmp, "b", "l2fabric"), filepath.Join(tmp, "d")
	mk := exec.Command("make", "-C", "..", "install", "BIN="+built, "DESTDIR="+dest, "PREFIX=/opt/l2f")
	mk.Env = append(os.Environ(), "GOFLAGS=-buildvcs=false")
	if out, err := mk.CombinedOutput(); err != nil {
		t.Fatalf("make install: %v\n%s", err, out)
	}
	installed := filepath.Join(dest, "opt", "l2f", "bin", "l2fabric")
	out, err := exec.Command(installed, "--version").Output()
	if want := "(commit " + strings.TrimSpace(string(rev)); err != nil || !strings.Contains(string(out), want) {
		t.Errorf("%s --version: %q, %v; want %q", installed, out, err, want)
	}
	run := exec.Command("make", "-C", "..", "run", "BIN="+built, "ARGS=help specs")
	if out, err := run.CombinedOutput(); err != nil || !strings.Contains(string(out), "Port kinds on this platform") {
		t.Errorf("make run ARGS=\"help specs\": %v\n%s", err, out)
	}
}

// TestBannerNamesTheBinaryAsInvoked: with no --port the daemon says how
// to watch it with the command that started it, when that is not the
// l2fabric found on PATH.
func TestBannerNamesTheBinaryAsInvoked(t *testing.T) {
	t.Parallel()
	// As nobody, so that the default socket is in dir (root's is
	// /var/run/l2fabric-vms.sock, which the test must not take).
	dir := shortTempDir(t)
	asNobody, _ := nobodyRunner(t, dir)
	cmd := asNobody("--control", filepath.Join(dir, "c.sock"))
	var out lockedOutput
	cmd.Stderr = &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { cmd.Process.Signal(syscall.SIGTERM); cmd.Wait() }()
	want := "Watch what it learns with: " + cmd.Path + " fdb"
	eventually(t, "the banner", func() error {
		if !strings.Contains(out.String(), want) {
			return fmt.Errorf("no %q yet:\n%s", want, out.String())
		}
		return nil
	})
	if sock := filepath.Join(dir, "l2fabric-vms.sock"); !strings.Contains(out.String(), sock) {
		t.Errorf("the banner does not name the default socket %s (TMPDIR/XDG_RUNTIME_DIR):\n%s", sock, out.String())
	}
}

// nobodyRunner returns a maker of commands that run a copy of l2fabric as
// nobody, with its temporary and runtime directory dir (made writable for
// everyone), and nobody's account. It skips the test where that cannot be.
func nobodyRunner(t *testing.T, dir string) (func(args ...string) *exec.Cmd, *user.User) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root")
	}
	nobody, err := user.Lookup("nobody")
	if err != nil {
		t.Skip("no user nobody")
	}
	uid, _ := strconv.Atoi(nobody.Uid)
	gid, _ := strconv.Atoi(nobody.Gid)
	os.Chmod(dir, 0o777)
	own := filepath.Join(dir, "l2fabric") // the tests' binary is in a directory of root's
	b, err := os.ReadFile(bin)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(own, b, 0o755); err != nil {
		t.Fatal(err)
	}
	return func(args ...string) *exec.Cmd {
		cmd := exec.Command(own, args...)
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}, Pdeathsig: syscall.SIGTERM}
		cmd.Env = append(binEnv(), "TMPDIR="+dir, "XDG_RUNTIME_DIR="+dir)
		return cmd
	}, nobody
}

// TestGroupLetsAnUnprivilegedClientIn: a root daemon's socket is root's
// and 0660, so a VM run by a user cannot send to it; with group= (the
// user's group) it can. The unprivileged client is an l2fabric run as
// nobody whose dgram:connect= port is its uplink to the root daemon, with
// a test VM behind each, and frames cross both ways.
func TestGroupLetsAnUnprivilegedClientIn(t *testing.T) {
	t.Parallel()
	dir := shortTempDir(t)
	asNobody, nobody := nobodyRunner(t, dir)
	gid, _ := strconv.Atoi(nobody.Gid)

	// Without group=, nobody is refused, and told why.
	plain := filepath.Join(dir, "plain.sock")
	d0 := startDaemon(t, shortTempDir(t), "--port", "dgram:"+plain)
	out, err := asNobody("--control", filepath.Join(dir, "n0.sock"), "--port", "dgram:connect="+plain).CombinedOutput()
	if err == nil || !strings.Contains(string(out), "permission denied") {
		t.Errorf("nobody connecting to a root daemon's 0660 root:root socket: %v\n%s", err, out)
	}
	d0.stopClean()

	x := filepath.Join(dir, "x.sock")
	d := startDaemon(t, shortTempDir(t), "--port", "dgram:"+x+",group="+nobody.Gid)
	fi, err := os.Stat(x)
	if st, ok := fi.Sys().(*syscall.Stat_t); err != nil || !ok || int(st.Gid) != gid || fi.Mode().Perm() != 0o660 {
		t.Fatalf("%s: %v %v, want mode 0660 and group %d", x, err, fi.Mode(), gid)
	}
	y := filepath.Join(dir, "y.sock")
	var nlog lockedOutput
	n := asNobody("--control", filepath.Join(dir, "n.sock"), "--port", "dgram:connect="+x+",name=uplink", "--port", "dgram:"+y)
	n.Stdout, n.Stderr = &nlog, &nlog
	if err := n.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		n.Process.Signal(syscall.SIGTERM)
		n.Wait()
		if t.Failed() {
			t.Logf("nobody's l2fabric:\n%s", nlog.String())
		}
	}()
	eventually(t, "nobody's l2fabric attached to the root daemon", func() error {
		for _, p := range d.ports() {
			if strings.HasPrefix(p.Name, "x/") {
				return nil
			}
		}
		return fmt.Errorf("no client on x yet; nobody's log:\n%s", nlog.String())
	})
	eventually(t, "nobody's listening socket", func() error {
		if !isSocket(y) {
			return fmt.Errorf("%s not there yet", y)
		}
		return nil
	})
	l := newLAN(t, dir)
	va, vb := l.join(y, "a", 1, 1), l.join(x, "b", 2, 1)
	for _, v := range []*vm{va, vb} {
		os.Chmod(v.path, 0o666) // a VM's socket is its user's; here root's
	}
	d.waitPorts(vb.port)
	l.learn(va, vb)
	va.sendTest(vb.mac, 1)
	wantIDs(t, "b", l.fence(va, va, vb)[vb], 1)
	vb.sendTest(va.mac, 2)
	wantIDs(t, "a", l.fence(vb, va, vb)[va], 2)
}

// TestStartErrorsSayWhatToDo: mistakes at start are refused with the fix
// in the message.
func TestStartErrorsSayWhatToDo(t *testing.T) {
	t.Parallel()
	dir := shortTempDir(t)
	x := filepath.Join(dir, "x.sock")
	nodir := filepath.Join(dir, "nodir")
	for _, tc := range []struct {
		args []string
		want []string
	}{
		{[]string{"--port", "dgram:" + nodir + "/vms.sock"}, []string{"directory " + nodir + " does not exist", "mkdir -p " + nodir}},
		{[]string{"--port", "stream:" + nodir + "/vms.sock"}, []string{"directory " + nodir + " does not exist", "mkdir -p " + nodir}},
		{[]string{"--port", "dgram:" + x, "--port", "dgram:" + x + ",name=again"}, []string{x + " is already the socket of this daemon's device x", "choose another path"}},
		{[]string{"--port", "dgram:" + x, "--port", "stream:" + x + ",name=again"}, []string{x + " is already the socket of this daemon's device x"}},
		{[]string{"--port", "dgram:" + x + ",trunk=10,20"}, []string{"trunk=10+20"}},
		{[]string{"--port", "tap:t0,persist=yes"}, []string{"persist=yes", `"yes" is not on or off`}},
		{[]string{"--port", "dgram:" + x + ",learning=true"}, []string{"learning=true", "learning=on or learning=off"}},
		{[]string{"--port", "dgram:" + x + ",group=no-such-group-l2f"}, []string{`no group "no-such-group-l2f"`}},
	} {
		r := runBin(t, append([]string{"--control", filepath.Join(dir, "c.sock")}, tc.args...)...)
		if r.code == 0 {
			t.Errorf("l2fabric %s: started", strings.Join(tc.args, " "))
		}
		for _, w := range tc.want {
			if !strings.Contains(r.stderr, w) {
				t.Errorf("l2fabric %s: stderr lacks %q: %s", strings.Join(tc.args, " "), w, r)
			}
		}
	}
	r := runBin(t, "--control", nodir+"/c.sock", "--port", "dgram:"+x)
	if r.code == 0 || !strings.Contains(r.stderr, "the directory "+nodir+" does not exist") {
		t.Errorf("--control in a missing directory: %s", r)
	}
}

// TestFethOnANonBridge: feth:lo says lo is not a bridge and which
// bridges there are.
func TestFethOnANonBridge(t *testing.T) {
	requireNetAdmin(t)
	sw := newNetns(t, "sw")
	sw.ip("link", "add", "brx", "type", "bridge")
	r, err := sw.exec(bin, "--control", filepath.Join(shortTempDir(t), "c.sock"), "--port", "feth:lo")
	for _, w := range []string{"lo is the loopback device, not a bridge", "bridges: brx"} {
		if err == nil || !strings.Contains(r, w) {
			t.Errorf("feth:lo: %v, output lacks %q:\n%s", err, w, r)
		}
	}
}

// TestNamesTheUserTypes: a running daemon explains names it cannot use:
// statics pending for a port not attached (shown in fdb, counted in
// stats, warned about), statics on a listening socket, filters naming
// nothing, its own sockets attached again; and counts agree with ports.
func TestNamesTheUserTypes(t *testing.T) {
	t.Parallel()
	dir := shortTempDir(t)
	x := filepath.Join(dir, "x.sock")
	d := startDaemon(t, dir, "--port", "dgram:"+x, "--static", "52:54:00:00:00:09@typo", "--static", "52:54:00:00:00:0a@x/a.sock")
	if !strings.Contains(d.log.String(), "static entry pending: no port or device has this name") || !strings.Contains(d.log.String(), "port=typo") {
		t.Errorf("no warning at start for the static entry on typo:\n%s", d.log)
	}
	fdb := d.mustCLI("fdb")
	for _, w := range []string{"typo", "52:54:00:00:00:09", "pending", "x/a.sock"} {
		if !strings.Contains(fdb, w) {
			t.Errorf("fdb lacks %q:\n%s", w, fdb)
		}
	}
	var st struct {
		Ports   int `json:"ports"`
		Devices int `json:"devices"`
		Pending int `json:"pending_statics"`
	}
	if err := d.jsonCLI(&st, "stats", "--json"); err != nil || st.Ports != 0 || st.Devices != 1 || st.Pending != 2 {
		t.Errorf("stats: %+v, %v; want 0 ports, 1 device, 2 pending statics", st, err)
	}
	if ports := d.mustCLI("ports"); !strings.Contains(ports, "0 clients") {
		t.Errorf("ports:\n%s", ports)
	}
	l := newLAN(t, dir)
	a := l.join(x, "a", 1, 1)
	d.waitPorts(a.port)
	if ports := d.mustCLI("ports"); !strings.Contains(ports, x+", 1 client\n") {
		t.Errorf("ports, one client:\n%s", ports)
	}
	if err := d.jsonCLI(&st, "stats", "--json"); err != nil || st.Ports != 1 || st.Devices != 1 || st.Pending != 1 {
		t.Errorf("stats: %+v, %v; want 1 port, 1 device, 1 pending static (x/a.sock's installed)", st, err)
	}
	if s := d.mustCLI("stats"); !strings.Contains(s, "devices") || !strings.Contains(s, "fdb pending") {
		t.Errorf("stats:\n%s", s)
	}

	for _, tc := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"fdb", "add", "52:54:00:12:34:56@x"}, 1, "x is a listening socket; its VMs are ports x/<name>"},
		{[]string{"fdb", "--port", "nosuch"}, 1, `no port or device named "nosuch"`},
		{[]string{"fdb", "--vlan", "0"}, 2, "1 to 4094"},
		{[]string{"fdb", "--vlan", "5000"}, 2, "1 to 4094"},
		{[]string{"fdb", "del", "52:54:00:12:34:56,vlan=20"}, 1, "no entry for 52:54:00:12:34:56 in VLAN 20"},
		{[]string{"attach", "dgram:" + d.ctl}, 1, "is this daemon's control socket"},
		{[]string{"attach", "stream:" + x + ",name=y"}, 1, "already the socket of this daemon's device x"},
	} {
		r := d.cli(tc.args...)
		if r.code != tc.code || !strings.Contains(r.stderr, tc.want) {
			t.Errorf("l2fabric %s: want status %d and %q, got %s", strings.Join(tc.args, " "), tc.code, tc.want, r)
		}
	}
	if fdb := d.mustCLI("fdb", "--port", "typo"); !strings.Contains(fdb, "52:54:00:00:00:09") {
		t.Errorf("fdb --port typo does not show its pending entry:\n%s", fdb)
	}
}

// TestControlSocketDeniedPointsAtTheFix: a user denied root's control
// socket is told to use sudo or --control-group.
func TestControlSocketDeniedPointsAtTheFix(t *testing.T) {
	t.Parallel()
	dir := shortTempDir(t)
	asNobody, _ := nobodyRunner(t, dir)
	d := startDaemon(t, dir, "--port", "dgram:"+filepath.Join(dir, "x.sock"))
	out, err := asNobody("--control", d.ctl, "ports").CombinedOutput()
	for _, w := range []string{"sudo", "--control-group"} {
		if err == nil || !strings.Contains(string(out), w) {
			t.Errorf("nobody's ports against root's control socket: %v, lacks %q:\n%s", err, w, out)
		}
	}
}

// TestHelpSpecsShowsEveryOption: help specs shows the options the README
// documents for the kinds this change touched.
func TestHelpSpecsShowsEveryOption(t *testing.T) {
	t.Parallel()
	r := runBin(t, "help", "specs")
	want := []string{"dgram:PATH[,mode=0660][,owner=USER][,group=GROUP]", "stream:PATH[,mode=0660][,owner=USER][,group=GROUP]"}
	if runtime.GOOS == "linux" {
		want = append(want, "host:IFACE[,promisc=on|off]", "tap:NAME[,persist=on|off]")
	}
	for _, w := range want {
		if r.code != 0 || !strings.Contains(r.stdout, w) {
			t.Errorf("help specs lacks %q: %s", w, r)
		}
	}
}
