package main

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/l2fabric/l2fabric/backends/vm"
	"github.com/l2fabric/l2fabric/fabric"
	"github.com/l2fabric/l2fabric/fdb"
	"github.com/l2fabric/l2fabric/frames"
)

// writeConfig writes text to a configuration file and returns its path.
func writeConfig(t *testing.T, text string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "l2fabric.toml")
	if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestConfigEveryKey: every key of the file sets its flag.
func TestConfigEveryKey(t *testing.T) {
	p := writeConfig(t, `
control       = "/tmp/l2f-test.sock"
control-group = "0"
fdb-aging     = "10m"
fdb-max       = 100
flow-hold     = "0s"
flow-stall    = "20ms"
loop-detect   = "off"
storm         = 500
log-level     = "debug"
log-json      = true
metrics       = "127.0.0.1:9470"
port          = ["dgram:/tmp/a.sock", "dgram:/tmp/b.sock,vlan=20"]
static        = ["02:00:00:00:00:01@a,vlan=1", "02:00:00:00:00:02@b/x,vlan=20"]
`)
	rc, err := parseRun(t, "--config", p)
	if err != nil {
		t.Fatal(err)
	}
	want := &runConfig{
		configFile: p, control: "/tmp/l2f-test.sock", controlGroup: "0", metrics: "127.0.0.1:9470",
		fdb:          fdb.Config{Aging: 10 * time.Minute, MaxEntries: 100},
		flow:         flowControl(0, 20*time.Millisecond),
		noLoopDetect: true, storm: 500,
		logLevel: hclog.Debug, logJSON: true,
		ports: []string{"dgram:/tmp/a.sock", "dgram:/tmp/b.sock,vlan=20"},
		statics: []fabric.Static{
			{MAC: frames.MAC{2, 0, 0, 0, 0, 1}, Port: "a", VLAN: 1},
			{MAC: frames.MAC{2, 0, 0, 0, 0, 2}, Port: "b/x", VLAN: 20},
		},
		portOrigins:   []string{p + ":13: port", p + ":13: port"},
		staticOrigins: []string{p + ":14: static", p + ":14: static"},
	}
	if !reflect.DeepEqual(rc, want) {
		t.Errorf("got  %+v\nwant %+v", rc, want)
	}
	// Every daemon flag is a key: the test above covers them all.
	fs, _ := daemonFlagSet()
	text, _ := os.ReadFile(p)
	for _, k := range configKeys(fs) {
		if k != "vm" && k != "user" && !strings.Contains(string(text), "\n"+k+" ") {
			t.Errorf("key %s is not tested", k)
		}
	}
}

// TestConfigUserKey: the user key names who the daemon becomes, checked
// as --user is (which needs root: there is no root to give up otherwise).
func TestConfigUserKey(t *testing.T) {
	p := writeConfig(t, "user = \"nobody\"\n")
	rc, err := parseRun(t, "--config", p)
	if os.Geteuid() != 0 {
		if err == nil || !strings.Contains(err.Error(), "not root") {
			t.Errorf("user key as uid %d: got %v, want an error saying l2fabric is not root", os.Geteuid(), err)
		}
		return
	}
	if err != nil {
		t.Fatal(err)
	}
	if rc.user == nil || rc.user.User != "nobody" {
		t.Errorf("user = %+v, want nobody", rc.user)
	}
	p = writeConfig(t, "user = \"no-such-user-l2f\"\n")
	if _, err := parseRun(t, "--config", p); err == nil || !strings.Contains(err.Error(), ":1: user") {
		t.Errorf("an unknown user: got %v, want an error naming the file's line and the key", err)
	}
}

// TestConfigCommandLineOverrides: a flag on the command line wins over
// the file's key, a list flag replacing the file's whole list.
func TestConfigCommandLineOverrides(t *testing.T) {
	p := writeConfig(t, "fdb-aging = \"10m\"\nfdb-max = 100\nport = [\"dgram:/tmp/a.sock\", \"dgram:/tmp/b.sock\"]\n")
	rc, err := parseRun(t, "--config", p, "--fdb-aging", "1m", "--port", "dgram:/tmp/c.sock")
	if err != nil {
		t.Fatal(err)
	}
	if rc.fdb.Aging != time.Minute || rc.fdb.MaxEntries != 100 || !reflect.DeepEqual(rc.ports, []string{"dgram:/tmp/c.sock"}) {
		t.Errorf("aging %v, max %d, ports %v; want 1m (flag), 100 (file), the flag's port", rc.fdb.Aging, rc.fdb.MaxEntries, rc.ports)
	}
}

// TestConfigErrorsNameLineAndKey: each mistake is reported with the file,
// its line and its key, and what would be accepted.
func TestConfigErrorsNameLineAndKey(t *testing.T) {
	for _, tt := range []struct {
		text string
		want []string
	}{
		{"fdb-max = 10\ncolour = \"red\"\n", []string{":2: colour: unknown key", "keys: control, control-group, fdb-aging", "port, static"}},
		{"\n\nfdb-aging = \"5\"\n", []string{":3: fdb-aging", `"5" is not a duration`, "5m or 300s"}},
		{"fdb-aging = 5\n", []string{":1: fdb-aging", `want a duration in quotes, e.g. fdb-aging = "5m"`}},
		{"fdb-aging = \"1ms\"\n", []string{":1: fdb-aging 1ms", "want a duration from"}},
		{"fdb-max = \"lots\"\n", []string{":1: fdb-max", "want a whole number, not a string"}},
		{"fdb-max = 0\n", []string{":1: fdb-max 0", "from 1 to"}},
		{"flow-hold = \"2s\"\n", []string{":1: flow-hold 2s", "0 (never wait)"}},
		{"flow-stall = \"0s\"\n", []string{":1: flow-stall 0s", "e.g. 10ms"}},
		{"log-level = \"loud\"\n", []string{":1: log-level", `"loud"`, "trace, debug"}},
		{"log-json = \"yes\"\n", []string{":1: log-json", "want true or false"}},
		{"metrics = \"9470\"\n", []string{":1: metrics", `"9470"`, "want HOST:PORT, e.g. 127.0.0.1:9470"}},
		{"control = 7\n", []string{":1: control", "want a string in quotes, not an integer"}},
		{"port = [\n  \"dgram:/tmp/a.sock\",\n  \"dgram:/tmp/b.sock,vlan=5000\",\n]\n", []string{":3: port", `"vlan=5000"`, "1 to 4094"}},
		{"port = [\n  \"dgram:/tmp/a.sock\",\n  7,\n]\n", []string{":3: port", "element 1 is an integer"}},
		{"static = [\"zz@a\"]\n", []string{":1: static", `"zz@a"`, "bad MAC"}},
		{"port = [\"dgram:/x\",\n", []string{":1:", "array is incomplete"}},
		{"fdb-max = 1\nfdb-max = 2\n", []string{":2:", "fdb-max"}},
		{"config = \"other.toml\"\n", []string{":1: config: unknown key"}},
		{"\nfdb.max = 3\n", []string{":2: fdb: unknown key"}},
		{"[port]\nx = 1\n", []string{":1: port: want a list of strings", "element 0 is a table"}},
	} {
		p := writeConfig(t, tt.text)
		_, err := parseRun(t, "--config", p)
		if err == nil {
			t.Errorf("%q: accepted", tt.text)
			continue
		}
		if _, ok := err.(*usageError); !ok {
			t.Errorf("%q: %T is not a usage error", tt.text, err)
		}
		for _, w := range append(tt.want, p) {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%q: error %q does not mention %q", tt.text, err, w)
			}
		}
	}
}

// TestConfigVMTables: [vm.NAME] tables define VMs with vm.conf's keys,
// paths relative to the file; their errors name the line and key.
func TestConfigVMTables(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "l2fabric.toml")
	text := `port = ["dgram:/tmp/a.sock"]

[vm.router]
kernel  = "Image"
initrd  = "/boot/initrd"
cmdline = "console=hvc0 root=/dev/vda rw"
cpus    = 4
memory  = "2G"
disk    = ["root.img", { path = "seed.iso", read-only = true }]
console = "none"
restart = "always"
nic     = [{ mac = "52:54:00:00:00:01", mtu = 9000 }, {}]

[vm.web]
kernel = "/k"
mac    = ["52:54:00:00:00:09"]
mtu    = 1500
nics   = 2
disk-ro = ["/ro.img"]
`
	fs, _ := daemonFlagSet()
	cf, err := parseConfig(p, []byte(text), fs)
	if err != nil {
		t.Fatal(err)
	}
	if len(cf.vms) != 2 || cf.vmLines["router"] != 3 || cf.vmLines["web"] != 14 {
		t.Fatalf("vms %+v, lines %v", cf.vms, cf.vmLines)
	}
	r := cf.vms[0]
	want := &vm.Definition{
		Name: "router", Source: p + " [vm.router]",
		Kernel: filepath.Join(dir, "Image"), Initrd: "/boot/initrd", Cmdline: "console=hvc0 root=/dev/vda rw",
		CPUs: 4, Memory: 2 << 30,
		Disks:   []vm.Disk{{Path: filepath.Join(dir, "root.img")}, {Path: filepath.Join(dir, "seed.iso"), ReadOnly: true}},
		NICs:    []vm.NIC{{MAC: frames.MAC{0x52, 0x54, 0, 0, 0, 1}, MTU: 9000}, {MAC: vm.DeriveMAC("router", 1), MTU: 1500}},
		Restart: vm.RestartAlways,
	}
	if !reflect.DeepEqual(r, want) {
		t.Errorf("router:\ngot  %+v\nwant %+v", r, want)
	}
	w := cf.vms[1]
	if len(w.NICs) != 2 || w.NICs[0].MAC != (frames.MAC{0x52, 0x54, 0, 0, 0, 9}) || len(w.Disks) != 1 || !w.Disks[0].ReadOnly {
		t.Errorf("web: %+v", w)
	}
	// A table converts back and forth.
	again, err := parseConfig(p, r.FormatTable(), fs)
	if err != nil || len(again.vms) != 1 || !reflect.DeepEqual(again.vms[0].NICs, r.NICs) || !reflect.DeepEqual(again.vms[0].Disks, r.Disks) {
		t.Errorf("FormatTable does not read back: %v\n%s", err, r.FormatTable())
	}

	for _, tt := range []struct{ text, want string }{
		{"[vm.r]\nkernel = \"/k\"\ncpus = \"four\"\n", ":3: vm.r.cpus: want a whole number, not a string"},
		{"[vm.r]\nkernel = \"/k\"\nmemory = \"1024\"\n", ":3: vm.r.memory: size \"1024\" has no unit"},
		{"[vm.r]\nkernel = \"/k\"\ndisk = [\n \"a.img\",\n 7,\n]\n", ":5: vm.r.disk[1]: want a path in quotes"},
		{"[vm.r]\nkernel = \"/k\"\ncolour = \"red\"\n", ":3: vm.r.colour: unknown key (keys: kernel, initrd"},
		{"[vm.r]\ncpus = 2\n", ":1: vm.r.kernel: missing: a VM needs kernel = \"PATH\""},
		{"[vm.\"bad/name\"]\nkernel = \"/k\"\n", "may contain only"},
		{"vm = 3\n", ":1: vm: want tables [vm.NAME]"},
		{"[vm.r]\nkernel = \"/k\"\nmac = [\"52:54:00:00:00:01\", \"52:54:00:00:00:01\"]\n", ":3: vm.r.mac: NICs 0 and 1 have the same MAC"},
		{"[vm.r]\nkernel = \"/k\"\nnic = [{}, {}]\nmac = [\"52:54:00:00:00:01\"]\n", ":4: vm.r.mac: give the NICs either as nic"},
	} {
		_, err := parseConfig(p, []byte(tt.text), fs)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%q: error %v, want %q", tt.text, err, tt.want)
		}
	}
}

// TestConfigVMTablesOnlyWhereVMsBoot: on a platform without VMs a VM
// table is an error that says so.
func TestConfigVMTablesOnlyWhereVMsBoot(t *testing.T) {
	if haveVMs {
		t.Skip("VMs boot here")
	}
	p := writeConfig(t, "port = [\"dgram:/tmp/a.sock\"]\n\n[vm.router]\nkernel = \"/k\"\n")
	_, err := parseRun(t, "--config", p)
	if err == nil || !strings.Contains(err.Error(), p+":3: vm.router: l2fabric boots VMs only on macOS") {
		t.Errorf("error %v", err)
	}
}

// FuzzParseConfig checks that no file makes parsing panic, and that every
// error names the file and a line.
func FuzzParseConfig(f *testing.F) {
	for _, s := range []string{"port = [\"dgram:/x\"]\nfdb-max = 3\n", "[vm.r]\nkernel = \"k\"\ndisk = [\"a\", {path = \"b\"}]\n", "fdb-aging = 5\n", "a.b = 1\n"} {
		f.Add([]byte(s))
	}
	fs, _ := daemonFlagSet()
	f.Fuzz(func(t *testing.T, data []byte) {
		_, err := parseConfig("f.toml", data, fs)
		if err != nil && !strings.HasPrefix(err.Error(), "f.toml:") {
			t.Fatalf("%q: error %q does not start with the file and line", data, err)
		}
	})
}

// TestREADMEExampleParses: the README's example configuration file has
// only keys and values the daemon reads.
func TestREADMEExampleParses(t *testing.T) {
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, block, ok := strings.Cut(string(readme), "```toml\n")
	block, _, _ = strings.Cut(block, "```")
	if !ok || !strings.Contains(block, "port") {
		t.Fatal("no ```toml example in README.md")
	}
	fs, _ := daemonFlagSet()
	cf, err := parseConfig("README.md", []byte(block), fs)
	if err != nil {
		t.Fatal(err)
	}
	if len(cf.settings) < 5 || len(cf.vms) != 1 {
		t.Errorf("settings %+v, vms %+v", cf.settings, cf.vms)
	}
}
