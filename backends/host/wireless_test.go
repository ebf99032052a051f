//go:build linux || darwin

package host

import (
	"os"
	"path/filepath"
	"testing"
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
