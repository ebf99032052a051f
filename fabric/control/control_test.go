package control_test

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/l2fabric/l2fabric/fabric"
	"github.com/l2fabric/l2fabric/fabric/control"
	"github.com/l2fabric/l2fabric/fabric/fabrictest"
)

func serve(t *testing.T) (*fabric.Fabric, string) {
	t.Helper()
	f, err := fabric.New(fabric.Config{})
	if err != nil {
		t.Fatal(err)
	}
	d, err := os.MkdirTemp("", "ctl")
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(d, "ctl.sock")
	srv, err := control.Listen(control.ServerConfig{Path: path, Version: "test"}, f)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	fdone, sdone := make(chan struct{}), make(chan struct{})
	go func() { f.Run(ctx); close(fdone) }()
	go func() { srv.Serve(ctx); close(sdone) }()
	t.Cleanup(func() {
		cancel()
		<-fdone
		<-sdone
		if _, err := os.Stat(path); !os.IsNotExist(err) {
			t.Errorf("control socket left behind: %v", err)
		}
		os.RemoveAll(d)
	})
	return f, path
}

func TestSocketModeAndSecondServer(t *testing.T) {
	f, path := serve(t)
	fi, err := os.Stat(path)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("control socket mode %v, %v; want 0600", fi.Mode().Perm(), err)
	}
	if _, err := control.Listen(control.ServerConfig{Path: path}, f); err == nil || !strings.Contains(err.Error(), "another l2fabric is running") {
		t.Errorf("second server on a live socket: %v", err)
	}
}

func TestCommands(t *testing.T) {
	f, path := serve(t)
	p := fabrictest.New(4)
	if err := f.Attach(p, fabric.PortConfig{Name: "vm1", Kind: "test"}); err != nil {
		t.Fatal(err)
	}
	c, err := control.Dial(path)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	var v control.VersionResult
	if err := c.Call("version", nil, &v); err != nil || v.Version != "test" {
		t.Errorf("version = %+v, %v", v, err)
	}
	if err := c.Call("fdb.add", control.FDBAddArgs{MAC: "52:54:00:00:00:01", Port: "vm1", VLAN: 1}, nil); err != nil {
		t.Fatal(err)
	}
	var entries []map[string]any
	if err := c.Call("fdb.show", control.FDBShowArgs{Port: "vm1"}, &entries); err != nil {
		t.Fatal(err)
	}
	if len(entries) != 1 {
		t.Fatalf("entries = %v", entries)
	}
	for _, key := range []string{"mac", "vlan", "port", "static", "age_seconds"} {
		if _, ok := entries[0][key]; !ok {
			t.Errorf("fdb entry lacks %q: %v", key, entries[0])
		}
	}
	if entries[0]["static"] != true || entries[0]["mac"] != "52:54:00:00:00:01" {
		t.Errorf("entry = %v", entries[0])
	}
	var ports []fabric.PortInfo
	if err := c.Call("ports", nil, &ports); err != nil || len(ports) != 1 || ports[0].Name != "vm1" || ports[0].FDB != 1 {
		t.Errorf("ports = %+v, %v", ports, err)
	}
	var st fabric.Stats
	if err := c.Call("stats", nil, &st); err != nil || st.FDB.Static != 1 || st.Ports != 1 {
		t.Errorf("stats = %+v, %v", st, err)
	}
	if err := c.Call("fdb.del", control.FDBDelArgs{MAC: "52:54:00:00:00:01"}, nil); err != nil {
		t.Error(err)
	}
	var nat []fabric.NATDumpEntry
	if err := c.Call("macnat.show", control.MACNATShowArgs{Port: "vm1"}, &nat); err != nil || nat == nil || len(nat) != 0 {
		t.Errorf("macnat.show on a fabric without MAC-NAT = %#v, %v; want an empty list", nat, err)
	}
	var fr control.FlushResult
	if err := c.Call("fdb.flush", nil, &fr); err != nil || fr.Flushed != 0 {
		t.Errorf("flush = %+v, %v", fr, err)
	}
	if err := c.Call("detach", control.DetachArgs{Name: "vm1"}, nil); err != nil || !p.Closed() {
		t.Errorf("detach: %v, closed=%v", err, p.Closed())
	}
}

func TestBadRequestsGetErrorsAndChangeNothing(t *testing.T) {
	f, path := serve(t)
	if err := f.Attach(fabrictest.New(4), fabric.PortConfig{Name: "vm1"}); err != nil {
		t.Fatal(err)
	}
	c, err := control.Dial(path)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	for _, tc := range []struct {
		cmd  string
		args any
		want string
	}{
		{"nope", nil, `unknown command "nope"; commands: attach, capture, debug, detach, fdb.add, fdb.del, fdb.flush, fdb.show, help, macnat.show, monitor, port.unblock, ports, reload, stats, version, vxlan.remote`},
		{"fdb.add", control.FDBAddArgs{MAC: "01:00:5e:00:00:01", Port: "vm1"}, "not a unicast"},
		{"fdb.add", control.FDBAddArgs{MAC: "zz", Port: "vm1"}, "bad MAC"},
		{"fdb.add", control.FDBAddArgs{MAC: "52:54:00:00:00:01", Port: "ghost"}, `no port named "ghost"`},
		{"fdb.add", map[string]any{"mac": "52:54:00:00:00:01", "port": "vm1", "colour": 1}, `unknown argument "colour" (arguments: "mac": a string, "port": a string, "vlan": a number from 0 to 65535, "dst": a string)`},
		{"fdb.show", map[string]any{"vlan": "ten"}, `fdb.show: argument "vlan" is a string, want a number from 0 to 65535`},
		{"fdb.del", map[string]any{"mac": "52:54:00:00:00:01", "vlan": 70000}, `argument "vlan" is the number 70000, want a number from 0 to 65535`},
		{"fdb.flush", []int{1}, `fdb.flush: args are an array, want an object {"port": a string}`},
		{"ports", map[string]any{"x": 1}, "ports takes no args"},
		{"reload", nil, "started without --config"},
		{"fdb.show", control.FDBShowArgs{Port: "ghost"}, `no port or device named "ghost" (there are: vm1)`},
		{"fdb.show", control.FDBShowArgs{VLAN: 5000}, "vlan 5000 is not a VLAN from 1 to 4094"},
		{"fdb.del", control.FDBDelArgs{MAC: "52:54:00:00:00:02"}, "no entry"},
		{"detach", control.DetachArgs{Name: "ghost"}, `no port or device named "ghost"`},
		{"attach", control.AttachArgs{Spec: "warp:/x"}, "unknown port kind"},
		{"attach", control.AttachArgs{}, "spec is required"},
		{"macnat.show", control.MACNATShowArgs{Port: "ghost"}, `no port or device named "ghost"`},
	} {
		err := c.Call(tc.cmd, tc.args, nil)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s %v: error %v, want %q", tc.cmd, tc.args, err, tc.want)
		}
	}
	if len(f.Ports()) != 1 || len(f.Entries()) != 0 {
		t.Errorf("bad requests changed the fabric: ports %v entries %v", f.Ports(), f.Entries())
	}
}

func TestHandleMalformedLines(t *testing.T) {
	f, err := fabric.New(fabric.Config{})
	if err != nil {
		t.Fatal(err)
	}
	d, _ := os.MkdirTemp("", "ctl")
	defer os.RemoveAll(d)
	srv, err := control.Listen(control.ServerConfig{Path: filepath.Join(d, "c.sock")}, f)
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range []string{`{`, `[]`, `"x"`, `{"command":1}`, `{"command":"fdb.show","args":"x"}`, `{"cmd":"ports"}`, "\x00\xff"} {
		r := srv.Handle([]byte(line))
		if r.OK || r.Error == "" {
			t.Errorf("Handle(%q) = %+v, want an error", line, r)
		}
		if _, err := json.Marshal(r); err != nil {
			t.Errorf("response to %q does not encode: %v", line, err)
		}
	}
}

// FuzzHandle checks that no request line makes the server panic and that
// every reply is well-formed.
func FuzzHandle(f *testing.F) {
	fab, err := fabric.New(fabric.Config{})
	if err != nil {
		f.Fatal(err)
	}
	d, _ := os.MkdirTemp("", "ctl")
	defer os.RemoveAll(d)
	srv, err := control.Listen(control.ServerConfig{Path: filepath.Join(d, "c.sock")}, fab)
	if err != nil {
		f.Fatal(err)
	}
	for _, s := range []string{`{"command":"ports"}`, `{"command":"fdb.add","args":{"mac":"02:00:00:00:00:01","port":"x"}}`,
		`{"command":"fdb.del","args":{"mac":"02:00:00:00:00:01","vlan":99999}}`, `{"command":"detach","args":{"name":""}}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, line []byte) {
		r := srv.Handle(line)
		if r.OK == (r.Error != "") {
			t.Fatalf("reply %+v is neither a result nor an error", r)
		}
	})
}

// TestHelpListsEveryCommand: the help command answers from the same table
// that dispatch uses, so every command it lists is one the server knows.
func TestHelpListsEveryCommand(t *testing.T) {
	_, path := serve(t)
	c, err := control.Dial(path)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	var help []control.CommandHelp
	if err := c.Call("help", nil, &help); err != nil {
		t.Fatal(err)
	}
	if len(help) < 10 {
		t.Fatalf("help lists %d commands: %+v", len(help), help)
	}
	for _, h := range help {
		if h.Help == "" {
			t.Errorf("%s has no help", h.Name)
		}
		if h.Name == "capture" || h.Name == "monitor" {
			continue // they turn the connection into a stream: stream_test.go
		}
		err := c.Call(h.Name, nil, nil)
		if err != nil && strings.Contains(err.Error(), "unknown command") {
			t.Errorf("help lists %s, which the server does not know", h.Name)
		}
	}
	if h := help[len(help)-1]; h.Name != "monitor" {
		t.Errorf("last command %q, want monitor (the table's order)", h.Name)
	}
}

// TestReloadHook: reload calls ServerConfig.Reload and answers its
// result or its error.
func TestReloadHook(t *testing.T) {
	f, err := fabric.New(fabric.Config{})
	if err != nil {
		t.Fatal(err)
	}
	d := t.TempDir()
	calls := 0
	srv, err := control.Listen(control.ServerConfig{Path: filepath.Join(d, "c.sock"), Reload: func() (control.ReloadResult, error) {
		calls++
		if calls == 2 {
			return control.ReloadResult{}, errors.New("l2fabric.toml:3: flow-hold: bad")
		}
		return control.ReloadResult{Attached: []string{"a"}, Unchanged: 2}, nil
	}}, f)
	if err != nil {
		t.Fatal(err)
	}
	r := srv.Handle([]byte(`{"command":"reload"}`))
	var res control.ReloadResult
	if !r.OK || json.Unmarshal(r.Result, &res) != nil || len(res.Attached) != 1 || res.Unchanged != 2 {
		t.Errorf("reload = %+v", r)
	}
	if r := srv.Handle([]byte(`{"command":"reload"}`)); r.OK || !strings.Contains(r.Error, "l2fabric.toml:3: flow-hold") {
		t.Errorf("failed reload = %+v", r)
	}
}

// TestListenNamesMissingDirectory: a control socket in a directory that
// does not exist says which directory.
func TestListenNamesMissingDirectory(t *testing.T) {
	f, err := fabric.New(fabric.Config{})
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "nodir")
	_, err = control.Listen(control.ServerConfig{Path: filepath.Join(dir, "ctl.sock")}, f)
	if err == nil || !strings.Contains(err.Error(), "the directory "+dir+" does not exist") {
		t.Errorf("Listen in a missing directory: %v", err)
	}
}
