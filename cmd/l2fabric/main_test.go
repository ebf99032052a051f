package main

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/l2fabric/l2fabric/fabric"
	"github.com/l2fabric/l2fabric/frames"
)

func TestBadCommandLinesFailAtStart(t *testing.T) {
	tests := []struct {
		args []string
		want []string // all must appear in stderr
	}{
		{[]string{"--port", "dgram:/tmp/x.sock,vlan=5000"}, []string{"--port", `"vlan=5000"`, "1 to 4094"}},
		{[]string{"--port", "warp:/x"}, []string{"--port", "unknown port kind", "dgram"}},
		{[]string{"--port", "dgram:/x,colour=red"}, []string{"--port", `"colour=red"`, "accepted:", "trunk", "dgram:PATH,peer=PEERPATH"}},
		{[]string{"--port", "dgram"}, []string{"--port", "no port kind", "KIND:ARG"}},
		{[]string{"--port", "dgram:/x,trunk=10,20"}, []string{"--port", `"20"`}},
		{[]string{"--fdb-aging", "1ms"}, []string{"--fdb-aging", "1ms", "5m"}},
		{[]string{"--fdb-aging", "soon"}, []string{"--fdb-aging", "soon"}},
		{[]string{"--fdb-max", "0"}, []string{"--fdb-max", "1 to"}},
		{[]string{"--static", "zz@a"}, []string{"--static", `"zz@a"`, "bad MAC"}},
		{[]string{"--static", "02:00:00:00:00:01"}, []string{"--static", "MAC@PORT"}},
		{[]string{"--static", "01:00:5e:00:00:01@a"}, []string{"--static", "not a unicast"}},
		{[]string{"--static", "02:00:00:00:00:01@a,vlan=0"}, []string{"--static", "1 to 4094"}},
		{[]string{"--flow-hold", "-1ms"}, []string{"--flow-hold", "0 (never wait)", "5ms"}},
		{[]string{"--flow-hold", "2s"}, []string{"--flow-hold", "2s", "1s"}},
		{[]string{"--flow-stall", "0s"}, []string{"--flow-stall", "10ms"}},
		{[]string{"--log-level", "loud"}, []string{"--log-level", "loud"}},
		{[]string{"--loop-detect", "sometimes"}, []string{"--loop-detect", "on or off"}},
		{[]string{"--storm", "-5"}, []string{"--storm", "--storm 1000"}},
		{[]string{"--port", "dgram:/x,storm=0"}, []string{"--port", `"storm=0"`, "e.g. storm=1000"}},
		{[]string{"port", "unblock"}, []string{"port unblock: want one port name"}},
		{[]string{"port", "wiggle"}, []string{`unknown subcommand "wiggle"`}},
		{[]string{"--bogus"}, []string{"unknown flag: --bogus"}},
		{[]string{"run", "extra"}, []string{`unexpected argument "extra"`, "--port"}},
		{[]string{"frobnicate"}, []string{`unknown command "frobnicate"`, "commands: attach", "fdb", "run"}},
		{[]string{"--fdb-aging", "5"}, []string{"--fdb-aging", `"5" is not a duration`, "5m or 300s"}},
		{[]string{"fdb", "--vlan", "x"}, []string{"fdb:", "--vlan", "accepted:", "uint16"}},
		{[]string{"fdb", "add"}, []string{"fdb add: want one MAC@PORT"}},
		{[]string{"help", "frobnicate"}, []string{`help: no command "frobnicate"; commands: attach`}},
		{[]string{"help", "fdb", "frob"}, []string{`help: no command "fdb frob"; commands: add, del, flush, show`}},
		{[]string{"completion"}, []string{"completion: want a shell: bash, fish, powershell, zsh"}},
		{[]string{"completion", "tcsh"}, []string{`unknown subcommand "tcsh"`}},
		{[]string{"detach", "a", "b"}, []string{"want a port or device name"}},
		{[]string{"ports", "extra"}, []string{`unexpected argument "extra"`}},
		{[]string{"--timeout", "soon", "ports"}, []string{"--timeout", "5s or 1m"}},
		{[]string{"run", "--config", "/nonexistent/l2fabric.toml"}, []string{"--config", "/nonexistent/l2fabric.toml", "no such file"}},
		{[]string{"fdb", "add", "zz@vm"}, []string{"fdb add", "bad MAC"}},
		{[]string{"fdb", "teleport"}, []string{`unknown subcommand "teleport"`}},
		{[]string{"attach"}, []string{"attach: want one port spec"}},
		{[]string{"attach", "dgram:/x,vlan=0"}, []string{"attach", `"vlan=0"`}},
		{[]string{"macnat", "wifi", "extra"}, []string{"macnat", `unexpected argument "extra"`, "at most one port"}},
		{[]string{"macnat", "--colour"}, []string{"macnat", "unknown flag: --colour"}},
		{[]string{"--port", "host:en0,macnat=maybe"}, []string{"--port", `"macnat=maybe"`, "auto, on or off"}},
		{[]string{"--port", "host:en0,macnat=on,trunk=10"}, []string{"--port", "access ports only", "drop trunk="}},
		{[]string{"--port", "host:en0,macnat-max=0"}, []string{"--port", "1-65536"}},
	}
	for _, tt := range tests {
		var stdout, stderr bytes.Buffer
		code := Main(tt.args, &stdout, &stderr)
		if code != exitUsage {
			t.Errorf("%v: exit %d, want %d (stderr %q)", tt.args, code, exitUsage, stderr.String())
		}
		for _, w := range tt.want {
			if !strings.Contains(stderr.String(), w) {
				t.Errorf("%v: stderr %q does not mention %q", tt.args, stderr.String(), w)
			}
		}
	}
}

func TestClientWithoutDaemonSaysSo(t *testing.T) {
	for _, cmd := range []string{"ports", "macnat"} {
		var stdout, stderr bytes.Buffer
		code := Main([]string{cmd, "--control", "/nonexistent/l2fabric.sock"}, &stdout, &stderr)
		if code != 1 || !strings.Contains(stderr.String(), "is it running?") {
			t.Errorf("%s: exit %d, stderr %q", cmd, code, stderr.String())
		}
	}
}

func TestFlowFlags(t *testing.T) {
	for _, tt := range []struct {
		args []string
		want fabric.FlowControl
	}{
		{nil, fabric.FlowControl{MaxHold: fabric.DefaultMaxHold, StallAfter: fabric.DefaultStallAfter}},
		{[]string{"--flow-hold", "0"}, fabric.FlowControl{NoWait: true, StallAfter: fabric.DefaultStallAfter}},
		{[]string{"--flow-hold", "1ms", "--flow-stall", "50ms"}, fabric.FlowControl{MaxHold: time.Millisecond, StallAfter: 50 * time.Millisecond}},
	} {
		rc, err := parseRun(t, append([]string{"--port", "dgram:/tmp/x.sock"}, tt.args...)...)
		if err != nil {
			t.Fatalf("%v: %v", tt.args, err)
		}
		if rc.flow != tt.want {
			t.Errorf("%v: flow control %+v, want %+v", tt.args, rc.flow, tt.want)
		}
	}
}

func TestParseStatic(t *testing.T) {
	st, err := parseStatic("52:54:00:12:34:56@router,vlan=10")
	if err != nil {
		t.Fatal(err)
	}
	if st.MAC != (frames.MAC{0x52, 0x54, 0, 0x12, 0x34, 0x56}) || st.Port != "router" || st.VLAN != 10 {
		t.Errorf("parsed %+v", st)
	}
	st, err = parseStatic("52:54:00:12:34:56@vms/vm1.sock")
	if err != nil || st.Port != "vms/vm1.sock" || st.VLAN != 1 {
		t.Errorf("parsed %+v, %v", st, err)
	}
	for _, bad := range []string{"", "@x", "52:54:00:12:34:56@", "52:54:00:12:34:56@r,mtu=1", "52:54:00:12:34:56@r,vlan=x"} {
		if _, err := parseStatic(bad); err == nil {
			t.Errorf("parseStatic(%q) accepted", bad)
		}
	}
}

func TestHelpListsKindsAndOptions(t *testing.T) {
	var stdout, stderr bytes.Buffer
	if code := Main([]string{"help", "specs"}, &stdout, &stderr); code != 0 {
		t.Fatalf("exit %d", code)
	}
	for _, w := range []string{"dgram:PATH", "dgram:fd=N", "trunk=LIST", "mac=MAC", "host:IFACE[,promisc=on|off]", "promisc=..."} {
		if !strings.Contains(stdout.String(), w) {
			t.Errorf("help lacks %q", w)
		}
	}
}

// FuzzParseStatic checks --static parsing never panics.
func FuzzParseStatic(f *testing.F) {
	for _, s := range []string{"52:54:00:12:34:56@router,vlan=10", "@", "x@y,z", "02:00:00:00:00:01@a,vlan=4094"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		st, err := parseStatic(s)
		if err == nil && (!st.MAC.IsUnicast() || st.Port == "" || st.VLAN < 1 || st.VLAN > 4094) {
			t.Fatalf("parseStatic(%q) accepted %+v", s, st)
		}
	})
}
