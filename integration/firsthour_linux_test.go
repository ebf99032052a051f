//go:build linux

package integration

import (
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
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

// nobodyAccount is the unprivileged account tests drop to.
type nobodyAccount struct{ uid, gid int }

// requireNobody returns nobody's IDs, skipping the test unless it runs as
// root on a machine that has a user nobody.
func requireNobody(t *testing.T) nobodyAccount {
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
	return nobodyAccount{uid: uid, gid: gid}
}

// nobodyRunner returns a maker of commands that run a copy of l2fabric as
// nobody, with its temporary and runtime directory dir (made writable for
// everyone), and nobody's account. It skips the test where that cannot be.
func nobodyRunner(t *testing.T, dir string) (func(args ...string) *exec.Cmd, nobodyAccount) {
	t.Helper()
	nobody := requireNobody(t)
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
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uint32(nobody.uid), Gid: uint32(nobody.gid)}, Pdeathsig: syscall.SIGTERM}
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
	gid := nobody.gid

	// Without group=, nobody is refused, and told why.
	plain := filepath.Join(dir, "plain.sock")
	d0 := startDaemon(t, shortTempDir(t), "--port", "dgram:"+plain)
	out, err := asNobody("--control", filepath.Join(dir, "n0.sock"), "--port", "dgram:connect="+plain).CombinedOutput()
	if err == nil || !strings.Contains(string(out), "permission denied") {
		t.Errorf("nobody connecting to a root daemon's 0660 root:root socket: %v\n%s", err, out)
	}
	d0.stopClean()

	x := filepath.Join(dir, "x.sock")
	d := startDaemon(t, shortTempDir(t), "--port", "dgram:"+x+",group="+strconv.Itoa(gid))
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
