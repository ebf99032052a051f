package vxlan

import (
	"net/netip"
	"slices"
	"strings"
	"testing"

	"github.com/l2fabric/l2fabric/fabric"
)

func parse(t *testing.T, text string) (options, fabric.PortConfig, error) {
	t.Helper()
	s, err := fabric.ParseSpec(text)
	if err != nil {
		return options{}, fabric.PortConfig{}, err
	}
	cfg, err := fabric.ParsePortConfig(s, keys, "")
	if err != nil {
		return options{}, fabric.PortConfig{}, err
	}
	o, err := parseOptions(s, cfg)
	return o, cfg, err
}

func TestParseSpec(t *testing.T) {
	o, cfg, err := parse(t, "vxlan:10.0.0.2+10.0.0.3,vni=100,vlan=10,ttl=32,df=on")
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(o.remotes, []netip.Addr{netip.MustParseAddr("10.0.0.2"), netip.MustParseAddr("10.0.0.3")}) ||
		len(o.maps) != 1 || o.maps[0] != (Mapping{VNI: 100, VLAN: 10}) || o.trunk ||
		o.port != DefaultPort || o.ttl != 32 || !o.df || o.local != netip.IPv4Unspecified() {
		t.Errorf("options %+v", o)
	}
	pc := o.portConfig(cfg, 1500, false)
	if pc.Name != "vxlan100" || pc.VLAN != 10 || pc.MTU != 1450 || pc.Kind != "vxlan" {
		t.Errorf("port config %+v", pc)
	}

	o, cfg, err = parse(t, "vxlan:fd00::2,vnis=200:20+100:10,port=8472")
	if err != nil {
		t.Fatal(err)
	}
	if !o.trunk || !o.is6() || o.port != 8472 || !slices.Equal(o.maps, []Mapping{{100, 10}, {200, 20}}) {
		t.Errorf("options %+v", o)
	}
	pc = o.portConfig(cfg, 1500, false)
	if pc.VLAN != 0 || !slices.Equal(pc.Trunk, []uint16{10, 20}) || pc.MTU != 1430 {
		t.Errorf("trunk port config %+v", pc)
	}

	// No remotes: learning only from who sends (and vxlan.remote add).
	if o, _, err = parse(t, "vxlan:,vni=5,local=10.0.0.1"); err != nil || len(o.remotes) != 0 || o.local != netip.MustParseAddr("10.0.0.1") {
		t.Errorf("remote-less port: %+v, %v", o, err)
	}
}

func TestParseSpecErrorsNameTheKey(t *testing.T) {
	for _, c := range []struct{ spec, want string }{
		{"vxlan:10.0.0.2", "missing vni="},
		{"vxlan:10.0.0.2,vni=0", `"vni=0"`},
		{"vxlan:10.0.0.2,vni=16777216", "VNI"},
		{"vxlan:10.0.0.2,vni=1,vnis=2:2", "not both"},
		{"vxlan:10.0.0.2,vnis=1:10+1:20", "mapped twice"},
		{"vxlan:10.0.0.2,vnis=1-10", "not VNI:VLAN"},
		{"vxlan:10.0.0.2,vnis=1:10,vlan=3", "do not apply"},
		{"vxlan:10.0.0.2,vni=1,trunk=10", "trunk="},
		{"vxlan:host.example,vni=1", "unicast IPv4 or IPv6"},
		{"vxlan:239.1.1.1,vni=1", "multicast"},
		{"vxlan:10.0.0.2+10.0.0.2,vni=1", "twice"},
		{"vxlan:10.0.0.2+fd00::1,vni=1", "must all be IPv4 or all IPv6"},
		{"vxlan:10.0.0.2,vni=1,local=fd00::1", "must all be IPv4 or all IPv6"},
		{"vxlan:10.0.0.2,vni=1,port=0", "port="},
		{"vxlan:10.0.0.2,vni=1,ttl=300", "ttl="},
		{"vxlan:10.0.0.2,vni=1,df=maybe", "df="},
		{"vxlan:10.0.0.2,vni=1,local=nope", "local="},
	} {
		_, _, err := parse(t, c.spec)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %v, want one mentioning %q", c.spec, err, c.want)
		}
	}
}
