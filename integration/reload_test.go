package integration

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
)

// writeFile writes a configuration file.
func writeFile(t *testing.T, path, text string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestReload: SIGHUP, and 'l2fabric reload', re-read the --config file:
// a port added is attached, one removed detached, one whose spec changed
// re-attached; an unchanged port keeps its clients and their learned
// entries, a port attached with 'l2fabric attach' stays, and static
// entries follow the file. A broken file changes nothing and its error
// names the line and the key.
func TestReload(t *testing.T) {
	for _, how := range []string{"sighup", "reload command"} {
		t.Run(how, func(t *testing.T) {
			t.Parallel()
			testReload(t, how)
		})
	}
}

func testReload(t *testing.T, how string) {
	dir := shortTempDir(t)
	sock := func(n string) string { return filepath.Join(dir, n+".sock") }
	conf := filepath.Join(dir, "l2fabric.toml")
	static := func(b byte, port string) string { return fmt.Sprintf("%s@%s", vmMAC(b), port) }
	writeFile(t, conf, fmt.Sprintf(`# the switch of TestReload
fdb-aging = "10m"
port = [
  "dgram:%s",
  "dgram:%s,vlan=1",
  "dgram:%s",
]
static = ["%s", "%s"]
`, sock("x"), sock("y"), sock("z"), static(0x51, "x/a.sock"), static(0x52, "y/q.sock")))
	d := startDaemon(t, dir, "run", "--config", conf)
	d.sockets = append(d.sockets, sock("x"), sock("y"), sock("z"), sock("w"), sock("v"))
	l := newLAN(t, dir)
	a, b := l.join(sock("x"), "a", 1, 1), l.join(sock("x"), "b", 2, 1)
	d.waitPorts(a.port, b.port)
	l.learn(a, b)
	if out := d.mustCLI("attach", "dgram:"+sock("v")); strings.TrimSpace(out) != "attached v" {
		t.Fatalf("attach: %q", out)
	}
	before := entriesByMAC(d.fdb())

	// x unchanged, y's spec changed, z removed, w added; one static
	// removed, one added.
	writeFile(t, conf, fmt.Sprintf(`fdb-aging = "10m"
port = [
  "dgram:%s",
  "dgram:%s,vlan=2",
  "dgram:%s",
]
static = ["%s", "%s"]
`, sock("x"), sock("y"), sock("w"), static(0x51, "x/a.sock"), static(0x53, "w/r.sock")))
	switch how {
	case "sighup":
		if err := d.cmd.Process.Signal(syscall.SIGHUP); err != nil {
			t.Fatal(err)
		}
		eventually(t, "the reload", func() error {
			if !strings.Contains(d.log.String(), "reloaded") {
				return fmt.Errorf("no 'reloaded' in the log")
			}
			return nil
		})
	default:
		out := d.mustCLI("reload")
		for _, w := range []string{"detached y", "detached z", "attached y", "attached w", "1 unchanged", "1 static entries added, 1 removed"} {
			if !strings.Contains(out, w) {
				t.Errorf("reload printed no %q:\n%s", w, out)
			}
		}
	}
	names := d.portNames()
	for _, want := range []string{"x", a.port, b.port, "y", "w", "v"} {
		if !slices.Contains(names, want) {
			t.Errorf("after reload, no port %s: %v", want, names)
		}
	}
	if slices.Contains(names, "z") || isSocket(sock("z")) {
		t.Errorf("z still there after it left the file: ports %v", names)
	}
	if p := d.mustPort("y"); p.VLAN != 2 {
		t.Errorf("y is in VLAN %d after its spec changed to vlan=2", p.VLAN)
	}
	if p := d.mustPort("x"); p.VLAN != 1 {
		t.Errorf("x is in VLAN %d, want 1", p.VLAN)
	}
	after := entriesByMAC(d.fdb())
	for _, v := range []*vm{a, b} {
		if e, ok := after[v.mac.String()]; !ok || e.Port != v.port || e.Static {
			t.Errorf("%s's learned entry changed by the reload: before %+v, after %+v", v.port, before[v.mac.String()], e)
		}
	}
	if e, ok := after[vmMAC(0x51).String()]; !ok || !e.Static || e.Port != a.port {
		t.Errorf("the static entry the file kept is gone: %+v", e)
	}
	// The unchanged port forwards as before, without learning again.
	a.sendTest(b.mac, 1)
	wantIDs(t, "b", l.fence(a, b)[b], 1)
	if s := d.stats(); s.FDB.Learned != 2 {
		t.Errorf("%d addresses learned, want the first 2 only", s.FDB.Learned)
	}

	// A broken file: rejected, naming the line and the key; nothing changes.
	for _, bad := range []struct{ text, want string }{
		{fmt.Sprintf("port = [\n  \"dgram:%s\",\n  \"dgram:%s,vlan=5000\",\n]\n", sock("x"), sock("y")), ":3: port"},
		{"fdb-aging = \"10m\"\ncolour = \"red\"\n", ":2: colour: unknown key"},
		{"port = [\"dgram:" + sock("x") + "\",\n", ":1:"},
	} {
		writeFile(t, conf, bad.text)
		switch how {
		case "sighup":
			n := strings.Count(d.log.String(), "reload rejected")
			d.cmd.Process.Signal(syscall.SIGHUP)
			eventually(t, "the rejected reload", func() error {
				if strings.Count(d.log.String(), "reload rejected") == n {
					return fmt.Errorf("no new 'reload rejected' in the log")
				}
				return nil
			})
			if !strings.Contains(d.log.String(), conf+bad.want) {
				t.Errorf("the log does not name %q", conf+bad.want)
			}
		default:
			r := d.cli("reload")
			if r.code != 1 || !strings.Contains(r.stderr, conf+bad.want) || !strings.Contains(r.stderr, "nothing changed") {
				t.Errorf("reload of a broken file: want status 1 naming %q: %s", conf+bad.want, r)
			}
		}
		if got := d.portNames(); !slices.Equal(got, names) {
			t.Errorf("a rejected reload changed the ports: %v, was %v", got, names)
		}
	}
	a.sendTest(b.mac, 2)
	wantIDs(t, "b", l.fence(a, b)[b], 2)

	// A port of the file detached by hand comes back with the next reload.
	writeFile(t, conf, fmt.Sprintf("port = [\"dgram:%s\", \"dgram:%s\"]\n", sock("x"), sock("w")))
	d.mustCLI("reload")
	d.mustCLI("detach", "w")
	if out := d.mustCLI("reload"); !strings.Contains(out, "attached w") {
		t.Errorf("reload after detach w: %s", out)
	}
	if p := d.mustPort("w"); p.State != "listening" {
		t.Errorf("w is %q after the reload, want listening", p.State)
	}
}

// TestReloadWithoutConfig: SIGHUP to a daemon without --config is logged
// and ignored, and the reload command says why it cannot.
func TestReloadWithoutConfig(t *testing.T) {
	t.Parallel()
	d, _, _ := startSwitch(t, 0)
	d.cmd.Process.Signal(syscall.SIGHUP)
	eventually(t, "the SIGHUP warning", func() error {
		if !strings.Contains(d.log.String(), "nothing to reload") {
			return fmt.Errorf("not logged")
		}
		return nil
	})
	if r := d.cli("reload"); r.code != 1 || !strings.Contains(r.stderr, "without --config") {
		t.Errorf("reload without --config: %s", r)
	}
	d.mustCLI("ports")
}
