package iftype

import (
	"os"
	"path/filepath"
	"testing"
)

// The darwin ioctl is pinned here, where it runs on every platform: the
// request number from sys/ioccom.h's _IOWR macro, the types from
// net/if.h.
func TestFunctionalTypeConstants(t *testing.T) {
	const iocInOut, iocParmMask = 0xc0000000, 0x1fff // IOC_INOUT, IOCPARM_MASK
	iowr := func(group byte, num, size uint32) uint32 {
		return iocInOut | (size&iocParmMask)<<16 | uint32(group)<<8 | num
	}
	if got := iowr('i', 173, sizeofIfreq); got != SIOCGIFFUNCTIONALTYPE {
		t.Errorf("_IOWR('i', 173, struct ifreq) = %#x, constant is %#x", got, SIOCGIFFUNCTIONALTYPE)
	}
	// IFRTYPE_FUNCTIONAL_UNKNOWN 0, LOOPBACK 1, WIRED 2, WIFI_INFRA 3,
	// WIFI_AWDL 4, CELLULAR 5, INTCOPROC 6, COMPANIONLINK 7, MANAGEMENT 8.
	for typ, want := range map[Functional]bool{Unknown: false, Loopback: false, Wired: false, WiFiInfra: true, WiFiAWDL: false, Cellular: false} {
		if got := typ.IsWiFiStation(); got != want {
			t.Errorf("%s (%d): Wi-Fi station %v, want %v", typ, uint32(typ), got, want)
		}
	}
	if WiFiInfra != 3 || Management != 8 || Functional(9).String() != "functional type 9" || WiFiInfra.String() != "Wi-Fi" {
		t.Error("functional types do not match net/if.h")
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
		if got := WirelessInSysfs(root, name); got != want {
			t.Errorf("%s: wireless %v, want %v", name, got, want)
		}
	}
}
