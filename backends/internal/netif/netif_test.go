//go:build linux

package netif_test

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/l2fabric/l2fabric/backends/internal/netif"
	"github.com/l2fabric/l2fabric/backends/internal/nstest"
)

func TestValidName(t *testing.T) {
	for name, want := range map[string]string{
		"eth0":             "",
		"abcdefghijklmno":  "",
		"":                 "empty",
		"abcdefghijklmnop": "longer",
		".":                "not allowed",
		"..":               "not allowed",
		"a/b":              "contains",
		"a:b":              "contains",
		"a b":              "contains",
	} {
		err := netif.ValidName(name)
		if (want == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), want)) {
			t.Errorf("ValidName(%q) = %v, want %q", name, err, want)
		}
	}
}

func TestLinks(t *testing.T) {
	if !nstest.InNetns(t) {
		return
	}
	if _, err := netif.LinkByName("nothere"); !errors.Is(err, netif.ErrNotFound) {
		t.Errorf("LinkByName(nothere): %v", err)
	}
	if _, err := netif.LinkByIndex(4242); !errors.Is(err, netif.ErrNotFound) {
		t.Errorf("LinkByIndex(4242): %v", err)
	}
	if b, err := netif.Bridges(); err != nil || len(b) != 0 {
		t.Errorf("Bridges() = %v, %v in a new namespace", b, err)
	}
	nstest.IP(t, "link", "add", "brb", "type", "bridge")
	nstest.IP(t, "link", "add", "bra", "type", "bridge")
	nstest.IP(t, "link", "add", "v0", "type", "veth", "peer", "name", "v1")
	if b, err := netif.Bridges(); err != nil || !slices.Equal(b, []string{"bra", "brb"}) {
		t.Errorf("Bridges() = %v, %v", b, err)
	}
	links, err := netif.Links()
	if err != nil || len(links) != 5 {
		t.Errorf("Links() = %+v, %v: want lo, two bridges, two veths", links, err)
	}
	if err := netif.SetMTU("v0", 9000); err != nil {
		t.Fatal(err)
	}
	if err := netif.SetUp("v0"); err != nil {
		t.Fatal(err)
	}
	bra, _ := netif.LinkByName("bra")
	v0, _ := netif.LinkByName("v0")
	if err := netif.AddToBridge("bra", v0.Index); err != nil {
		t.Fatal(err)
	}
	v0, err = netif.LinkByIndex(v0.Index)
	if err != nil || v0.Name != "v0" || v0.Kind != "veth" || v0.MTU != 9000 || !v0.Up() || v0.Master != bra.Index || len(v0.HardwareAddr) != 6 {
		t.Errorf("v0 = %+v, %v", v0, err)
	}
	if !bra.IsBridge() || bra.IsTap() || bra.Describe() != "a bridge" || v0.Describe() != "a veth device" {
		t.Errorf("bra %+v, v0 %+v", bra, v0)
	}
	nstest.IP(t, "tuntap", "add", "dev", "tun0", "mode", "tun")
	if l, _ := netif.LinkByName("tun0"); l.IsTap() || l.Describe() != "a TUN (layer 3) device" || !l.TunPersist {
		t.Errorf("tun0 %+v", l)
	}
}
