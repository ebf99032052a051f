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

func TestParseMACNATOptions(t *testing.T) {
	o, err := parseOptions(spec("host:en0", "en0"))
	if err != nil || o.macnat != macnatAuto || o.macnatMax != 0 {
		t.Errorf("default: %+v, %v; want auto", o, err)
	}
	o, err = parseOptions(spec("host:en0,macnat=on,macnat-max=4096", "en0", fabric.Option{Key: "macnat", Value: "on"}, fabric.Option{Key: "macnat-max", Value: "4096"}))
	if err != nil || o.macnat != macnatOn || o.macnatMax != 4096 {
		t.Errorf("macnat=on,macnat-max=4096: %+v, %v", o, err)
	}
	for _, s := range []fabric.Spec{
		spec("host:en0,macnat=yes", "en0", fabric.Option{Key: "macnat", Value: "yes"}),
		spec("host:en0,macnat-max=0", "en0", fabric.Option{Key: "macnat-max", Value: "0"}),
		spec("host:en0,macnat-max=lots", "en0", fabric.Option{Key: "macnat-max", Value: "lots"}),
	} {
		var se *fabric.SpecError
		if _, err := parseOptions(s); !errors.As(err, &se) || !strings.Contains(se.Hint, "macnat=auto|on|off") {
			t.Errorf("%s: %v, want a SpecError with the form", s.Text, err)
		}
	}
}

func TestMACNATOnTrunkRejected(t *testing.T) {
	err := Kind().Check(spec("host:en0,macnat=on,trunk=10", "en0", fabric.Option{Key: "macnat", Value: "on"}), fabric.PortConfig{Trunk: []uint16{10}})
	var se *fabric.SpecError
	if !errors.As(err, &se) || !strings.Contains(se.Reason, "access ports only") || !strings.Contains(se.Hint, "drop trunk=") {
		t.Errorf("macnat=on on a trunk: %v", err)
	}
	if err := Kind().Check(spec("host:en0,macnat=off,trunk=10", "en0", fabric.Option{Key: "macnat", Value: "off"}), fabric.PortConfig{Trunk: []uint16{10}}); err != nil {
		t.Errorf("macnat=off on a trunk: %v", err)
	}
}

// openHost refuses MAC-NAT on a trunk before it opens anything, whatever
// checked the spec before it.
func TestOpenHostMACNATOnTrunk(t *testing.T) {
	lookup := func(string) (*net.Interface, error) {
		return &net.Interface{Name: "en0", Index: 4, MTU: 1500, Flags: net.FlagUp}, nil
	}
	opened := false
	opener := func(options, *net.Interface, int, hclog.Logger) (fabric.Port, error) {
		opened = true
		return fabrictest.New(4), nil
	}
	_, err := openHost(spec("host:en0,macnat=on", "en0", fabric.Option{Key: "macnat", Value: "on"}), fabric.PortConfig{Trunk: []uint16{10}}, hclog.NewNullLogger(), lookup, opener)
	var se *fabric.SpecError
	if !errors.As(err, &se) || opened {
		t.Errorf("openHost = %v, opened %v; want a SpecError and nothing opened", err, opened)
	}
}

func TestDecideMACNAT(t *testing.T) {
	for _, tc := range []struct {
		mode macnatMode
		on   bool
		info string
	}{
		{macnatOn, true, "macnat on"},
		{macnatOff, false, "macnat off"},
		// No interface of that name: not Wi-Fi, so auto is off.
		{macnatAuto, false, "macnat off"},
	} {
		on, info, err := decideMACNAT(spec("host:l2f-none0", "l2f-none0"), options{ifname: "l2f-none0", macnat: tc.mode}, fabric.PortConfig{})
		if err != nil || on != tc.on || info != tc.info {
			t.Errorf("mode %d: %v %q %v; want %v %q", tc.mode, on, info, err, tc.on, tc.info)
		}
	}
}
