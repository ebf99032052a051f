package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"runtime/debug"
	"strings"
	"testing"

	"github.com/spf13/cobra"

	"github.com/l2fabric/l2fabric/backends/vm"
	"github.com/l2fabric/l2fabric/fabric"
	"github.com/l2fabric/l2fabric/fabric/control"
	"github.com/l2fabric/l2fabric/fabric/fabrictest"
)

// commandPaths lists every command and help topic of the tree, as the
// arguments that name it.
func commandPaths(c *cobra.Command, prefix []string) [][]string {
	var out [][]string
	for _, sub := range c.Commands() {
		if !sub.IsAvailableCommand() && !sub.IsAdditionalHelpTopicCommand() {
			continue
		}
		p := append(append([]string{}, prefix...), sub.Name())
		out = append(out, p)
		out = append(out, commandPaths(sub, p)...)
	}
	return out
}

// TestHelpForEveryCommand: every command answers --help, -h and 'help
// CMD' on stdout with exit status 0.
func TestHelpForEveryCommand(t *testing.T) {
	paths := commandPaths(newApp(nil, nil).rootCommand(), nil)
	if len(paths) < 12 {
		t.Fatalf("only %d commands: %v", len(paths), paths)
	}
	paths = append(paths, []string{})
	for _, p := range paths {
		for _, args := range [][]string{append(append([]string{}, p...), "--help"), append(append([]string{}, p...), "-h"), append([]string{"help"}, p...)} {
			var stdout, stderr bytes.Buffer
			code := Main(args, &stdout, &stderr)
			if code != 0 || stderr.Len() > 0 || stdout.Len() == 0 {
				t.Errorf("%v: exit %d, stdout %d bytes, stderr %q", args, code, stdout.Len(), stderr.String())
			}
		}
	}
}

// TestMacOSOnlyCommandsHidden: 'vm' is listed only where VMs boot.
func TestMacOSOnlyCommandsHidden(t *testing.T) {
	var stdout, stderr bytes.Buffer
	Main([]string{"help"}, &stdout, &stderr)
	if listed := strings.Contains(stdout.String(), "\n  vm "); listed != haveVMs {
		t.Errorf("vm listed %v, want %v:\n%s", listed, haveVMs, stdout.String())
	}
	if !haveVMs {
		if code := Main([]string{"--vm", "x:kernel=/k"}, &stdout, &stderr); code != exitUsage {
			t.Errorf("--vm accepted on a platform without VMs")
		}
	}
}

func TestVersionString(t *testing.T) {
	bi := &debug.BuildInfo{Main: debug.Module{Version: "(devel)"}, Settings: []debug.BuildSetting{
		{Key: "vcs.revision", Value: "0123456789abcdef0123"}, {Key: "vcs.modified", Value: "true"}}}
	for _, tt := range []struct {
		stamped, commit string
		bi              *debug.BuildInfo
		want            string
	}{
		{"v1.2.3", "", bi, "v1.2.3 (commit 0123456789ab+dirty)"},
		{"", "", bi, "devel (commit 0123456789ab+dirty)"},
		{"", "fedcba987654", bi, "devel (commit 0123456789ab+dirty)"},
		{"", "", &debug.BuildInfo{Main: debug.Module{Version: "v0.4.0"}}, "v0.4.0 (no commit recorded: built outside a git clone, or with -buildvcs=false)"},
		{"", "fedcba987654", &debug.BuildInfo{Main: debug.Module{Version: "(devel)"}}, "devel (commit fedcba987654)"},
		{"v1", "", nil, "v1"},
		{"v1", "fedcba987654", nil, "v1 (commit fedcba987654)"},
	} {
		if got := formatVersion(tt.stamped, tt.commit, tt.bi); got != tt.want {
			t.Errorf("formatVersion(%q) = %q, want %q", tt.stamped, got, tt.want)
		}
	}
	for _, args := range [][]string{{"--version"}, {"version"}, {"-v"}} {
		var stdout, stderr bytes.Buffer
		if code := Main(args, &stdout, &stderr); code != 0 || stdout.String() != "l2fabric "+versionString()+"\n" {
			t.Errorf("%v: exit %d, %q", args, code, stdout.String())
		}
	}
}

func TestCompletionScripts(t *testing.T) {
	for _, sh := range []string{"bash", "zsh", "fish", "powershell"} {
		var stdout, stderr bytes.Buffer
		if code := Main([]string{"completion", sh}, &stdout, &stderr); code != 0 || !strings.Contains(stdout.String(), "l2fabric") {
			t.Errorf("completion %s: exit %d, %d bytes, %s", sh, code, stdout.Len(), stderr.String())
		}
	}
}

// serveFabric runs a fabric with a control server in the test and returns
// its control socket.
func serveFabric(t *testing.T) (*fabric.Fabric, string) {
	t.Helper()
	f, err := fabric.New(fabric.Config{})
	if err != nil {
		t.Fatal(err)
	}
	dir, err := os.MkdirTemp("", "l2f")
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "ctl.sock")
	srv, err := control.Listen(control.ServerConfig{Path: path, Version: "test"}, f)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{}, 2)
	go func() { f.Run(ctx); done <- struct{}{} }()
	go func() { srv.Serve(ctx); done <- struct{}{} }()
	t.Cleanup(func() {
		cancel()
		<-done
		<-done
		os.RemoveAll(dir)
	})
	return f, path
}

// TestGlobalFlagsEitherSide: --control and --timeout work before and
// after the subcommand, and next to its own flags.
func TestGlobalFlagsEitherSide(t *testing.T) {
	f, ctl := serveFabric(t)
	if err := f.Attach(fabrictest.New(4), fabric.PortConfig{Name: "vm1", Kind: "test"}); err != nil {
		t.Fatal(err)
	}
	if err := f.AddStatic(fabric.Static{MAC: [6]byte{2, 0, 0, 0, 0, 1}, Port: "vm1", VLAN: 1}, false); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{
		{"--control", ctl, "fdb", "--json"},
		{"fdb", "--json", "--control", ctl},
		{"fdb", "--control", ctl, "--json", "--timeout", "2s"},
		{"--timeout=2s", "fdb", "show", "--json", "--control=" + ctl},
		{"--control", ctl, "--log-level", "debug", "fdb", "--port", "vm1", "--json"},
	} {
		var stdout, stderr bytes.Buffer
		if code := Main(args, &stdout, &stderr); code != 0 {
			t.Errorf("%v: exit %d: %s", args, code, stderr.String())
			continue
		}
		var es []fabric.Entry
		if err := json.Unmarshal(stdout.Bytes(), &es); err != nil || len(es) != 1 || es[0].Port != "vm1" {
			t.Errorf("%v: %v %q", args, err, stdout.String())
		}
	}
}

// TestCompletePortNames: detach, --port and fdb add's @PORT complete the
// daemon's port names, without a daemon nothing; attach and run --port
// complete the port kinds.
func TestCompletePortNames(t *testing.T) {
	f, ctl := serveFabric(t)
	for _, n := range []string{"vm1", "vm2", "web"} {
		if err := f.Attach(fabrictest.New(4), fabric.PortConfig{Name: n, Kind: "test"}); err != nil {
			t.Fatal(err)
		}
	}
	for _, tt := range []struct {
		args []string
		want []string
	}{
		{[]string{"__complete", "--control", ctl, "detach", ""}, []string{"vm1", "vm2", "web"}},
		{[]string{"__complete", "detach", "--control", ctl, "v"}, []string{"vm1", "vm2"}},
		{[]string{"__complete", "--control", ctl, "fdb", "--port", "w"}, []string{"web"}},
		{[]string{"__complete", "--control", ctl, "fdb", "flush", "--port", ""}, []string{"vm1", "vm2", "web"}},
		{[]string{"__complete", "--control", "/nonexistent.sock", "detach", ""}, nil},
		{[]string{"__complete", "--control", ctl, "fdb", "add", "02:00:00:00:00:01@vm"}, []string{"02:00:00:00:00:01@vm1", "02:00:00:00:00:01@vm2"}},
		{[]string{"__complete", "--control", ctl, "fdb", "add", "02:00:00"}, nil},
		{[]string{"__complete", "attach", "d"}, []string{"dgram:"}},
		{[]string{"__complete", "run", "--port", "st"}, []string{"stream:"}},
		{[]string{"__complete", "attach", "dgram:/tmp/"}, nil},
	} {
		var stdout, stderr bytes.Buffer
		if code := Main(tt.args, &stdout, &stderr); code != 0 {
			t.Errorf("%v: exit %d: %s", tt.args, code, stderr.String())
		}
		var got []string
		for _, line := range strings.Split(stdout.String(), "\n") {
			if line != "" && !strings.HasPrefix(line, ":") && !strings.HasPrefix(line, "Completion") {
				name, _, _ := strings.Cut(line, "\t")
				got = append(got, name)
			}
		}
		if !reflect.DeepEqual(got, tt.want) {
			t.Errorf("%v: completed %q, want %q", tt.args, got, tt.want)
		}
	}
}

func TestDiffPorts(t *testing.T) {
	running := portKeys([]string{"dgram:/a", "dgram:/b,vlan=2", "vm:router", "vm:r2", "vm:r2", "host:eth0"})
	wanted := portKeys([]string{"host:eth0", "dgram:/b,vlan=3", "dgram:/a", "vm:router", "vm:r2", "dgram:/c"})
	remove, add, keep := diffPorts(running, wanted, func(s string) bool { return s == "vm:router" })
	if !reflect.DeepEqual(remove, []portKey{{"dgram:/b,vlan=2", 0}, {"vm:router", 0}, {"vm:r2", 1}}) ||
		!reflect.DeepEqual(add, []portKey{{"dgram:/b,vlan=3", 0}, {"vm:router", 0}, {"dgram:/c", 0}}) ||
		!reflect.DeepEqual(keep, []portKey{{"host:eth0", 0}, {"dgram:/a", 0}, {"vm:r2", 0}}) {
		t.Errorf("remove %v, add %v, keep %v", remove, add, keep)
	}
	a := fabric.Static{MAC: [6]byte{2, 0, 0, 0, 0, 1}, Port: "a", VLAN: 1}
	b := fabric.Static{MAC: [6]byte{2, 0, 0, 0, 0, 2}, Port: "b", VLAN: 1}
	b2 := b
	b2.VLAN = 2
	del, ins := diffStatics([]fabric.Static{a, b}, []fabric.Static{a, b2})
	if !reflect.DeepEqual(del, []fabric.Static{b}) || !reflect.DeepEqual(ins, []fabric.Static{b2}) {
		t.Errorf("statics: remove %v, add %v", del, ins)
	}
}

// TestVMCommands: the vm commands' command lines (listed on macOS only,
// built everywhere).
func TestVMCommands(t *testing.T) {
	vms := t.TempDir()
	run := func(args ...string) (int, string, string) {
		var stdout, stderr bytes.Buffer
		a := newApp(&stdout, &stderr)
		root := &cobra.Command{Use: "l2fabric", SilenceErrors: true, SilenceUsage: true}
		root.SetOut(&stdout)
		root.SetErr(&stderr)
		root.SetFlagErrorFunc(flagError)
		root.AddCommand(a.vmCommand())
		root.SetArgs(append([]string{"vm"}, args...))
		if err := root.Execute(); err != nil {
			if _, ok := err.(*usageError); ok {
				return exitUsage, stdout.String(), err.Error()
			}
			return 1, stdout.String(), err.Error()
		}
		return 0, stdout.String(), stderr.String()
	}
	for _, tt := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"create", "--kernel", "Image"}, exitUsage, "want one VM name"},
		{[]string{"create", "a", "b", "--kernel", "Image"}, exitUsage, "want one VM name"},
		{[]string{"create", "router", "--kernel", "Image", "--bogus"}, exitUsage, "unknown flag: --bogus"},
		{[]string{"create", "router", "--dir", vms}, exitUsage, "--kernel is required"},
		{[]string{"create", "router", "--dir", vms, "--kernel", "Image", "--cpus", "0"}, exitUsage, "--cpus and --nics"},
		{[]string{"create", "router", "--dir", vms, "--kernel", "/nonexistent/Image"}, 1, "does not exist"},
		{[]string{"frobnicate"}, exitUsage, `unknown subcommand "frobnicate": want convert, create, list`},
		{[]string{}, exitUsage, "missing subcommand"},
		{[]string{"list", "--dir", vms}, 0, ""},
		{[]string{"convert", "--dir", vms, "nosuch"}, 1, "no such VM"},
	} {
		code, _, stderr := run(tt.args...)
		if code != tt.code || !strings.Contains(stderr, tt.want) {
			t.Errorf("vm %v: exit %d, %q; want %d and %q", tt.args, code, stderr, tt.code, tt.want)
		}
	}
	// A vm.conf of earlier versions: listed as such, converted in place.
	os.MkdirAll(filepath.Join(vms, "router"), 0o755)
	conf := filepath.Join(vms, "router", "vm.conf")
	// A file that passes for a Linux arm64 Image, as Validate checks on
	// Apple Silicon.
	image := make([]byte, 64)
	copy(image[56:], "ARM\x64")
	os.WriteFile(filepath.Join(vms, "router", "Image"), image, 0o644)
	os.WriteFile(filepath.Join(vms, "router", "root.img"), nil, 0o644)
	os.WriteFile(conf, []byte("kernel=Image\nnics=2\nmemory=2G\ndisk=root.img\n"), 0o644)
	before, err := vm.NewCatalog(vms).Lookup("router")
	if err != nil {
		t.Fatal(err)
	}
	code, out, stderr := run("list", "--dir", vms)
	if code != 0 || !strings.Contains(out, "vm.conf format of earlier versions: l2fabric vm convert router") {
		t.Errorf("list: exit %d, %s\n%s", code, stderr, out)
	}
	code, out, stderr = run("convert", "--print", "--dir", vms)
	if code != 0 || !strings.Contains(out, "[vm.router]\nkernel = \""+filepath.Join(vms, "router", "Image")+"\"\n") || !strings.Contains(out, `memory = "2G"`) {
		t.Errorf("convert --print: exit %d, %s\n%s", code, stderr, out)
	}
	code, out, stderr = run("convert", "--dir", vms)
	toml := filepath.Join(vms, "router", "vm.toml")
	if code != 0 || !strings.Contains(out, "converted "+conf+" to "+toml) {
		t.Errorf("convert: exit %d, %s\n%s", code, stderr, out)
	}
	after, err := vm.NewCatalog(vms).Lookup("router")
	if err != nil || after.Source != toml {
		t.Fatalf("after convert: %+v, %v", after, err)
	}
	after.Source = before.Source
	if !reflect.DeepEqual(after, before) {
		t.Errorf("convert changed the definition:\nbefore %+v\nafter  %+v", before, after)
	}
	if _, err := os.Stat(conf + ".converted"); err != nil {
		t.Errorf("the old vm.conf is not kept: %v", err)
	}
	if code, out, _ := run("convert", "--dir", vms); code != 0 || !strings.Contains(out, "no vm.conf to convert") {
		t.Errorf("second convert: exit %d, %s", code, out)
	}
}

// TestStartErrorNamesTheLine: a port of the file that cannot be opened
// stops the start with the file's line and key.
func TestStartErrorNamesTheLine(t *testing.T) {
	dir, err := os.MkdirTemp("", "l2f")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(dir)
	conf := filepath.Join(dir, "l2fabric.toml")
	os.WriteFile(conf, []byte("port = [\n  \"dgram:"+dir+"/a.sock\",\n  \"dgram:"+dir+"/nodir/b.sock\",\n]\n"), 0o644)
	var stdout, stderr bytes.Buffer
	code := Main([]string{"run", "--config", conf, "--control", filepath.Join(dir, "ctl.sock")}, &stdout, &stderr)
	if code != 1 || !strings.Contains(stderr.String(), conf+":3: port: dgram:"+dir+"/nodir/b.sock") {
		t.Errorf("exit %d, stderr:\n%s", code, stderr.String())
	}
	if _, err := os.Lstat(filepath.Join(dir, "a.sock")); !os.IsNotExist(err) {
		t.Errorf("the failed start left a.sock (%v)", err)
	}
}

// TestFDBFiltersAndDelForms: filters that match nothing by mistake are
// refused, and fdb del takes the form fdb add does.
func TestFDBFiltersAndDelForms(t *testing.T) {
	f, ctl := serveFabric(t)
	if err := f.Attach(fabrictest.New(4), fabric.PortConfig{Name: "vm1", Kind: "test"}); err != nil {
		t.Fatal(err)
	}
	add := func(b byte) {
		if err := f.AddStatic(fabric.Static{MAC: [6]byte{2, 0, 0, 0, 0, b}, Port: "vm1", VLAN: 1}, false); err != nil {
			t.Fatal(err)
		}
	}
	add(1)
	add(2)
	add(3)
	for _, tt := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"fdb", "--vlan", "0"}, exitUsage, "fdb --vlan 0"},
		{[]string{"fdb", "--vlan", "5000"}, exitUsage, "1 to 4094"},
		{[]string{"fdb", "--port", "nosuch"}, 1, `no port or device named "nosuch" (there are: vm1)`},
		{[]string{"fdb", "del", "02:00:00:00:00:01,vlan=1"}, 0, ""},
		{[]string{"fdb", "del", "02:00:00:00:00:02@vm1"}, 0, ""},
		{[]string{"fdb", "del", "02:00:00:00:00:03@vm9"}, 1, "is on port vm1, not vm9"},
		{[]string{"fdb", "del", "02:00:00:00:00:03,vlan=1", "--vlan", "2"}, exitUsage, "two different VLANs"},
		{[]string{"fdb", "del", "02:00:00:00:00:03,colour=red"}, exitUsage, `unknown option "colour=red"`},
		{[]string{"fdb", "del", "02:00:00:00:00:03", "--vlan", "1"}, 0, ""},
	} {
		var stdout, stderr bytes.Buffer
		code := Main(append(tt.args, "--control", ctl), &stdout, &stderr)
		if code != tt.code || !strings.Contains(stderr.String(), tt.want) {
			t.Errorf("%v: exit %d, %q; want %d and %q", tt.args, code, stderr.String(), tt.code, tt.want)
		}
	}
	if es := f.Entries(); len(es) != 0 {
		t.Errorf("entries left: %v", es)
	}
}

// TestReloadWarnsOfRestartOnlySettings: settings a reload cannot apply
// are named, and VMs whose definitions changed are found.
func TestReloadWarnsOfRestartOnlySettings(t *testing.T) {
	old, err := parseRun(t, "--port", "dgram:/tmp/x.sock")
	if err != nil {
		t.Fatal(err)
	}
	new, err := parseRun(t, "--port", "dgram:/tmp/x.sock", "--fdb-aging", "1m", "--flow-hold", "0", "--log-level", "debug", "--control", "/tmp/other.sock")
	if err != nil {
		t.Fatal(err)
	}
	got := strings.Join(restartOnly(old, new), "\n")
	for _, w := range []string{"control changed", "fdb-aging changed", "flow-hold or flow-stall changed"} {
		if !strings.Contains(got, w) {
			t.Errorf("warnings lack %q:\n%s", w, got)
		}
	}
	if strings.Contains(got, "log-level") || strings.Contains(got, "fdb-max") {
		t.Errorf("warnings name a setting that did not change or applies at once:\n%s", got)
	}
	if w := restartOnly(old, old); len(w) != 0 {
		t.Errorf("no change, warnings %v", w)
	}

	a := &vm.Definition{Name: "a", CPUs: 1}
	a2 := &vm.Definition{Name: "a", CPUs: 2}
	b := &vm.Definition{Name: "b"}
	c := &vm.Definition{Name: "c"}
	b2 := *b
	changed := changedDefinitions([]*vm.Definition{a, b}, []*vm.Definition{a2, &b2, c})
	if !reflect.DeepEqual(changed, map[string]bool{"a": true, "c": true}) {
		t.Errorf("changed %v, want a (cpus) and c (new)", changed)
	}
}

// TestAttachHelpNamesTheBinaryAsInvoked: the hint printed without --port
// gives the command as this binary was started when that is not what
// PATH finds (./bin/l2fabric fdb, not l2fabric fdb).
func TestAttachHelpNamesTheBinaryAsInvoked(t *testing.T) {
	var b bytes.Buffer
	printAttachHelp(&b, "/tmp/vms.sock")
	if !strings.Contains(b.String(), "Watch what it learns with: "+os.Args[0]+" fdb") {
		t.Errorf("hint:\n%s", b.String())
	}
	if !strings.Contains(b.String(), "unixSocketPath=/tmp/vms.sock") {
		t.Errorf("hint lacks the socket:\n%s", b.String())
	}
}
