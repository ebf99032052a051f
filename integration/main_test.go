// Package integration runs the real l2fabric binary and drives it the way
// its users do: VMs attach as unix datagram clients that behave like vfkit,
// and the binary's own client commands (fdb, ports, stats, attach, detach)
// query and change the running daemon.
//
// TestMain builds cmd/l2fabric once per run (with -race when the tests are
// built with -race, so that the daemon's data races fail the tests too).
package integration

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"testing"
)

// bin is the path of the l2fabric binary built by TestMain.
var bin string

func TestMain(m *testing.M) {
	os.Exit(runMain(m))
}

// runMain builds the binary into a temporary directory, runs the tests and
// removes the directory; it returns the exit status.
func runMain(m *testing.M) int {
	dir, err := os.MkdirTemp("", "l2fabric-it-bin")
	if err != nil {
		fmt.Fprintln(os.Stderr, "integration:", err)
		return 1
	}
	defer os.RemoveAll(dir)
	bin = filepath.Join(dir, "l2fabric")
	args := []string{"build", "-o", bin}
	if raceEnabled() {
		args = append(args, "-race")
	}
	args = append(args, "github.com/l2fabric/l2fabric/cmd/l2fabric")
	cmd := exec.Command(goTool(), args...)
	if out, err := cmd.CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "integration: building l2fabric: %v\n%s", err, out)
		return 1
	}
	return m.Run()
}

// goTool returns the go command: the one on PATH, else the one of the
// toolchain that built the tests.
func goTool() string {
	if p, err := exec.LookPath("go"); err == nil {
		return p
	}
	return filepath.Join(runtime.GOROOT(), "bin", "go")
}

// raceEnabled reports whether the test binary was built with -race.
func raceEnabled() bool {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return false
	}
	for _, s := range bi.Settings {
		if s.Key == "-race" && s.Value == "true" {
			return true
		}
	}
	return false
}
