//go:build linux || darwin

package host

import (
	"os"
	"path/filepath"
)

// Telling a Wi-Fi interface, for macnat=auto: an 802.11 station may send
// only its own source MAC, so VMs behind it need MAC-NAT.

// xnu's SIOCGIFFUNCTIONALTYPE (sys/sockio.h: _IOWR('i', 173, struct
// ifreq)) returns an interface's functional type in ifr_functional_type;
// IFRTYPE_FUNCTIONAL_WIFI_INFRA (net/if.h) is a Wi-Fi interface in
// infrastructure mode, the type xnu's bridge turns MAC-NAT on for.
const (
	siocGIFFUNCTIONALTYPE      = 0xc02069ad
	ifrTypeFunctionalWiFiInfra = 3
	ifrTypeFunctionalWiFiAWDL  = 4
	ifreqFunctionalTypeOffset  = 16 // ifr_name, then the union
	sizeofIfreq                = 32
	sysfsNet                   = "/sys/class/net"
	sysfsWirelessDir           = "wireless"
	sysfsPhy80211Link          = "phy80211"
	wirelessReasonLinux        = "wireless interface"
	wirelessReasonDarwin       = "Wi-Fi interface"
)

// functionalTypeIsWiFi reports whether an interface of functional type t
// is an 802.11 station.
func functionalTypeIsWiFi(t uint32) bool { return t == ifrTypeFunctionalWiFiInfra }

// wirelessInSysfs reports whether Linux's sysfs under root shows ifname as
// an 802.11 interface: cfg80211 devices have a phy80211 link, wireless
// extensions drivers a wireless directory.
func wirelessInSysfs(root, ifname string) bool {
	for _, p := range []string{sysfsWirelessDir, sysfsPhy80211Link} {
		if _, err := os.Stat(filepath.Join(root, ifname, p)); err == nil {
			return true
		}
	}
	return false
}
