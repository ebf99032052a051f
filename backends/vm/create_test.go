package vm

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestCreate(t *testing.T) {
	vms := t.TempDir()
	files := t.TempDir()
	t.Chdir(files)
	writeFile(t, filepath.Join(files, "Image"), arm64Image())
	writeFile(t, filepath.Join(files, "initrd.img"), []byte("x"))
	writeFile(t, filepath.Join(files, "root.img"), []byte("x"))
	writeFile(t, filepath.Join(files, "seed.iso"), []byte("x"))

	var out bytes.Buffer
	o := CreateOptions{Name: "router", Dir: vms, Kernel: "Image", Initrd: "initrd.img",
		Cmdline: "console=hvc0 root=/dev/vda rw", CPUs: 4, Memory: "2G",
		Disks: []Disk{{Path: "root.img"}, {Path: "seed.iso", ReadOnly: true}}, NICs: 2, MACs: []string{"52:54:00:00:00:01"}, Restart: "on-failure"}
	if err := Create(o, &out); err != nil {
		t.Fatal(err)
	}
	conf := filepath.Join(vms, "router", TableFile)
	if !strings.Contains(out.String(), "created "+conf) || !strings.Contains(out.String(), "--port vm:router") ||
		!strings.Contains(out.String(), "nic 1: mac "+DeriveMAC("router", 1).String()) {
		t.Errorf("output:\n%s", out.String())
	}
	d, err := NewCatalog(vms).Lookup("router")
	if err != nil {
		t.Fatal(err)
	}
	if err := d.Validate(); err != nil {
		t.Fatal(err)
	}
	want := &Definition{
		Name: "router", Dir: filepath.Join(vms, "router"), Source: conf,
		Kernel: filepath.Join(files, "Image"), Initrd: filepath.Join(files, "initrd.img"),
		Cmdline: "console=hvc0 root=/dev/vda rw", CPUs: 4, Memory: 2 << 30,
		Disks:   []Disk{{Path: filepath.Join(files, "root.img")}, {Path: filepath.Join(files, "seed.iso"), ReadOnly: true}},
		Console: filepath.Join(vms, "router", "console.log"),
		NICs:    []NIC{{MAC: mustMAC(t, "52:54:00:00:00:01"), MTU: 1500}, {MAC: DeriveMAC("router", 1), MTU: 1500}},
		Restart: RestartOnFailure,
	}
	if got, w := *d, *want; !equalDefs(&got, &w) {
		t.Errorf("got  %+v\nwant %+v", d, want)
	}
	text, _ := os.ReadFile(conf)
	if !strings.Contains(string(text), "console = \"console.log\"\n") || !strings.Contains(string(text), "{ mac = \""+DeriveMAC("router", 1).String()+"\", mtu = 1500 }") ||
		!strings.Contains(string(text), `disk = ["../../002/root.img"`) && !strings.Contains(string(text), `disk = ["`+filepath.Join(files, "root.img")) {
		t.Errorf("vm.toml:\n%s", text)
	}

	// No overwrite without --force.
	err = Create(CreateOptions{Name: "router", Dir: vms, Kernel: "Image"}, &out)
	if err == nil || !strings.Contains(err.Error(), "already exists (use --force") || errors.Is(err, ErrUsage) {
		t.Errorf("second create: %v", err)
	}
	if err := Create(CreateOptions{Name: "router", Dir: vms, Kernel: "Image", Force: true}, &out); err != nil {
		t.Errorf("create --force: %v", err)
	}
	if d, err := NewCatalog(vms).Lookup("router"); err != nil || d.CPUs != DefaultCPUs || len(d.NICs) != 1 {
		t.Errorf("after --force: %+v, %v", d, err)
	}

	// The default directory is L2FABRIC_VMS's.
	t.Setenv(EnvDir, vms)
	if err := Create(CreateOptions{Name: "web", Kernel: "Image", Console: "none"}, &out); err != nil {
		t.Fatal(err)
	}
	if d, err := NewCatalog().Lookup("web"); err != nil || d.Console != "" {
		t.Errorf("web: %+v, %v", d, err)
	}
}

// equalDefs compares definitions field by field, for readable failures.
func equalDefs(a, b *Definition) bool {
	ja, _ := json.Marshal(a)
	jb, _ := json.Marshal(b)
	return bytes.Equal(ja, jb)
}

func TestCreateErrors(t *testing.T) {
	vms := t.TempDir()
	files := t.TempDir()
	t.Chdir(files)
	writeFile(t, filepath.Join(files, "Image"), arm64Image())
	tests := []struct {
		o     CreateOptions
		want  string
		usage bool
	}{
		{CreateOptions{Name: "router"}, "--kernel is required", true},
		{CreateOptions{Kernel: "Image"}, "empty VM name", true},
		{CreateOptions{Name: "bad/name", Kernel: "Image"}, "may contain only", true},
		{CreateOptions{Name: "router", Kernel: "Image", Memory: "1.5X"}, `size "1.5X" has an unknown unit`, true},
		{CreateOptions{Name: "router", Kernel: "Image", Memory: "1024"}, "has no unit", true},
		{CreateOptions{Name: "router", Kernel: "Image", CPUs: -1}, "cpus must be 1 to 256, not -1", true},
		{CreateOptions{Name: "router", Kernel: "Image", MTU: 1400}, "from 1500 to 65535", true},
		{CreateOptions{Name: "router", Kernel: "Image", MACs: []string{"02:00:00:00:00:01", "02:00:00:00:00:01"}}, "same MAC", true},
		{CreateOptions{Name: "router", Kernel: "Image", Restart: "sometimes"}, "want no, on-failure or always", true},
		{CreateOptions{Name: "router", Kernel: "missing"}, "kernel " + filepath.Join(files, "missing") + " does not exist", false},
		{CreateOptions{Name: "router", Kernel: "Image", Disks: []Disk{{Path: "nodisk.img"}}}, "disk 0 " + filepath.Join(files, "nodisk.img") + " does not exist", false},
	}
	for _, tt := range tests {
		var out bytes.Buffer
		tt.o.Dir = vms
		err := Create(tt.o, &out)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("create %+v: got %v, want an error containing %q", tt.o, err, tt.want)
			continue
		}
		if errors.Is(err, ErrUsage) != tt.usage {
			t.Errorf("create %+v: usage error = %v, want %v", tt.o, errors.Is(err, ErrUsage), tt.usage)
		}
	}
	if _, err := os.Stat(filepath.Join(vms, "router")); !os.IsNotExist(err) {
		t.Errorf("a failed create left %s behind", filepath.Join(vms, "router"))
	}
}

func TestWriteList(t *testing.T) {
	vms := t.TempDir()
	writeVM(t, vms, "router", "kernel=Image\nnics=2\n")
	writeVM(t, vms, "broken", "kernel=Image\nmemory=lots\n")
	var out bytes.Buffer
	if err := WriteList(NewCatalog(vms), false, &out); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) != 3 || !strings.HasPrefix(lines[0], "NAME") ||
		!strings.HasPrefix(lines[1], "broken") || !strings.Contains(lines[1], "error:") ||
		!strings.HasPrefix(lines[2], "router") || !strings.Contains(lines[2], DeriveMAC("router", 1).String()) || !strings.HasSuffix(lines[2], "ok, in the vm.conf format of earlier versions: l2fabric vm convert router") {
		t.Errorf("list:\n%s", out.String())
	}
	out.Reset()
	if err := WriteList(NewCatalog(vms), true, &out); err != nil {
		t.Fatal(err)
	}
	var got []listEntry
	if err := json.Unmarshal(out.Bytes(), &got); err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0].Error == "" || got[1].Name != "router" || len(got[1].NICs) != 2 || got[1].Memory != DefaultMemory {
		t.Errorf("list --json: %s", out.String())
	}
	out.Reset()
	if err := WriteList(NewCatalog(t.TempDir()), false, &out); err != nil || !strings.Contains(out.String(), "no VMs defined") {
		t.Errorf("empty list: %v, %q", err, out.String())
	}
}

// TestCreateReplacesVMConf: --force over a vm.conf writes vm.toml and
// removes the vm.conf it would otherwise only shadow.
func TestCreateReplacesVMConf(t *testing.T) {
	vms := t.TempDir()
	files := t.TempDir()
	t.Chdir(files)
	writeFile(t, filepath.Join(files, "Image"), arm64Image())
	writeVM(t, vms, "router", "kernel=Image\n")
	var out bytes.Buffer
	err := Create(CreateOptions{Name: "router", Dir: vms, Kernel: "Image"}, &out)
	if err == nil || !strings.Contains(err.Error(), ConfigFile+" already exists") {
		t.Errorf("create over a vm.conf: %v", err)
	}
	if err := Create(CreateOptions{Name: "router", Dir: vms, Kernel: "Image", Force: true}, &out); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(vms, "router", ConfigFile)); !os.IsNotExist(err) {
		t.Errorf("vm.conf still there: %v", err)
	}
	if d, err := NewCatalog(vms).Lookup("router"); err != nil || d.IsLegacy() {
		t.Errorf("%+v, %v", d, err)
	}
}
