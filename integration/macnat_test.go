//go:build linux

package integration

import (
	"context"
	"encoding/base64"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"
)

// The MAC-NAT tests put l2fabric's host port on an emulated Wi-Fi access
// point: a Linux bridge whose port to the station is locked, admitting
// only source MACs with a static entry on that port (the station's own),
// as an access point drops frames from any MAC but an associated
// station's. dnsmasq on a LAN host behind the bridge serves DHCPv4 and
// router advertisements.

const (
	wifiMAC = "02:1f:00:00:00:01"
	lanV4   = "198.18.20.1"
	lanV6   = "2001:db8:20::1"
)

// wifiLAN is the emulated access point, its LAN host, and the station's
// namespace (where l2fabric runs) with its Wi-Fi interface "wifi".
type wifiLAN struct {
	sw, lan *netns
	dir     string
}

func newWiFiLAN(t *testing.T) *wifiLAN {
	t.Helper()
	requireNetAdmin(t)
	if _, err := exec.LookPath("dnsmasq"); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("needs dnsmasq (integration/setup.sh)")
		}
		t.Skip("needs dnsmasq (integration/setup.sh)")
	}
	w := &wifiLAN{dir: shortTempDir(t)}
	ap := newNetns(t, "ap")
	ap.ip("link", "add", "br0", "type", "bridge")
	ap.ip("link", "set", "br0", "up")
	w.lan = newNetns(t, "lan")
	cable(t, w.lan, "eth0", ap, "lanp")
	w.sw = newNetns(t, "sta")
	mustRun(t, "ip", "link", "add", "wifi", "netns", w.sw.name, "address", wifiMAC, "type", "veth", "peer", "name", "stap", "netns", ap.name)
	w.sw.ip("link", "set", "wifi", "up")
	ap.ip("link", "set", "stap", "up")
	for _, p := range []string{"lanp", "stap"} {
		ap.ip("link", "set", p, "master", "br0")
	}
	// The station's own entry: replace, since the bridge may already
	// have learned it from the station's first frames.
	mustRun(t, "ip", "netns", "exec", ap.name, "bridge", "link", "set", "dev", "stap", "locked", "on", "learning", "off")
	mustRun(t, "ip", "netns", "exec", ap.name, "bridge", "fdb", "replace", wifiMAC, "dev", "stap", "master", "static")

	w.lan.ip("addr", "add", lanV4+"/24", "dev", "eth0")
	w.lan.ip("addr", "add", lanV6+"/64", "dev", "eth0", "nodad")
	dnsmasq := exec.Command("ip", "netns", "exec", w.lan.name, "dnsmasq", "--no-daemon", "--conf-file=/dev/null",
		"--port=0", "--interface=eth0", "--bind-interfaces", "--user=root", "--log-dhcp",
		"--dhcp-range=198.18.20.100,198.18.20.150,255.255.255.0,1h", "--dhcp-range=2001:db8:20::,ra-only,64",
		"--enable-ra", "--ra-param=eth0,3", "--dhcp-leasefile="+filepath.Join(w.dir, "leases"), "--pid-file="+filepath.Join(w.dir, "dnsmasq.pid"))
	var log lockedOutput
	dnsmasq.Stdout, dnsmasq.Stderr = &log, &log
	if err := dnsmasq.Start(); err != nil {
		t.Fatalf("dnsmasq: %v", err)
	}
	t.Cleanup(func() {
		dnsmasq.Process.Kill()
		dnsmasq.Wait()
		if t.Failed() {
			t.Logf("dnsmasq log:\n%s", log.String())
		}
	})
	// A web server on the LAN host, for TCP.
	w.serveHTTP(t, w.lan, "lan")
	return w
}

// serveHTTP runs busybox httpd in n, serving a file whose content is who.
func (w *wifiLAN) serveHTTP(t *testing.T, n *netns, who string) {
	t.Helper()
	root := filepath.Join(w.dir, "www-"+who)
	os.MkdirAll(root, 0o755)
	os.WriteFile(filepath.Join(root, "who"), []byte(who+"\n"), 0o644)
	cmd := exec.Command("ip", "netns", "exec", n.name, "busybox", "httpd", "-f", "-p", "8080", "-h", root)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
}

// vmNS makes a namespace that is a VM behind the fabric: its eth0 (with
// mac) is cabled to dev in the station's namespace, down and with no
// address yet.
func (w *wifiLAN) vmNS(t *testing.T, role, dev, mac string) *netns {
	t.Helper()
	v := newNetns(t, role)
	mustRun(t, "ip", "link", "add", "eth0", "netns", v.name, "address", mac, "type", "veth", "peer", "name", dev, "netns", w.sw.name)
	w.sw.ip("link", "set", dev, "up")
	return v
}

// udhcpcScript is the script busybox udhcpc runs: it puts the leased
// address on the interface.
const udhcpcScript = `#!/bin/sh
case "$1" in
bound|renew) ip addr add "$ip/$mask" dev "$interface" ;;
esac
exit 0
`

var (
	leasedV4 = regexp.MustCompile(`inet (198\.18\.20\.\d+)/24`)
	slaacV6  = regexp.MustCompile(`inet6 (2001:db8:20:[0-9a-f:]+)/64 scope global`)
)

// lease runs udhcpc in v and returns the address it got.
func (w *wifiLAN) lease(t *testing.T, v *netns) (string, error) {
	t.Helper()
	script := filepath.Join(w.dir, "udhcpc.sh")
	os.WriteFile(script, []byte(udhcpcScript), 0o755)
	out, err := v.exec("busybox", "udhcpc", "-i", "eth0", "-n", "-q", "-f", "-t", "4", "-T", "2", "-s", script)
	if err != nil {
		return "", fmt.Errorf("udhcpc: %v\n%s", err, out)
	}
	m := leasedV4.FindStringSubmatch(v.ip("-4", "addr", "show", "dev", "eth0"))
	if m == nil {
		return "", fmt.Errorf("no leased address on eth0 after udhcpc:\n%s", out)
	}
	return m[1], nil
}

// slaac waits for a SLAAC address from the LAN's prefix to show in
// show's output (router advertisements come every few seconds).
func slaac(t *testing.T, what string, show func() string) string {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for {
		out := show()
		if m := slaacV6.FindStringSubmatch(out); m != nil {
			return m[1]
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s formed no SLAAC address from 2001:db8:20::/64:\n%s", what, out)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// fetch gets http://addr:8080/who from n and checks the answer is want.
// (busybox wget's own -T crashes; timeout bounds it instead.)
func fetch(t *testing.T, n *netns, addr, want string) {
	t.Helper()
	url := "http://" + addr + ":8080/who"
	if strings.Contains(addr, ":") {
		url = "http://[" + addr + "]:8080/who"
	}
	var out string
	var err error
	for try := 0; try < 20; try++ {
		if out, err = n.exec("timeout", "5", "busybox", "wget", "-q", "-O", "-", url); err == nil && strings.TrimSpace(out) == want {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("%s: TCP to %s: %v %q, want %q", n.name, url, err, out, want)
}

// TestMACNATWiFiLAN: two VMs (namespaces on host: ports) and a qemu guest
// behind a MAC-NAT host port on the emulated Wi-Fi each get their own
// DHCPv4 lease and a SLAAC address, and reach the LAN host over IPv4 and
// IPv6, both ways, ping and TCP.
func TestMACNATWiFiLAN(t *testing.T) {
	w := newWiFiLAN(t)
	vm1 := w.vmNS(t, "vm1", "va", "52:54:00:20:00:01")
	vm2 := w.vmNS(t, "vm2", "vb", "52:54:00:20:00:02")
	vms := filepath.Join(w.dir, "vms.sock")
	d := startDaemonIn(t, w.sw.name, w.dir, "--port", "host:wifi,macnat=on", "--port", "host:va", "--port", "host:vb", "--port", "dgram:"+vms)
	for _, v := range []*netns{vm1, vm2} {
		v.ip("link", "set", "eth0", "up")
	}

	type station struct {
		name     string
		v4, v6   string
		run      func(cmd ...string) (string, error)
		fetchLAN func(addr string)
	}
	var stations []station
	leases := map[string]string{}
	for _, v := range []*netns{vm1, vm2} {
		v4, err := w.lease(t, v)
		if err != nil {
			t.Fatalf("%s: %v", v.name, err)
		}
		v6 := slaac(t, v.name, func() string { return v.ip("-6", "addr", "show", "dev", "eth0") })
		w.serveHTTP(t, v, v.name)
		stations = append(stations, station{name: v.name, v4: v4, v6: v6, run: v.exec,
			fetchLAN: func(addr string) { fetch(t, v, addr, "lan") }})
	}

	cfg := dgramGuest(w.dir, "guest", "52:54:00:20:00:03", "", vms)
	cfg.IPv6 = true
	g := bootGuests(t, w.dir, cfg)[0]
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	guestRun := func(cmd string) string {
		t.Helper()
		out, code, err := g.Run(ctx, cmd)
		if err != nil || code != 0 {
			t.Fatalf("guest: %s: exit %d, %v\n%s", cmd, code, err, out)
		}
		return out
	}
	guestRun("echo " + base64.StdEncoding.EncodeToString([]byte(udhcpcScript)) + " | base64 -d > /tmp/udhcpc.sh && chmod +x /tmp/udhcpc.sh")
	guestRun("udhcpc -i eth0 -n -q -f -t 4 -T 2 -s /tmp/udhcpc.sh")
	m := leasedV4.FindStringSubmatch(guestRun("ip -4 addr show dev eth0"))
	if m == nil {
		t.Fatal("guest has no leased address")
	}
	gv6 := slaac(t, "guest", func() string { out, _, _ := g.Run(ctx, "ip -6 addr show dev eth0"); return out })
	guestRun("mkdir -p /tmp/www && echo guest > /tmp/www/who && httpd -p 8080 -h /tmp/www")
	stations = append(stations, station{name: "guest", v4: m[1], v6: gv6,
		fetchLAN: func(addr string) {
			url := "http://" + addr + ":8080/who"
			if strings.Contains(addr, ":") {
				url = "http://[" + addr + "]:8080/who"
			}
			if out := guestRun("timeout 10 wget -q -O - " + url); strings.TrimSpace(out) != "lan" {
				t.Fatalf("guest: TCP to %s: %q", url, out)
			}
		}})

	for _, s := range stations {
		if other, dup := leases[s.v4]; dup {
			t.Fatalf("%s and %s got the same lease %s", s.name, other, s.v4)
		}
		leases[s.v4] = s.name
		t.Logf("%s: %s, %s", s.name, s.v4, s.v6)
		// The station reaches the LAN host (ping, TCP), IPv4 and IPv6 ...
		if s.run != nil {
			for _, a := range []string{lanV4, lanV6} {
				if out, err := s.run("busybox", "ping", "-c", "2", "-W", "2", a); err != nil {
					t.Fatalf("%s cannot ping %s: %v\n%s", s.name, a, err, out)
				}
			}
		} else {
			guestPing(t, g, lanV4)
			guestRun("ping -c 2 -W 2 " + lanV6)
		}
		s.fetchLAN(lanV4)
		s.fetchLAN(lanV6)
		// ... and the LAN host reaches the station.
		w.lan.ping(s.v4)
		w.lan.ping(s.v6)
		fetch(t, w.lan, s.v4, s.name)
		fetch(t, w.lan, s.v6, s.name)
	}

	// The LAN saw one MAC: every station's addresses resolve to the
	// station interface's.
	neigh := w.lan.ip("neigh", "show", "dev", "eth0")
	for _, s := range stations {
		for _, a := range []string{s.v4, s.v6} {
			if !regexp.MustCompile(regexp.QuoteMeta(a) + ` lladdr ` + wifiMAC).MatchString(neigh) {
				t.Errorf("the LAN host's neighbour entry for %s is not %s:\n%s", a, wifiMAC, neigh)
			}
		}
	}

	// The dump shows each station's addresses behind its port.
	var table []struct {
		NATPort string `json:"nat_port"`
		IP      string `json:"ip"`
		MAC     string `json:"mac"`
		Port    string `json:"port"`
		Host    bool   `json:"host"`
	}
	if err := d.jsonCLI(&table, "macnat", "--json"); err != nil {
		t.Fatal(err)
	}
	byIP := map[string]string{}
	for _, e := range table {
		byIP[e.IP] = e.Port
	}
	for _, s := range stations {
		if byIP[s.v4] == "" || byIP[s.v6] == "" {
			t.Errorf("macnat table lacks %s's addresses %s, %s: %+v", s.name, s.v4, s.v6, table)
		}
	}
	if byIP[stations[0].v4] != "va" {
		t.Errorf("vm1's address is behind %q, want va", byIP[stations[0].v4])
	}
	t.Logf("l2fabric macnat:\n%s", d.mustCLI("macnat"))
	wifi := d.mustPort("wifi")
	if !strings.Contains(wifi.Info, "macnat on") {
		t.Errorf("ports shows wifi's info as %q, want macnat on", wifi.Info)
	}
}

// TestMACNATOffNoLease: with MAC-NAT off, the access point drops the VM's
// frames and it gets no lease, which shows the emulation is real.
func TestMACNATOffNoLease(t *testing.T) {
	w := newWiFiLAN(t)
	vm1 := w.vmNS(t, "vm1", "va", "52:54:00:20:00:01")
	startDaemonIn(t, w.sw.name, w.dir, "--port", "host:wifi,macnat=off", "--port", "host:va")
	vm1.ip("link", "set", "eth0", "up")
	if addr, err := w.lease(t, vm1); err == nil {
		t.Fatalf("the VM got lease %s through a locked access point port without MAC-NAT", addr)
	}
}

// BenchmarkTCPThroughMACNAT measures, in one run, iperf3 TCP throughput
// between a VM (a namespace on a host: port) and a LAN host behind a
// bridge, through l2fabric's host port with MAC-NAT and without it, both
// directions, and reports each and the ratio macnat/plain. The bridge
// admits every MAC, so that the path without MAC-NAT works too. Run it
// with:
//
//	go test -run '^$' -bench TCPThroughMACNAT -benchtime 1x ./integration/
//
// It is a benchmark, not a test: it asserts nothing about speed.
func BenchmarkTCPThroughMACNAT(b *testing.B) {
	requireNetAdmin(b)
	const secs = 5
	ap := newNetns(b, "ap")
	ap.ip("link", "add", "br0", "type", "bridge")
	ap.ip("link", "set", "br0", "up")
	lan := newNetns(b, "lan")
	cable(b, lan, "eth0", ap, "lanp")
	sta := newNetns(b, "sta")
	cable(b, sta, "wifi", ap, "stap")
	for _, p := range []string{"lanp", "stap"} {
		ap.ip("link", "set", p, "master", "br0")
	}
	lan.ip("addr", "add", "198.18.21.1/24", "dev", "eth0")
	vm := host(b, sta, "vm", "va", "198.18.21.2/24")
	run := func(nat string) (fwd, rev float64) {
		dir := shortTempDir(b)
		cmd := exec.Command("ip", "netns", "exec", sta.name, bin, "--control", filepath.Join(dir, "ctl.sock"),
			"--port", "host:wifi,macnat="+nat, "--port", "host:va", "--log-level", "warn")
		if err := cmd.Start(); err != nil {
			b.Fatal(err)
		}
		defer func() { cmd.Process.Signal(syscall.SIGTERM); cmd.Wait() }()
		// Forget the other run's neighbours: the VM's MAC, or the
		// station's, depending on the mode.
		lan.ip("neigh", "flush", "dev", "eth0")
		vm.ip("neigh", "flush", "dev", "eth0")
		waitUntil(b, func() bool {
			_, err := vm.exec("busybox", "ping", "-c", "1", "-W", "1", "198.18.21.1")
			return err == nil
		})
		fwd = iperf(b, vm, lan, "198.18.21.1", secs, false).End.SumReceived.Bits
		rev = iperf(b, vm, lan, "198.18.21.1", secs, true).End.SumReceived.Bits
		return fwd, rev
	}
	var natFwd, natRev, plainFwd, plainRev float64
	for i := 0; i < b.N; i++ {
		natFwd, natRev = run("on")
		plainFwd, plainRev = run("off")
	}
	b.ReportMetric(natFwd/1e9, "macnat-vm2lan-Gbit/s")
	b.ReportMetric(natRev/1e9, "macnat-lan2vm-Gbit/s")
	b.ReportMetric(plainFwd/1e9, "plain-vm2lan-Gbit/s")
	b.ReportMetric(plainRev/1e9, "plain-lan2vm-Gbit/s")
	b.ReportMetric((natFwd+natRev)/(plainFwd+plainRev), "macnat/plain")
}
