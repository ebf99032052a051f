package vm

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"strings"
	"testing"
)

func TestDefaultDirs(t *testing.T) {
	tests := []struct {
		name string
		goos string
		euid int
		env  map[string]string
		want []string
	}{
		{"linux root", "linux", 0, map[string]string{"HOME": "/root"}, []string{"/var/lib/l2fabric/vms"}},
		{"linux user", "linux", 1000, map[string]string{"HOME": "/home/u"}, []string{"/home/u/.config/l2fabric/vms", "/var/lib/l2fabric/vms"}},
		{"linux user with XDG", "linux", 1000, map[string]string{"HOME": "/home/u", "XDG_CONFIG_HOME": "/xdg"}, []string{"/xdg/l2fabric/vms", "/var/lib/l2fabric/vms"}},
		{"linux user with relative XDG", "linux", 1000, map[string]string{"HOME": "/home/u", "XDG_CONFIG_HOME": "xdg"}, []string{"/home/u/.config/l2fabric/vms", "/var/lib/l2fabric/vms"}},
		{"linux user without HOME", "linux", 1000, nil, []string{"/var/lib/l2fabric/vms"}},
		{"macOS root", "darwin", 0, map[string]string{"HOME": "/var/root"}, []string{"/Library/Application Support/l2fabric/vms"}},
		{"macOS user", "darwin", 501, map[string]string{"HOME": "/Users/u", "XDG_CONFIG_HOME": "/xdg"}, []string{"/Users/u/Library/Application Support/l2fabric/vms", "/Library/Application Support/l2fabric/vms"}},
		{"override", "darwin", 501, map[string]string{"HOME": "/Users/u", "L2FABRIC_VMS": "/srv/vms"}, []string{"/srv/vms"}},
		{"override as root", "linux", 0, map[string]string{"L2FABRIC_VMS": "/srv/vms"}, []string{"/srv/vms"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := defaultDirs(tt.goos, tt.euid, func(k string) string { return tt.env[k] })
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}

// TestDefaultDirsFromEnvironment checks DefaultDirs against a temporary
// HOME and XDG_CONFIG_HOME.
func TestDefaultDirsFromEnvironment(t *testing.T) {
	home := t.TempDir()
	t.Setenv("HOME", home)
	t.Setenv("XDG_CONFIG_HOME", "")
	t.Setenv(EnvDir, "")
	dirs := DefaultDirs()
	if os.Geteuid() == 0 {
		if !reflect.DeepEqual(dirs, []string{SystemDir(runtime.GOOS)}) {
			t.Errorf("as root: %q", dirs)
		}
		t.Setenv(EnvDir, "/srv/vms")
		if got := DefaultDirs(); !reflect.DeepEqual(got, []string{"/srv/vms"}) {
			t.Errorf("with %s: %q", EnvDir, got)
		}
		t.Skip("running as root: the user directory is not searched")
	}
	want := filepath.Join(home, ".config", "l2fabric", "vms")
	if runtime.GOOS == "darwin" {
		want = filepath.Join(home, "Library", "Application Support", "l2fabric", "vms")
	}
	if dirs[0] != want {
		t.Errorf("DefaultDirs()[0] = %q, want %q", dirs[0], want)
	}
	if runtime.GOOS != "darwin" {
		xdg := t.TempDir()
		t.Setenv("XDG_CONFIG_HOME", xdg)
		if got := DefaultDirs()[0]; got != filepath.Join(xdg, "l2fabric", "vms") {
			t.Errorf("with XDG_CONFIG_HOME: %q", got)
		}
	}
}

func writeVM(t *testing.T, dir, name, conf string) {
	t.Helper()
	writeFile(t, filepath.Join(dir, name, "Image"), arm64Image())
	writeFile(t, filepath.Join(dir, name, ConfigFile), []byte(conf))
}

func TestCatalogLookup(t *testing.T) {
	user, system := t.TempDir(), t.TempDir()
	writeVM(t, user, "router", "kernel=Image\ncpus=1\n")
	writeVM(t, system, "router", "kernel=Image\ncpus=8\n")
	writeVM(t, system, "web", "kernel=Image\n")
	writeVM(t, system, "broken", "kernel=Image\ncpus=lots\n")
	writeVM(t, system, "nokernel", "kernel=missing\n")
	c := NewCatalog(user, system)

	d, err := c.Lookup("router")
	if err != nil || d.CPUs != 1 || d.Dir != filepath.Join(user, "router") || d.Kernel != filepath.Join(user, "router", "Image") {
		t.Fatalf("router: %+v, %v; want the user's definition", d, err)
	}
	d, err = c.Lookup("web")
	if err != nil || d.Dir != filepath.Join(system, "web") || d.Console != filepath.Join(system, "web", "console.log") {
		t.Fatalf("web: %+v, %v; want the system definition", d, err)
	}
	if err := d.Validate(); err != nil {
		t.Errorf("web does not validate: %v", err)
	}
	if _, err := c.Lookup("broken"); err == nil || !strings.Contains(err.Error(), filepath.Join(system, "broken", "vm.conf")+`:2: cpus "lots"`) {
		t.Errorf("broken: %v", err)
	}
	d, err = c.Lookup("nokernel")
	if err != nil {
		t.Fatal(err)
	}
	if err := d.Validate(); err == nil || !strings.Contains(err.Error(), "does not exist") {
		t.Errorf("nokernel validates: %v", err)
	}
	_, err = c.Lookup("db")
	if !errors.Is(err, ErrNotFound) || !strings.Contains(err.Error(), "l2fabric vm create db") || !strings.Contains(err.Error(), user) {
		t.Errorf("db: %v", err)
	}
	if _, err := c.Lookup("../etc"); err == nil {
		t.Error("a name with a '/' was looked up")
	}

	// Inline definitions come first.
	if err := c.AddInline("router:kernel=/k,cpus=3"); err != nil {
		t.Fatal(err)
	}
	if d, err := c.Lookup("router"); err != nil || d.CPUs != 3 || d.Dir != "" || d.Source != "--vm router" {
		t.Errorf("inline router: %+v, %v", d, err)
	}
	if err := c.AddInline("router:kernel=/k"); err == nil || !strings.Contains(err.Error(), "defined twice") {
		t.Errorf("second --vm router: %v", err)
	}

	var got []string
	for _, e := range c.List() {
		s := e.Name
		if e.Shadowed {
			s += " (shadowed)"
		}
		if e.Err != nil {
			s += " (error)"
		}
		got = append(got, s)
	}
	want := []string{"router (error)", "router (shadowed)", "broken (error)", "nokernel (error)", "router (shadowed)", "web"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("List = %q, want %q", got, want)
	}
}
