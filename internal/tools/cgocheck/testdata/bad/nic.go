//go:build darwin && cgo

// Package bad misuses vz's network API: it passes a net.HardwareAddr where
// vz wants a *vz.MACAddress.
package bad

import (
	"net"
	"os"

	"github.com/Code-Hex/vz/v3"
)

// NIC configures a virtio NIC on f with the MAC address hw, wrongly.
func NIC(f *os.File, hw net.HardwareAddr) (*vz.VirtioNetworkDeviceConfiguration, error) {
	att, err := vz.NewFileHandleNetworkDeviceAttachment(f)
	if err != nil {
		return nil, err
	}
	cfg, err := vz.NewVirtioNetworkDeviceConfiguration(att)
	if err != nil {
		return nil, err
	}
	cfg.SetMACAddress(hw)
	return cfg, nil
}
