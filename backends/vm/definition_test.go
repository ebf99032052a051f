package vm

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/l2fabric/l2fabric/frames"
)

func mustMAC(t testing.TB, s string) frames.MAC {
	t.Helper()
	m, err := frames.ParseMAC(s)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func TestParseConfig(t *testing.T) {
	const dir = "/vms/router"
	defNIC := func(i int) NIC { return NIC{MAC: DeriveMAC("router", i), MTU: 1500} }
	base := func() *Definition {
		return &Definition{
			Name: "router", Dir: dir, Source: dir + "/vm.conf",
			Kernel: dir + "/Image", Cmdline: DefaultCmdline, CPUs: DefaultCPUs, Memory: DefaultMemory,
			Console: dir + "/console.log", NICs: []NIC{defNIC(0)}, Restart: RestartNo,
		}
	}
	tests := []struct {
		name string
		conf string
		want func(d *Definition)
	}{
		{"minimal", "kernel=Image\n", func(d *Definition) {}},
		{"comments and blanks", "# a VM\n\n   # indented comment\nkernel = Image  \n", func(d *Definition) {}},
		{"everything", `
kernel=/boot/Image
initrd=initrd.img
cmdline=console=hvc0 root=/dev/vda rw quiet
cpus=4
memory=2G
disk=root.img
disk-ro=/isos/seed.iso
disk=data.img
console=/var/log/router.log
restart=on-failure
nic=mac=52:54:00:12:34:56,mtu=9000
nic=
nic=mtu=1600
`, func(d *Definition) {
			d.Kernel = "/boot/Image"
			d.Initrd = dir + "/initrd.img"
			d.Cmdline = "console=hvc0 root=/dev/vda rw quiet"
			d.CPUs = 4
			d.Memory = 2 << 30
			d.Disks = []Disk{{Path: dir + "/root.img"}, {Path: "/isos/seed.iso", ReadOnly: true}, {Path: dir + "/data.img"}}
			d.Console = "/var/log/router.log"
			d.Restart = RestartOnFailure
			d.NICs = []NIC{{MAC: mustMAC(t, "52:54:00:12:34:56"), MTU: 9000}, defNIC(1), {MAC: DeriveMAC("router", 2), MTU: 1600}}
		}},
		{"quoted cmdline keeps spaces and quotes", `kernel=Image
cmdline="  init=/bin/sh -c \"echo hi\" \\ "
`, func(d *Definition) { d.Cmdline = `  init=/bin/sh -c "echo hi" \ ` }},
		{"unquoted value keeps inner quotes and '#'", "kernel=Image\ncmdline=a=\"b c\" #not-a-comment\n", func(d *Definition) {
			d.Cmdline = `a="b c" #not-a-comment`
		}},
		{"empty cmdline", "kernel=Image\ncmdline=\"\"\n", func(d *Definition) { d.Cmdline = "" }},
		{"console none", "kernel=Image\nconsole=none\n", func(d *Definition) { d.Console = "" }},
		{"memory units", "kernel=Image\nmemory=1536MiB\n", func(d *Definition) { d.Memory = 1536 << 20 }},
		{"fractional memory", "kernel=Image\nmemory=1.5g\n", func(d *Definition) { d.Memory = 1536 << 20 }},
		{"restart always", "kernel=Image\nrestart=always\n", func(d *Definition) { d.Restart = RestartAlways }},
		{"nics pads with derived MACs", "kernel=Image\nnics=3\nmtu=9000\nmac=02:00:00:00:00:aa\n", func(d *Definition) {
			d.NICs = []NIC{{MAC: mustMAC(t, "02:00:00:00:00:aa"), MTU: 9000}, {MAC: DeriveMAC("router", 1), MTU: 9000}, {MAC: DeriveMAC("router", 2), MTU: 9000}}
		}},
		{"mac shorthand repeated adds NICs", "kernel=Image\nmac=02:00:00:00:00:01\nmac=02:00:00:00:00:02\n", func(d *Definition) {
			d.NICs = []NIC{{MAC: mustMAC(t, "02:00:00:00:00:01"), MTU: 1500}, {MAC: mustMAC(t, "02:00:00:00:00:02"), MTU: 1500}}
		}},
		{"nic mtu overrides default mtu", "kernel=Image\nmtu=4000\nnic=mtu=1500\n", func(d *Definition) {
			d.NICs = []NIC{{MAC: DeriveMAC("router", 0), MTU: 1500}}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseConfig(strings.NewReader(tt.conf), "router", dir)
			if err != nil {
				t.Fatal(err)
			}
			want := base()
			tt.want(want)
			if !reflect.DeepEqual(got, want) {
				t.Errorf("got  %+v\nwant %+v", got, want)
			}
		})
	}
}

func TestParseConfigErrors(t *testing.T) {
	tests := []struct {
		name, conf, want string
	}{
		{"no kernel", "cpus=2\n", "no kernel="},
		{"empty kernel", "kernel=\n", "empty kernel path"},
		{"not key=value", "kernel=Image\nfoo\n", `vm.conf:2: "foo" is not KEY=VALUE`},
		{"unknown key", "kernel=Image\ncpu=2\n", `vm.conf:2: unknown key "cpu"`},
		{"duplicate key", "kernel=Image\nkernel=Other\n", "vm.conf:2: kernel given twice"},
		{"bad memory unit", "kernel=Image\nmemory=1.5X\n", `size "1.5X" has an unknown unit`},
		{"bare memory number", "kernel=Image\nmemory=1024\n", `size "1024" has no unit: write e.g. 1024M or 1024G`},
		{"memory not whole MiB", "kernel=Image\nmemory=1000K\n", "whole number of MiB"},
		{"memory zero", "kernel=Image\nmemory=0G\n", "whole number of MiB"},
		{"cpus zero", "kernel=Image\ncpus=0\n", "cpus must be 1 to 256, not 0"},
		{"cpus not a number", "kernel=Image\ncpus=two\n", `cpus "two" is not a number`},
		{"mtu too small", "kernel=Image\nnic=mtu=1400\n", "mtu \"1400\": want a number from 1500 to 65535"},
		{"mtu too large", "kernel=Image\nmtu=65536\n", "from 1500 to 65535"},
		{"duplicate MACs", "kernel=Image\nmac=02:00:00:00:00:01\nnic=mac=02:00:00:00:00:01\n", "NICs 0 and 1 have the same MAC 02:00:00:00:00:01"},
		{"explicit MAC equal to a derived one", "kernel=Image\nnics=2\nmac=" + DeriveMAC("router", 1).String() + "\n", "NICs 0 and 1 have the same MAC"},
		{"multicast MAC", "kernel=Image\nmac=01:00:5e:00:00:01\n", "not a unicast address"},
		{"bad MAC", "kernel=Image\nmac=nope\n", "nope"},
		{"unknown nic option", "kernel=Image\nnic=vlan=3\n", `unknown NIC option "vlan"`},
		{"nic option twice", "kernel=Image\nnic=mtu=1500,mtu=1600\n", "mtu given twice"},
		{"nic not key=value", "kernel=Image\nnic=02:00:00:00:00:01\n", "is not KEY=VALUE"},
		{"bad restart", "kernel=Image\nrestart=sometimes\n", `restart "sometimes": want no, on-failure or always`},
		{"nics zero", "kernel=Image\nnics=0\n", "want a number of NICs from 1 to 64"},
		{"too many NICs", "kernel=Image\nnics=65\n", "want a number of NICs from 1 to 64"},
		{"unterminated quote", "kernel=Image\ncmdline=\"abc\n", "unterminated quoted value"},
		{"text after quote", "kernel=Image\ncmdline=\"abc\" def\n", `text " def" after the closing quote`},
		{"bad escape", "kernel=Image\ncmdline=\"a\\nb\"\n", `a '\' in a quoted value`},
		{"empty disk", "kernel=Image\ndisk=\n", "empty disk path"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseConfig(strings.NewReader(tt.conf), "router", "/vms/router")
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("got error %v, want one containing %q", err, tt.want)
			}
		})
	}
	if _, err := ParseConfig(strings.NewReader("kernel=Image\n"), "bad name", "/vms"); err == nil {
		t.Error("a VM name with a space was accepted")
	}
}

func TestParseSize(t *testing.T) {
	good := map[string]uint64{
		"1G": 1 << 30, "1g": 1 << 30, "1GiB": 1 << 30, "1GB": 1 << 30, "1gib": 1 << 30, "512M": 512 << 20,
		"1.5G": 3 << 29, "0.5M": 512 << 10, "4K": 4096, "2T": 2 << 40, " 8G ": 8 << 30, "1.25K": 1280,
	}
	for in, want := range good {
		got, err := ParseSize(in)
		if err != nil || got != want {
			t.Errorf("ParseSize(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, in := range []string{"", "G", "1", "1024", "1.5X", "1..5G", ".5G", "5.G", "-1G", "1GG", "1 G", "0.1K", "99999999999T", "1e3M"} {
		if got, err := ParseSize(in); err == nil {
			t.Errorf("ParseSize(%q) = %d, want an error", in, got)
		}
	}
}

func TestFormatSize(t *testing.T) {
	for n, want := range map[uint64]string{1 << 30: "1G", 1536 << 20: "1536M", 3 << 40: "3T", 4096: "4K", 100: "100B", 0: "0B"} {
		if got := FormatSize(n); got != want {
			t.Errorf("FormatSize(%d) = %q, want %q", n, got, want)
		}
		if n != 0 {
			if back, err := ParseSize(FormatSize(n)); err != nil && n%1024 == 0 || err == nil && back != n {
				t.Errorf("ParseSize(FormatSize(%d)) = %d, %v", n, back, err)
			}
		}
	}
}

func TestDeriveMAC(t *testing.T) {
	// Golden values: these must never change, or every VM's guest would
	// see a new NIC (and lose its address) after an upgrade.
	golden := map[[2]any]string{
		{"router", 0}: "02:39:eb:84:ea:77",
		{"router", 1}: "02:2e:0b:c0:de:6f",
		{"web", 0}:    "02:1d:5f:50:86:e3",
	}
	for k, want := range golden {
		if got := DeriveMAC(k[0].(string), k[1].(int)).String(); got != want {
			t.Errorf("DeriveMAC(%q, %d) = %s, want %s", k[0], k[1], got, want)
		}
	}
	seen := map[frames.MAC]string{}
	for _, name := range []string{"router", "router2", "web", "a", "b"} {
		for i := 0; i < MaxNICs; i++ {
			m := DeriveMAC(name, i)
			if m != DeriveMAC(name, i) {
				t.Fatal("DeriveMAC is not deterministic")
			}
			if m[0] != 0x02 || !m.IsUnicast() || !m.IsLocallyAdministered() {
				t.Errorf("DeriveMAC(%q, %d) = %s: not a locally administered unicast 02:... address", name, i, m)
			}
			if prev, dup := seen[m]; dup {
				t.Errorf("DeriveMAC(%q, %d) = %s, the same as %s", name, i, m, prev)
			}
			seen[m] = name
		}
	}
}

// arm64Image is the start of an uncompressed arm64 Linux Image.
func arm64Image() []byte {
	b := make([]byte, 128)
	copy(b[56:], "ARM\x64")
	return b
}

func writeFile(t *testing.T, path string, data []byte) string {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestValidate(t *testing.T) {
	dir := t.TempDir()
	kernel := writeFile(t, filepath.Join(dir, "Image"), arm64Image())
	gz := writeFile(t, filepath.Join(dir, "vmlinuz"), append([]byte{0x1f, 0x8b, 8, 0}, make([]byte, 100)...))
	zboot := writeFile(t, filepath.Join(dir, "vmlinuz.efi"), append([]byte("MZ\x00\x00zimg"), make([]byte, 100)...))
	bzImage := writeFile(t, filepath.Join(dir, "bzImage"), make([]byte, 4096))
	short := writeFile(t, filepath.Join(dir, "short"), []byte("tiny"))
	initrd := writeFile(t, filepath.Join(dir, "initrd"), []byte("x"))
	disk := writeFile(t, filepath.Join(dir, "disk.img"), []byte("x"))
	good := func() *Definition {
		d, err := ParseConfig(strings.NewReader("kernel=Image\ninitrd=initrd\ndisk=disk.img\n"), "router", dir)
		if err != nil {
			t.Fatal(err)
		}
		return d
	}
	for _, arch := range []string{"arm64", "amd64"} {
		if err := good().validate("darwin", arch); err != nil {
			t.Errorf("darwin/%s: %v", arch, err)
		}
	}
	_, _, _ = kernel, initrd, disk
	tests := []struct {
		name         string
		edit         func(d *Definition)
		goos, goarch string
		want         string
	}{
		{"missing kernel", func(d *Definition) { d.Kernel = filepath.Join(dir, "nope") }, "linux", "amd64", "kernel " + filepath.Join(dir, "nope") + " does not exist"},
		{"kernel is a directory", func(d *Definition) { d.Kernel = dir }, "linux", "amd64", "is a directory"},
		{"missing initrd", func(d *Definition) { d.Initrd = filepath.Join(dir, "nope") }, "linux", "amd64", "initrd " + filepath.Join(dir, "nope") + " does not exist"},
		{"missing disk", func(d *Definition) { d.Disks = append(d.Disks, Disk{Path: "/nonexistent/disk"}) }, "linux", "amd64", "disk 1 /nonexistent/disk does not exist"},
		{"cpus 0", func(d *Definition) { d.CPUs = 0 }, "linux", "amd64", "cpus must be 1 to 256, not 0"},
		{"memory not MiB", func(d *Definition) { d.Memory = 1000 }, "linux", "amd64", "whole number of MiB"},
		{"mtu out of range", func(d *Definition) { d.NICs[0].MTU = 1400 }, "linux", "amd64", "NIC 0: mtu 1400 is not from 1500 to 65535"},
		{"duplicate MACs", func(d *Definition) { d.NICs = append(d.NICs, d.NICs[0]) }, "linux", "amd64", "NICs 0 and 1 have the same MAC"},
		{"no NICs", func(d *Definition) { d.NICs = nil }, "linux", "amd64", "0 NICs"},
		{"zero MAC", func(d *Definition) { d.NICs[0].MAC = frames.MAC{} }, "linux", "amd64", "not a unicast address"},
		{"bad restart", func(d *Definition) { d.Restart = "maybe" }, "linux", "amd64", `restart "maybe"`},
		{"gzip kernel on Apple Silicon", func(d *Definition) { d.Kernel = gz }, "darwin", "arm64", "gzip-compressed"},
		{"zboot kernel on Apple Silicon", func(d *Definition) { d.Kernel = zboot }, "darwin", "arm64", "EFI zboot"},
		{"x86 kernel on Apple Silicon", func(d *Definition) { d.Kernel = bzImage }, "darwin", "arm64", "not an arm64 Linux Image"},
		{"short kernel on Apple Silicon", func(d *Definition) { d.Kernel = short }, "darwin", "arm64", "too short"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := good()
			tt.edit(d)
			err := d.validate(tt.goos, tt.goarch)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("got %v, want an error containing %q", err, tt.want)
			}
			if !strings.Contains(err.Error(), "vm router ("+filepath.Join(dir, "vm.conf")+")") {
				t.Errorf("error %q does not say which VM and file", err)
			}
		})
	}
	// Only Apple Silicon cares about the kernel's format.
	d := good()
	d.Kernel = gz
	if err := d.validate("darwin", "amd64"); err != nil {
		t.Errorf("gzip kernel on Intel: %v", err)
	}
}

func TestFormatRoundTrip(t *testing.T) {
	dir := t.TempDir()
	vmDir := filepath.Join(dir, "router")
	conf := `kernel=Image
initrd=/boot/initrd.img
cmdline="  spaced out  "
cpus=3
memory=1536M
disk=root.img
disk-ro=/isos/seed.iso
console=/var/log/router console.log
restart=always
nics=2
nic=mac=52:54:00:00:00:01,mtu=9000
`
	d, err := ParseConfig(strings.NewReader(conf), "router", vmDir)
	if err != nil {
		t.Fatal(err)
	}
	text := d.Format(vmDir)
	if !strings.Contains(string(text), "kernel=Image\n") || !strings.Contains(string(text), "disk=root.img\n") {
		t.Errorf("paths inside the VM directory are not written relative:\n%s", text)
	}
	if !strings.Contains(string(text), "nic=mac="+DeriveMAC("router", 1).String()+",mtu=1500\n") {
		t.Errorf("derived MAC not written out:\n%s", text)
	}
	back, err := ParseConfig(strings.NewReader(string(text)), "router", vmDir)
	if err != nil {
		t.Fatalf("%v\n%s", err, text)
	}
	if !reflect.DeepEqual(back, d) {
		t.Errorf("round trip changed the definition:\n%+v\n%+v\n%s", d, back, text)
	}
	d.Console, d.Cmdline = "", ""
	back, err = ParseConfig(strings.NewReader(string(d.Format(vmDir))), "router", vmDir)
	if err != nil || back.Console != "" || back.Cmdline != "" {
		t.Errorf("console none / empty cmdline did not round-trip: %+v, %v", back, err)
	}
}

func TestValidName(t *testing.T) {
	for _, ok := range []string{"router", "r", "Router-1", "vm_2.test", "0day", strings.Repeat("a", 64)} {
		if err := ValidName(ok); err != nil {
			t.Errorf("ValidName(%q): %v", ok, err)
		}
	}
	for _, bad := range []string{"", "-x", ".x", "_x", "a/b", "a b", "a,b", "a:b", "a=b", strings.Repeat("a", 65), "é"} {
		if ValidName(bad) == nil {
			t.Errorf("ValidName(%q) accepted it", bad)
		}
	}
}
