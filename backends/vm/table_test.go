package vm

import (
	"path/filepath"
	"strings"
	"testing"
)

// TestTableFile: vm.toml is read before vm.conf, and its errors name the
// file, the line and the key.
func TestTableFile(t *testing.T) {
	vms := t.TempDir()
	dir := filepath.Join(vms, "router")
	writeVM(t, vms, "router", "kernel=/old\n")
	writeFile(t, filepath.Join(dir, TableFile), []byte("kernel = \"Image\"\ncpus = 3\n"))
	d, err := LoadDir(vms, "router")
	if err != nil || d.Kernel != filepath.Join(dir, "Image") || d.CPUs != 3 || d.Console != filepath.Join(dir, DefaultConsole) || d.IsLegacy() {
		t.Errorf("%+v, %v", d, err)
	}
	for text, want := range map[string]string{
		"kernel = \"Image\"\n\ncpus = \"3\"\n":     TableFile + ":3: cpus: want a whole number",
		"cpus = 3\n":                               TableFile + ":1: kernel: missing",
		"kernel = \"Image\"\nnic = [\n {},\n 7]\n": TableFile + ":4: nic[1]: want a table",
		"kernel = [\n":                             TableFile + ":1:",
	} {
		writeFile(t, filepath.Join(dir, TableFile), []byte(text))
		if _, err := LoadDir(vms, "router"); err == nil || !strings.Contains(err.Error(), filepath.Join(dir, want)) {
			t.Errorf("%q: %v, want %s", text, err, want)
		}
	}
}
