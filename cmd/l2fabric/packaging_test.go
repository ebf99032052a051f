package main

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"testing"
)

var updatePackaging = flag.Bool("update-packaging", false, "rewrite packaging/'s example service files from 'service print'")

// packagingExamples are the example service files in packaging/ and the
// 'service print' arguments that make them.
var packagingExamples = []struct {
	file string
	args []string
}{
	{"launchd/org.l2fabric.plist", []string{"--for", "macos", "--binary", "/usr/local/bin/l2fabric",
		"--port", "host:en6", "--port", "vm:router", "--port", "feth:bridge1", "--log-json"}},
	{"systemd/l2fabric.service", []string{"--for", "linux", "--binary", "/usr/local/bin/l2fabric",
		"--port", "host:eth0", "--port", "feth:br0", "--port", "dgram:/run/l2fabric/vms.sock", "--user", "nobody", "--log-json"}},
}

// TestPackagingExamplesAreGenerated: the example service files are what
// 'service print' makes of their arguments, so they cannot drift from the
// generator. After a change to it: go test ./cmd/l2fabric -run
// TestPackagingExamples -update-packaging.
func TestPackagingExamplesAreGenerated(t *testing.T) {
	for _, ex := range packagingExamples {
		var out, errOut bytes.Buffer
		if err := executeCmd(newServiceCmd(checkRunArgs), append([]string{"print"}, ex.args...), &out, &errOut); err != nil {
			t.Fatalf("service print %v: %v\n%s", ex.args, err, errOut.String())
		}
		path := filepath.Join("..", "..", "packaging", ex.file)
		if *updatePackaging {
			if err := os.WriteFile(path, out.Bytes(), 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		have, err := os.ReadFile(path)
		if err != nil {
			t.Fatalf("%v (create it with -update-packaging)", err)
		}
		if !bytes.Equal(have, out.Bytes()) {
			t.Errorf("packaging/%s is not what 'l2fabric service print %v' makes: regenerate it with go test ./cmd/l2fabric -run TestPackagingExamples -update-packaging\nhave:\n%s\nwant:\n%s", ex.file, ex.args, have, out.Bytes())
		}
	}
}
