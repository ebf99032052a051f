package host

import "github.com/l2fabric/l2fabric/backends/internal/iftype"

// wireless reports whether ifname is a wireless interface, for
// macnat=auto, and says so.
func wireless(ifname string) (bool, string) {
	return iftype.WirelessInSysfs(iftype.SysfsNet, ifname), "wireless interface"
}
