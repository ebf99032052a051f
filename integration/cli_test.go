package integration

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"syscall"
	"testing"
)

// TestCLIHelpOnStdout: every help (--help, -h, help CMD, a subcommand's
// --help) goes to stdout with status 0, so that it pipes into less.
func TestCLIHelpOnStdout(t *testing.T) {
	t.Parallel()
	for _, args := range [][]string{
		{"--help"}, {"-h"}, {"help"}, {"run", "--help"}, {"help", "run"}, {"fdb", "--help"}, {"fdb", "add", "--help"},
		{"help", "fdb", "flush"}, {"ports", "-h"}, {"stats", "--help"}, {"attach", "--help"}, {"detach", "--help"},
		{"reload", "--help"}, {"completion", "--help"}, {"help", "specs"}, {"help", "config"}, {"version", "--help"},
	} {
		r := runBin(t, args...)
		if r.code != 0 || r.stderr != "" || !strings.Contains(r.stdout, "l2fabric") {
			t.Errorf("l2fabric %s: want help on stdout and status 0, got %s", strings.Join(args, " "), r)
		}
	}
	if r := runBin(t, "help"); strings.Contains(r.stdout, "\n  vm ") != (runtime.GOOS == "darwin") {
		t.Errorf("help lists vm on a platform without VMs, or not where they boot:\n%s", r.stdout)
	}
}

// TestCLIVersion: --version and version print the same line.
func TestCLIVersion(t *testing.T) {
	t.Parallel()
	a, b := runBin(t, "--version"), runBin(t, "version")
	if a.code != 0 || b.code != 0 || !strings.HasPrefix(a.stdout, "l2fabric ") || a.stdout != b.stdout {
		t.Errorf("--version: %s\nversion: %s", a, b)
	}
}

// TestCLIVersionStamped: a binary built with -ldflags "-X
// main.version=..." prints that version, and the commit it was built from
// when the build could record one.
func TestCLIVersionStamped(t *testing.T) {
	t.Parallel()
	out := filepath.Join(shortTempDir(t), "l2fabric")
	build := exec.Command(goTool(), "build", "-buildvcs=auto", "-ldflags", "-X main.version=v9.8.7", "-o", out, "github.com/l2fabric/l2fabric/cmd/l2fabric")
	if msg, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, msg)
	}
	got, err := exec.Command(out, "--version").Output()
	if err != nil || !strings.HasPrefix(string(got), "l2fabric v9.8.7 (") {
		t.Fatalf("--version: %q, %v", got, err)
	}
	info, _ := exec.Command(goTool(), "version", "-m", out).Output()
	_, rev, ok := strings.Cut(string(info), "vcs.revision=")
	if !ok {
		t.Logf("the build recorded no commit (a git worktree, or no git), and --version says so: %s", got)
		if !strings.Contains(string(got), "no commit recorded") {
			t.Errorf("--version without a recorded commit: %q", got)
		}
		return
	}
	if want := "(commit " + rev[:12]; !strings.Contains(string(got), want) {
		t.Errorf("--version %q lacks %q", got, want)
	}
}

// TestCLIExitCodes: an unknown command or a malformed flag exits 2 and
// says what is accepted; a daemon that is not there exits 1.
func TestCLIExitCodes(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		args []string
		code int
		want []string
	}{
		{[]string{"frobnicate"}, 2, []string{`unknown command "frobnicate"`, "commands:", "attach", "fdb", "run"}},
		{[]string{"fdb", "teleport"}, 2, []string{`unknown subcommand "teleport"`, "add", "flush"}},
		{[]string{"fdb", "--vlan", "ten"}, 2, []string{"--vlan", "accepted:"}},
		{[]string{"--fdb-aging", "5"}, 2, []string{"--fdb-aging", "5m or 300s"}},
		{[]string{"ports", "--json", "--timeout", "x"}, 2, []string{"--timeout", "5s or 1m"}},
		{[]string{"ports", "--control", "/nonexistent/ctl.sock"}, 1, []string{"/nonexistent/ctl.sock", "is it running?"}},
	} {
		r := runBin(t, tc.args...)
		if r.code != tc.code {
			t.Errorf("l2fabric %s: status %d, want %d: %s", strings.Join(tc.args, " "), r.code, tc.code, r)
		}
		for _, w := range tc.want {
			if !strings.Contains(r.stderr, w) {
				t.Errorf("l2fabric %s: stderr lacks %q: %s", strings.Join(tc.args, " "), w, r)
			}
		}
	}
}

// TestCLIGlobalFlagsEitherSide: --control and --timeout are accepted
// before and after the subcommand and its own flags.
func TestCLIGlobalFlagsEitherSide(t *testing.T) {
	t.Parallel()
	d, _, vms := startSwitch(t, 2)
	for _, args := range [][]string{
		{"--control", d.ctl, "fdb", "--json"},
		{"fdb", "--json", "--control", d.ctl},
		{"--timeout", "3s", "fdb", "--control", d.ctl, "--json"},
		{"fdb", "show", "--port", vms[0].port, "--control=" + d.ctl, "--json"},
		{"--control", d.ctl, "ports", "--json", "--timeout=3s"},
	} {
		if r := runBin(t, args...); r.code != 0 || !strings.HasPrefix(strings.TrimSpace(r.stdout), "[") {
			t.Errorf("l2fabric %s: %s", strings.Join(args, " "), r)
		}
	}
}

// TestCLIFirstLogLineSaysDaemon: a daemon started without a command says
// at once that it is a daemon and where its sockets are.
func TestCLIFirstLogLineSaysDaemon(t *testing.T) {
	t.Parallel()
	d, _, _ := startSwitch(t, 0)
	first, _, _ := strings.Cut(d.log.String(), "\n")
	for _, w := range []string{"starting the l2fabric daemon", d.ctl, "x.sock"} {
		if !strings.Contains(first, w) {
			t.Errorf("first log line lacks %q: %s", w, first)
		}
	}
}

// TestCLIClientTimeout: a client of a stopped daemon gives up after
// --timeout and says the daemon did not answer.
func TestCLIClientTimeout(t *testing.T) {
	t.Parallel()
	d, _, _ := startSwitch(t, 0)
	if err := d.cmd.Process.Signal(syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.cmd.Process.Signal(syscall.SIGCONT) })
	r := d.cli("ports", "--timeout", "300ms")
	if r.code != 1 || !strings.Contains(r.stderr, "did not answer") || !strings.Contains(r.stderr, "--timeout") {
		t.Errorf("ports against a stopped daemon: %s", r)
	}
	d.cmd.Process.Signal(syscall.SIGCONT)
	d.mustCLI("ports")
}

// TestCLICompletion: the bash and zsh scripts load, and bash completes the
// running daemon's port names for detach.
func TestCLICompletion(t *testing.T) {
	t.Parallel()
	d, _, vms := startSwitch(t, 2)
	bash, err := exec.LookPath("bash")
	if err != nil {
		t.Skip("no bash")
	}
	script := fmt.Sprintf(`source <(%[1]q completion bash) && complete -p %[2]s`, bin, filepath.Base(bin))
	if out, err := exec.Command(bash, "-c", script).CombinedOutput(); err != nil || !strings.Contains(string(out), "__start_l2fabric") {
		t.Errorf("bash does not load the completion script: %v\n%s", err, out)
	}
	const lib = "/usr/share/bash-completion/bash_completion"
	if _, err := os.Stat(lib); err == nil {
		script = fmt.Sprintf(`source %s; source <(%[2]q completion bash)
COMP_WORDS=(%[2]q --control %[3]q detach ""); COMP_CWORD=4
COMP_LINE="${COMP_WORDS[*]} "; COMP_POINT=${#COMP_LINE}
__start_l2fabric 2>/dev/null; printf '%%s\n' "${COMPREPLY[@]}"`, lib, bin, d.ctl)
		out, err := exec.Command(bash, "-c", script).Output()
		got := strings.Fields(string(out))
		for _, want := range []string{"x", vms[0].port, vms[1].port} {
			if !slices.Contains(got, want) {
				t.Errorf("bash completes detach with %q, want %s among them (%v)", got, want, err)
			}
		}
	} else {
		missing(t, lib+": dynamic bash completion not tried")
	}
	if zsh, err := exec.LookPath("zsh"); err == nil {
		script := fmt.Sprintf(`autoload -U compinit && compinit -u && source <(%q completion zsh) && print -r -- ${_comps[l2fabric]}`, bin)
		if out, err := exec.Command(zsh, "-c", script).CombinedOutput(); err != nil || strings.TrimSpace(string(out)) != "_l2fabric" {
			t.Errorf("zsh does not load the completion script: %v\n%s", err, out)
		}
	} else {
		missing(t, "no zsh: its completion script not tried")
	}
}

// missing reports a tool the test could not use: an error in CI, whose
// setup.sh installs it, a log line elsewhere.
func missing(t *testing.T, what string) {
	t.Helper()
	if os.Getenv("CI") != "" {
		t.Error(what + " (integration/setup.sh installs it)")
		return
	}
	t.Log(what)
}
