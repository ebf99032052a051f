package integration

import (
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

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

// TestStartErrorsSayWhatToDo: mistakes at start are refused with the fix
// in the message.
func TestStartErrorsSayWhatToDo(t *testing.T) {
	t.Parallel()
	dir := shortTempDir(t)
	x := filepath.Join(dir, "x.sock")
	nodir := filepath.Join(dir, "nodir")
	type startCase struct {
		args []string
		want []string
	}
	cases := []startCase{
		{[]string{"--port", "dgram:" + nodir + "/vms.sock"}, []string{"directory " + nodir + " does not exist", "mkdir -p " + nodir}},
		{[]string{"--port", "stream:" + nodir + "/vms.sock"}, []string{"directory " + nodir + " does not exist", "mkdir -p " + nodir}},
		{[]string{"--port", "dgram:" + x, "--port", "dgram:" + x + ",name=again"}, []string{x + " is already the socket of this daemon's device x", "choose another path"}},
		{[]string{"--port", "dgram:" + x, "--port", "stream:" + x + ",name=again"}, []string{x + " is already the socket of this daemon's device x"}},
		{[]string{"--port", "dgram:" + x + ",trunk=10,20"}, []string{"trunk=10+20"}},
		{[]string{"--port", "dgram:" + x + ",learning=true"}, []string{"learning=true", "learning=on or learning=off"}},
		{[]string{"--port", "dgram:" + x + ",group=no-such-group-l2f"}, []string{`no group "no-such-group-l2f"`}},
	}
	if runtime.GOOS == "linux" {
		cases = append(cases, startCase{[]string{"--port", "tap:t0,persist=yes"}, []string{"persist=yes", `"yes" is not on or off`}})
	}
	for _, tc := range cases {
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

// TestHelpSpecsShowsEveryOption: help specs shows the options the README
// documents for the kinds this change touched.
func TestHelpSpecsShowsEveryOption(t *testing.T) {
	t.Parallel()
	r := runBin(t, "help", "specs")
	want := []string{"dgram:PATH[,mode=0660][,owner=USER][,group=GROUP]", "stream:PATH[,mode=0660][,owner=USER][,group=GROUP]"}
	if runtime.GOOS == "linux" {
		want = append(want, "host:IFACE[,promisc=on|off][,macnat=auto|on|off][,macnat-max=N]", "tap:NAME[,persist=on|off]")
	}
	for _, w := range want {
		if r.code != 0 || !strings.Contains(r.stdout, w) {
			t.Errorf("help specs lacks %q: %s", w, r)
		}
	}
}
