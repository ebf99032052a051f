package main

import (
	"bytes"
	"errors"
	"io"
	"runtime"
	"slices"
	"strings"
	"testing"

	"github.com/spf13/cobra"
)

// executeCmd runs c, a subcommand, alone with args, as the root command
// would run it.
func executeCmd(c *cobra.Command, args []string, stdout, stderr io.Writer) error {
	c.SetArgs(args)
	c.SetOut(stdout)
	c.SetErr(stderr)
	c.SilenceErrors, c.SilenceUsage = true, true
	return c.Execute()
}

func TestParseServiceArgs(t *testing.T) {
	o, err := parseServiceArgs([]string{"--port", "host:en0", "--binary", "/opt/l2fabric", "--label=net.example.sw", "--user", "nobody", "--", "--binary", "x"}, true)
	if err != nil {
		t.Fatal(err)
	}
	if o.binary != "/opt/l2fabric" || o.label != "net.example.sw" || o.goos != runtime.GOOS ||
		!slices.Equal(o.daemonArgs, []string{"--port", "host:en0", "--user", "nobody", "--binary", "x"}) {
		t.Errorf("%+v", o)
	}
	if o, _ := parseServiceArgs([]string{"-h"}, true); !o.help {
		t.Error("-h is not help")
	}
	if _, err := parseServiceArgs([]string{"--binary"}, true); err == nil {
		t.Error("--binary without a value")
	}
	if _, err := parseServiceArgs([]string{"--log="}, true); err == nil {
		t.Error("an empty --log")
	}
	// install has no --for: it is the daemon's (and so refused by it).
	if o, _ := parseServiceArgs([]string{"--for", "macos"}, false); !slices.Equal(o.daemonArgs, []string{"--for", "macos"}) {
		t.Errorf("install --for: %+v", o)
	}
}

func TestAbsoluteConfig(t *testing.T) {
	for _, args := range [][]string{{"--config", "l2fabric.toml"}, {"--config=./x.toml"}} {
		if err := absoluteConfig(args); err == nil || !strings.Contains(err.Error(), "absolute path") {
			t.Errorf("%v: %v", args, err)
		}
	}
	for _, args := range [][]string{{"--config", "/etc/l2fabric.toml"}, {"--config=/x.toml"}, {"--port", "dgram:x"}, {"--config"}} {
		if err := absoluteConfig(args); err != nil {
			t.Errorf("%v: %v", args, err)
		}
	}
}

func TestGeneratorCommand(t *testing.T) {
	got := generatorCommand("print", []string{"--port", "dgram:/tmp/a b.sock", "--static", "it's"})
	if want := `l2fabric service print --port 'dgram:/tmp/a b.sock' --static 'it'\''s'`; got != want {
		t.Errorf("got %s, want %s", got, want)
	}
}

// TestServiceCommandChecksDaemonArgs: print refuses what the daemon would
// refuse, as a usage error, and prints the file otherwise.
func TestServiceCommandChecksDaemonArgs(t *testing.T) {
	var out, errOut bytes.Buffer
	err := executeCmd(newServiceCmd(checkRunArgs), []string{"print", "--binary", "/usr/bin/l2fabric", "--port", "bogus:x"}, &out, &errOut)
	var ue *usageError
	if !errors.As(err, &ue) || !strings.Contains(err.Error(), "unknown port kind") {
		t.Errorf("a bad --port: %v", err)
	}
	out.Reset()
	if err := executeCmd(newServiceCmd(checkRunArgs), []string{"print", "--binary", "/usr/bin/l2fabric", "--port", "dgram:/tmp/x.sock"}, &out, &errOut); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "dgram:/tmp/x.sock") {
		t.Errorf("print:\n%s", out.String())
	}
	if err := executeCmd(newServiceCmd(checkRunArgs), []string{"print", "--for", "plan9"}, &out, &errOut); !errors.As(err, &ue) {
		t.Errorf("--for plan9: %v", err)
	}
}
