// Package iftype tells what kind of link a network interface is, above
// all whether it is Wi-Fi: an 802.11 access point drops frames whose
// source is not its station's own MAC, so a host port on Wi-Fi needs
// MAC-NAT (package macnat) and VMs behind it cannot have MACs of their
// own on the LAN.
//
// On macOS the kernel says so itself: SIOCGIFFUNCTIONALTYPE returns the
// interface's functional type (Query), the test xnu's bridge makes before
// it turns MAC-NAT on for a member. On Linux an 802.11 interface has
// entries of its own in sysfs (WirelessInSysfs).
package iftype

import (
	"fmt"
	"os"
	"path/filepath"
)

// Functional is an interface's functional type: xnu's
// IFRTYPE_FUNCTIONAL_* (bsd/net/if.h), the answer of
// SIOCGIFFUNCTIONALTYPE.
type Functional uint32

// Functional types.
const (
	Unknown       Functional = 0
	Loopback      Functional = 1
	Wired         Functional = 2
	WiFiInfra     Functional = 3 // a Wi-Fi station (infrastructure mode)
	WiFiAWDL      Functional = 4 // Apple Wireless Direct Link, peer to peer
	Cellular      Functional = 5
	IntCoProc     Functional = 6 // a link to an internal coprocessor
	CompanionLink Functional = 7
	Management    Functional = 8
)

// SIOCGIFFUNCTIONALTYPE is xnu's request for an interface's functional
// type: _IOWR('i', 173, struct ifreq) (bsd/sys/sockio.h). The type is the
// u_int32_t at the start of the ifreq's union, after its name.
const (
	SIOCGIFFUNCTIONALTYPE = 0xc02069ad
	sizeofIfreq           = 32
	ifreqUnionOffset      = 16 // IFNAMSIZ
)

// IsWiFiStation reports whether an interface of type t is a Wi-Fi
// station, the type xnu's bridge applies MAC-NAT to.
func (t Functional) IsWiFiStation() bool { return t == WiFiInfra }

var names = [...]string{"unknown", "loopback", "wired", "Wi-Fi", "AWDL", "cellular", "internal coprocessor", "companion link", "management"}

// String names the type: "Wi-Fi", "wired".
func (t Functional) String() string {
	if int(t) < len(names) {
		return names[t]
	}
	return fmt.Sprintf("functional type %d", uint32(t))
}

// SysfsNet is where Linux lists its network interfaces.
const SysfsNet = "/sys/class/net"

// WirelessInSysfs reports whether Linux's sysfs under root (SysfsNet)
// shows ifname as an 802.11 interface: cfg80211 devices have a phy80211
// link, drivers with wireless extensions a wireless directory.
func WirelessInSysfs(root, ifname string) bool {
	for _, p := range []string{"phy80211", "wireless"} {
		if _, err := os.Stat(filepath.Join(root, ifname, p)); err == nil {
			return true
		}
	}
	return false
}
