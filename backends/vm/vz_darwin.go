//go:build darwin && cgo

package vm

import (
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"

	"github.com/Code-Hex/vz/v3"
	"github.com/hashicorp/go-hclog"
)

// With cgo, VMs boot with Virtualization.framework.
var (
	platformHypervisor  hypervisor = vzHypervisor{}
	platformUnavailable error
)

// entitlementHint is added to a configuration that does not validate: the
// usual cause is a binary not signed with the virtualization entitlement.
const entitlementHint = " (is l2fabric signed with the com.apple.security.virtualization entitlement? " +
	"codesign --entitlements backends/vm/vz.entitlements -s - $(command -v l2fabric))"

// vzHypervisor boots VMs with Code-Hex/vz.
type vzHypervisor struct{}

func (vzHypervisor) newMachine(def *Definition, nics []*os.File, log hclog.Logger) (machine, error) {
	cfg, err := vzConfiguration(def, nics)
	if err != nil {
		return nil, err
	}
	vm, err := vz.NewVirtualMachine(cfg)
	if err != nil {
		return nil, fmt.Errorf("creating the virtual machine: %w", err)
	}
	return &vzMachine{vm: vm, nics: nics, log: log, doneCh: make(chan struct{})}, nil
}

// vzConfiguration builds the VZVirtualMachineConfiguration of def, its
// NICs attached to the given socket ends, and validates it.
func vzConfiguration(def *Definition, nics []*os.File) (*vz.VirtualMachineConfiguration, error) {
	if len(nics) != len(def.NICs) {
		return nil, fmt.Errorf("internal error: %d sockets for %d NICs", len(nics), len(def.NICs))
	}
	if lo, hi := vz.VirtualMachineConfigurationMinimumAllowedCPUCount(), vz.VirtualMachineConfigurationMaximumAllowedCPUCount(); uint(def.CPUs) < lo || uint(def.CPUs) > hi {
		return nil, fmt.Errorf("cpus=%d: Virtualization.framework allows %d to %d on this Mac", def.CPUs, lo, hi)
	}
	if lo, hi := vz.VirtualMachineConfigurationMinimumAllowedMemorySize(), vz.VirtualMachineConfigurationMaximumAllowedMemorySize(); def.Memory < lo || def.Memory > hi {
		return nil, fmt.Errorf("memory=%s: Virtualization.framework allows %s to %s on this Mac", FormatSize(def.Memory), FormatSize(lo), FormatSize(hi))
	}

	opts := []vz.LinuxBootLoaderOption{vz.WithCommandLine(def.Cmdline)}
	if def.Initrd != "" {
		opts = append(opts, vz.WithInitrd(def.Initrd))
	}
	boot, err := vz.NewLinuxBootLoader(def.Kernel, opts...)
	if err != nil {
		return nil, fmt.Errorf("boot loader: %w", err)
	}
	cfg, err := vz.NewVirtualMachineConfiguration(boot, uint(def.CPUs), def.Memory)
	if err != nil {
		return nil, fmt.Errorf("configuration: %w", err)
	}

	var netdevs []*vz.VirtioNetworkDeviceConfiguration
	for i, nic := range def.NICs {
		att, err := vz.NewFileHandleNetworkDeviceAttachment(nics[i])
		if err != nil {
			return nil, fmt.Errorf("NIC %d: %w", i, err)
		}
		if nic.MTU != MinNICMTU {
			if err := att.SetMaximumTransmissionUnit(nic.MTU); err != nil {
				return nil, fmt.Errorf("NIC %d: mtu %d (an MTU above 1500 needs macOS 13 or later): %w", i, nic.MTU, err)
			}
		}
		dev, err := vz.NewVirtioNetworkDeviceConfiguration(att)
		if err != nil {
			return nil, fmt.Errorf("NIC %d: %w", i, err)
		}
		mac, err := vz.NewMACAddress(net.HardwareAddr(nic.MAC[:]))
		if err != nil {
			return nil, fmt.Errorf("NIC %d: mac %s: %w", i, nic.MAC, err)
		}
		dev.SetMACAddress(mac)
		netdevs = append(netdevs, dev)
	}
	cfg.SetNetworkDevicesVirtualMachineConfiguration(netdevs)

	var disks []vz.StorageDeviceConfiguration
	for i, d := range def.Disks {
		att, err := vz.NewDiskImageStorageDeviceAttachment(d.Path, d.ReadOnly)
		if err != nil {
			return nil, fmt.Errorf("disk %d (%s): %w", i, d.Path, err)
		}
		dev, err := vz.NewVirtioBlockDeviceConfiguration(att)
		if err != nil {
			return nil, fmt.Errorf("disk %d (%s): %w", i, d.Path, err)
		}
		disks = append(disks, dev)
	}
	cfg.SetStorageDevicesVirtualMachineConfiguration(disks)

	if def.Console != "" {
		if err := createConsoleLog(def.Console); err != nil {
			return nil, err
		}
		att, err := vz.NewFileSerialPortAttachment(def.Console, true)
		if err != nil {
			return nil, fmt.Errorf("console %s: %w", def.Console, err)
		}
		port, err := vz.NewVirtioConsoleDeviceSerialPortConfiguration(att)
		if err != nil {
			return nil, fmt.Errorf("console: %w", err)
		}
		cfg.SetSerialPortsVirtualMachineConfiguration([]*vz.VirtioConsoleDeviceSerialPortConfiguration{port})
	}

	entropy, err := vz.NewVirtioEntropyDeviceConfiguration()
	if err != nil {
		return nil, fmt.Errorf("entropy device: %w", err)
	}
	cfg.SetEntropyDevicesVirtualMachineConfiguration([]*vz.VirtioEntropyDeviceConfiguration{entropy})

	ok, err := cfg.Validate()
	if err != nil {
		return nil, fmt.Errorf("invalid configuration: %w%s", err, entitlementHint)
	}
	if !ok {
		return nil, errors.New("invalid configuration" + entitlementHint)
	}
	return cfg, nil
}

// createConsoleLog makes sure the console log and its directory exist
// before Virtualization.framework opens it for appending.
func createConsoleLog(path string) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("console: %w", err)
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o640)
	if err != nil {
		return fmt.Errorf("console: %w", err)
	}
	return f.Close()
}

// vzMachine is one boot of a VZVirtualMachine.
type vzMachine struct {
	vm *vz.VirtualMachine
	// nics are the VM's ends of the NICs' socketpairs. The device owns
	// and closes them; holding them here documents that the VM uses their
	// descriptors for as long as it exists.
	nics   []*os.File
	log    hclog.Logger
	doneCh chan struct{}
	fail   error // set before doneCh is closed
}

// start starts the VM. vz's Start returns when Virtualization.framework's
// completion handler runs; the VM's state changes are then followed from
// StateChangedNotify, which vz buffers without bound.
func (m *vzMachine) start() error {
	states := m.vm.StateChangedNotify()
	if err := m.vm.Start(); err != nil {
		return err
	}
	go m.watch(states)
	go m.watchDisconnects()
	return nil
}

// watch waits for the VM to stop (the guest powered off, rebooted, or was
// stopped) or to fail.
func (m *vzMachine) watch(states <-chan vz.VirtualMachineState) {
	for st := range states {
		m.log.Debug("vm state", "state", st.String())
		switch st {
		case vz.VirtualMachineStateStopped:
			close(m.doneCh)
			return
		case vz.VirtualMachineStateError:
			m.fail = errors.New("the virtual machine entered the error state")
			close(m.doneCh)
			return
		}
	}
}

// watchDisconnects logs the framework disconnecting a NIC from its socket
// (macOS 12 and later).
func (m *vzMachine) watchDisconnects() {
	ch, err := m.vm.NetworkDeviceAttachmentWasDisconnected()
	if err != nil {
		return
	}
	for {
		select {
		case e, ok := <-ch:
			if !ok {
				return
			}
			m.log.Warn("a NIC's attachment was disconnected", "error", e)
		case <-m.doneCh:
			return
		}
	}
}

func (m *vzMachine) done() <-chan struct{} { return m.doneCh }

func (m *vzMachine) err() error { return m.fail }

func (m *vzMachine) requestStop() error {
	if !m.vm.CanRequestStop() {
		return fmt.Errorf("the guest cannot be asked to stop in state %s", m.vm.State())
	}
	ok, err := m.vm.RequestStop()
	if err != nil {
		return err
	}
	if !ok {
		return errors.New("the request to stop was not delivered")
	}
	return nil
}

func (m *vzMachine) stop() error {
	if !m.vm.CanStop() {
		return fmt.Errorf("the VM cannot be stopped in state %s (Stop needs macOS 12)", m.vm.State())
	}
	return m.vm.Stop()
}
