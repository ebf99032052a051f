package host

import "github.com/l2fabric/l2fabric/backends/internal/iftype"

// wireless reports whether ifname is a Wi-Fi interface, for macnat=auto,
// by its functional type, as xnu's bridge tells; and says so. An
// interface whose type cannot be read is not.
func wireless(ifname string) (bool, string) {
	t, err := iftype.Query(ifname)
	return err == nil && t.IsWiFiStation(), "Wi-Fi interface"
}
