//go:build darwin && cgo

// Package good uses vz's network API correctly.
package good

import (
	"net"
	"os"

	"github.com/Code-Hex/vz/v3"
)

// NIC configures a virtio NIC on f with the MAC address hw.
func NIC(f *os.File, hw net.HardwareAddr) (*vz.VirtioNetworkDeviceConfiguration, error) {
	att, err := vz.NewFileHandleNetworkDeviceAttachment(f)
	if err != nil {
		return nil, err
	}
	cfg, err := vz.NewVirtioNetworkDeviceConfiguration(att)
	if err != nil {
		return nil, err
	}
	mac, err := vz.NewMACAddress(hw)
	if err != nil {
		return nil, err
	}
	cfg.SetMACAddress(mac)
	return cfg, nil
}
