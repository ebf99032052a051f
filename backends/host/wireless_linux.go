package host

// wireless reports whether ifname is a wireless interface, and says so.
func wireless(ifname string) (bool, string) {
	return wirelessInSysfs(sysfsNet, ifname), wirelessReasonLinux
}
