//go:build linux || darwin

package host

import (
	"errors"
	"net"
	"strings"
	"testing"

	"github.com/hashicorp/go-hclog"

	"github.com/l2fabric/l2fabric/fabric"
	"github.com/l2fabric/l2fabric/fabric/fabrictest"
)

func spec(text, arg string, opts ...fabric.Option) fabric.Spec {
	return fabric.Spec{Text: text, Kind: "host", Arg: arg, Options: opts}
}

func TestParseOptions(t *testing.T) {
	o, err := parseOptions(spec("host:en0", "en0"))
	if err != nil || o.ifname != "en0" || !o.promisc {
		t.Errorf("host:en0 = %+v, %v; want en0, promiscuous", o, err)
	}
	o, err = parseOptions(spec("host:en0,promisc=off", "en0", fabric.Option{Key: "promisc", Value: "off"}))
	if err != nil || o.promisc {
		t.Errorf("promisc=off = %+v, %v", o, err)
	}
	for _, s := range []fabric.Spec{
		spec("host:", ""),
		spec("host:abcdefghijklmnop", "abcdefghijklmnop"),
		spec("host:a/b", "a/b"),
		spec("host:en0,promisc=maybe", "en0", fabric.Option{Key: "promisc", Value: "maybe"}),
	} {
		var se *fabric.SpecError
		if _, err := parseOptions(s); !errors.As(err, &se) || !strings.Contains(se.Hint, "host:IFACE[,promisc=on|off]") {
			t.Errorf("%s: %v, want a SpecError with the form", s.Text, err)
		}
	}
}

func TestKind(t *testing.T) {
	k := Kind()
	if k.Name != "host" || len(k.Forms) != 1 || k.Forms[0] != "host:IFACE[,promisc=on|off][,macnat=auto|on|off][,macnat-max=N]" || strings.Join(k.Keys, " ") != "promisc macnat macnat-max" || k.Summary == "" {
		t.Errorf("kind %+v", k)
	}
	if err := k.Check(spec("host:", ""), fabric.PortConfig{}); err == nil {
		t.Error("Check accepted a spec without an interface")
	}
	if err := k.Check(spec("host:en0", "en0"), fabric.PortConfig{}); err != nil {
		t.Errorf("Check: %v", err)
	}
}

func TestOpenHost(t *testing.T) {
	ifaces := map[string]*net.Interface{
		"en0":  {Name: "en0", Index: 4, MTU: 9000, Flags: net.FlagUp | net.FlagRunning},
		"lo0":  {Name: "lo0", Index: 1, MTU: 16384, Flags: net.FlagUp | net.FlagLoopback},
		"tiny": {Name: "tiny", Index: 5, MTU: 10},
	}
	lookup := func(name string) (*net.Interface, error) {
		if ifi, ok := ifaces[name]; ok {
			return ifi, nil
		}
		return nil, errors.New("no such network interface")
	}
	var opened []options
	var gotMTU int
	var ports []*fabrictest.Port
	opener := func(o options, ifi *net.Interface, mtu int, _ hclog.Logger) (fabric.Port, error) {
		opened = append(opened, o)
		gotMTU = mtu
		p := fabrictest.New(4)
		ports = append(ports, p)
		return p, nil
	}

	log := hclog.NewNullLogger()
	o, err := openHost(spec("host:en0,promisc=off", "en0", fabric.Option{Key: "promisc", Value: "off"}), fabric.PortConfig{}, log, lookup, opener)
	if err != nil {
		t.Fatal(err)
	}
	if o.Port != ports[0] || o.Device != nil {
		t.Fatalf("opened %+v: want the port, no device", o)
	}
	cfg := o.Config
	if cfg.Name != "en0" || cfg.Kind != "host" || cfg.Info != "en0, macnat off" || cfg.MTU != 9000 || gotMTU != 9000 {
		t.Errorf("attached %+v (port MTU %d): want en0, host, the interface's MTU 9000", cfg, gotMTU)
	}
	if opened[0].ifname != "en0" || opened[0].promisc {
		t.Errorf("opened with %+v", opened[0])
	}

	o, err = openHost(spec("host:en0", "en0"), fabric.PortConfig{Name: "lan", MTU: 1500}, log, lookup, opener)
	if err != nil {
		t.Fatal(err)
	}
	if cfg := o.Config; cfg.Name != "lan" || cfg.MTU != 1500 {
		t.Errorf("name= and mtu= not kept: %+v", cfg)
	}
	if o, err := openHost(spec("host:tiny", "tiny"), fabric.PortConfig{}, log, lookup, opener); err != nil || o.Config.MTU != fabric.MinMTU {
		t.Errorf("a tiny interface MTU is not raised to the minimum: %v", err)
	}

	if _, err := openHost(spec("host:lo0", "lo0"), fabric.PortConfig{}, log, lookup, opener); err == nil || !strings.Contains(err.Error(), "loopback") {
		t.Errorf("loopback: %v", err)
	}
	if _, err := openHost(spec("host:en9", "en9"), fabric.PortConfig{}, log, lookup, opener); err == nil || !strings.Contains(err.Error(), `no interface "en9"`) {
		t.Errorf("missing interface: %v", err)
	}
	failing := func(options, *net.Interface, int, hclog.Logger) (fabric.Port, error) {
		return nil, errors.New("l2fabric needs root for BPF and NDRV")
	}
	if _, err := openHost(spec("host:en0", "en0"), fabric.PortConfig{}, log, lookup, failing); err == nil || !strings.Contains(err.Error(), "needs root") {
		t.Errorf("open failure: %v", err)
	}
}
