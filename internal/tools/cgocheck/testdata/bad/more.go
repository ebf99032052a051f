//go:build darwin && cgo

package bad

import "github.com/Code-Hex/vz/v3"

// Config gets the arguments of vz's constructors wrong.
func Config() error {
	boot, err := vz.NewLinuxBootLoader(1)
	if err != nil {
		return err
	}
	if _, err := vz.NewVirtualMachineConfiguration(boot, 2); err != nil {
		return err
	}
	vz.NoSuchFunction()
	var unused int
	return nil
}
