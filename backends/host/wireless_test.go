//go:build linux || darwin

package host

import (
	"errors"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hashicorp/go-hclog"

	"github.com/l2fabric/l2fabric/fabric"
	"github.com/l2fabric/l2fabric/fabric/fabrictest"
)

// The darwin ioctl is pinned here, where it runs on every platform: the
// request number from sys/sockio.h's macro, the type from net/if.h.
func TestFunctionalTypeConstants(t *testing.T) {
	const iocInOut, iocParmMask = 0xc0000000, 0x1fff // sys/ioccom.h: IOC_INOUT, IOCPARM_MASK
	iowr := func(group byte, num, size uint32) uint32 {
		return iocInOut | (size&iocParmMask)<<16 | uint32(group)<<8 | num
	}
	if got := iowr('i', 173, sizeofIfreq); got != siocGIFFUNCTIONALTYPE {
		t.Errorf("_IOWR('i', 173, struct ifreq) = %#x, constant is %#x", got, siocGIFFUNCTIONALTYPE)
	}
	// IFRTYPE_FUNCTIONAL_*: UNKNOWN 0, LOOPBACK 1, WIRED 2, WIFI_INFRA 3,
	// WIFI_AWDL 4, CELLULAR 5.
	for typ, want := range map[uint32]bool{0: false, 1: false, 2: false, 3: true, 4: false, 5: false} {
		if got := functionalTypeIsWiFi(typ); got != want {
			t.Errorf("functional type %d: Wi-Fi %v, want %v", typ, got, want)
		}
	}
}

func TestWirelessInSysfs(t *testing.T) {
	root := t.TempDir()
	for _, p := range []string{"eth0", "wlan0/wireless", "wlp2s0", "phys/phy0"} {
		if err := os.MkdirAll(filepath.Join(root, p), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Symlink(filepath.Join(root, "phys/phy0"), filepath.Join(root, "wlp2s0", "phy80211")); err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]bool{"eth0": false, "wlan0": true, "wlp2s0": true, "gone0": false} {
		if got := wirelessInSysfs(root, name); got != want {
			t.Errorf("%s: wireless %v, want %v", name, got, want)
		}
	}
}

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
