//go:build linux

package integration

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// TestUserGivesRootUp: with --user nobody the daemon, started as root,
// runs as nobody once its ports are open (its /proc status says so),
// dgram VMs keep forwarding through the sockets it opened as root, the
// control socket still answers, and attaching a host port, which needs
// root, is refused with the reason and the way out. On exit it still
// removes its socket files (their directory is nobody's, as a service's
// runtime directory would be).
func TestUserGivesRootUp(t *testing.T) {
	t.Parallel()
	nobody := requireNobody(t)
	uid, gid := nobody.uid, nobody.gid
	dir := shortTempDir(t)
	if err := os.Chown(dir, uid, gid); err != nil {
		t.Fatal(err)
	}
	x := filepath.Join(dir, "x.sock")
	d := startDaemon(t, dir, "--port", "dgram:"+x, "--user", "nobody")

	ids := procIDs(t, d.cmd.Process.Pid)
	if want := fmt.Sprintf("%d %d %d %d", uid, uid, uid, uid); ids["Uid"] != want {
		t.Errorf("/proc/PID/status Uid: %q, want %q (real, effective, saved, fs)", ids["Uid"], want)
	}
	if want := fmt.Sprintf("%d %d %d %d", gid, gid, gid, gid); ids["Gid"] != want {
		t.Errorf("/proc/PID/status Gid: %q, want %q", ids["Gid"], want)
	}
	if ids["CapEff"] != "0000000000000000" || ids["CapPrm"] != "0000000000000000" {
		t.Errorf("capabilities kept: CapEff %s, CapPrm %s, want none", ids["CapEff"], ids["CapPrm"])
	}
	for _, p := range []string{x, d.ctl} {
		if fi, err := os.Stat(p); err != nil || fileUID(fi) != uid {
			t.Errorf("%s: %v, owner %d, want nobody's (%d)", p, err, fileUID(fi), uid)
		}
	}

	// The VMs' sockets are root's here (the test runs as root); a VM
	// run by the --user user owns its socket. Let nobody send to them.
	l := newLAN(t, dir)
	a, b := l.join(x, "a", 1, 1), l.join(x, "b", 2, 1)
	for _, v := range []*vm{a, b} {
		if err := os.Chmod(v.path, 0o666); err != nil {
			t.Fatal(err)
		}
	}
	d.waitPorts(a.port, b.port)
	l.learn(a, b)
	a.sendTest(b.mac, 1)
	got := l.fence(a, a, b)
	wantIDs(t, "b", got[b], 1)
	b.sendTest(a.mac, 2)
	got = l.fence(b, a, b)
	wantIDs(t, "a", got[a], 2)

	r := d.cli("attach", "host:lo")
	if r.code == 0 {
		t.Fatalf("attach host:lo after --user succeeded:\n%s", r)
	}
	for _, want := range []string{"host ports need root", "nobody", "--user", "without --user"} {
		if !strings.Contains(r.stderr, want) {
			t.Errorf("attach host:lo: the error lacks %q:\n%s", want, r)
		}
	}
	// A dgram port needs no root: it can still be attached.
	d.mustCLI("attach", "dgram:"+filepath.Join(dir, "y.sock"))
	d.sockets = append(d.sockets, filepath.Join(dir, "y.sock"))
}

// procIDs returns the Uid, Gid, CapPrm and CapEff lines of a process's
// /proc status, fields separated by single spaces.
func procIDs(t *testing.T, pid int) map[string]string {
	t.Helper()
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	out := map[string]string{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if ok {
			out[k] = strings.Join(strings.Fields(v), " ")
		}
	}
	return out
}

// fileUID returns the owner of fi, -1 for nil.
func fileUID(fi os.FileInfo) int {
	if fi == nil {
		return -1
	}
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		return int(st.Uid)
	}
	return -1
}

// TestUserRefusedAtStart: --user naming no user, or root, or given to an
// l2fabric not started as root, fails before any port opens, with exit
// status 2 and the reason.
func TestUserRefusedAtStart(t *testing.T) {
	t.Parallel()
	dir := shortTempDir(t)
	asNobody, _ := nobodyRunner(t, dir)
	x := filepath.Join(dir, "x.sock")
	for _, tc := range []struct{ user, want string }{
		{"no-such-user-l2f", `no user "no-such-user-l2f"`},
		{"root", "that is root"},
		{"nobody:", "empty group"},
	} {
		r := runBin(t, "--control", filepath.Join(dir, "ctl.sock"), "--port", "dgram:"+x, "--user", tc.user)
		if r.code != 2 || !strings.Contains(r.stderr, tc.want) {
			t.Errorf("--user %s: want exit 2 and %q:\n%s", tc.user, tc.want, r)
		}
	}
	// Started as nobody: there is no root to give up.
	cmd := asNobody("--control", filepath.Join(dir, "ctl.sock"), "--port", "dgram:"+x, "--user", "nobody")
	out, err := cmd.CombinedOutput()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 2 || !strings.Contains(string(out), "not root: there is no root to give up") {
		t.Errorf("started as nobody with --user nobody: %v\n%s", err, out)
	}
	if _, err := os.Stat(x); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("a port was opened: %s exists (%v)", x, err)
	}
}
