//go:build linux

package netif_test

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/l2fabric/l2fabric/backends/internal/netif"
	"github.com/l2fabric/l2fabric/backends/internal/netif/nstest"
	"github.com/l2fabric/l2fabric/fabric"
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

// TestTapPortClose checks the Port contract around Close: a blocked Read
// returns, Write reports the port gone, the link channel closes, and the
// TAP it created is gone when Close returns.
func TestTapPortClose(t *testing.T) {
	if !nstest.InNetns(t) {
		return
	}
	p, err := netif.OpenTapPort(netif.TapConfig{TapOptions: netif.TapOptions{Name: "t0", Owner: -1, Group: -1, MTU: 2000}})
	if err != nil {
		t.Fatal(err)
	}
	if !p.Created() || p.Persistent() || p.MTU() != 2000 || p.Name() != "t0" || p.BatchSize() != netif.BatchSize {
		t.Errorf("port: created %v persistent %v mtu %d", p.Created(), p.Persistent(), p.MTU())
	}
	readErr := make(chan error)
	go func() {
		bufs := [][]byte{make([]byte, 2018)}
		for {
			// The kernel may send IPv6 frames first: read until closed.
			if _, err := p.Read(bufs, make([]int, 1)); err != nil {
				readErr <- err
				return
			}
		}
	}()
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-readErr:
		t.Logf("read after close: %v", err)
	case <-time.After(nstest.Timeout):
		t.Fatal("Read still blocked after Close")
	}
	if _, err := p.Write([][]byte{make([]byte, 60)}); !errors.Is(err, fabric.ErrPeerGone) {
		t.Errorf("Write after Close: %v", err)
	}
	if _, ok := <-p.LinkEvents(); ok {
		t.Error("link events channel still open")
	}
	if _, err := netif.LinkByName("t0"); !errors.Is(err, netif.ErrNotFound) {
		t.Errorf("t0 after Close: %v", err)
	}
	if err := p.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
}
