// Package vm is the vm:NAME port kind: a Linux VM that l2fabric boots
// itself with Apple's Virtualization.framework (through Code-Hex/vz) and
// owns, each of its NICs attached to the fabric over a
// socketpair(AF_UNIX, SOCK_DGRAM) with VZFileHandleNetworkDeviceAttachment.
//
// # Definitions
//
// A VM is found by name. Definitions given inline come first: --vm (see
// ParseInline) and the [vm.NAME] tables of l2fabric's TOML configuration
// file (see ParseTable, and FormatTable, which writes one); then the
// directories of DefaultDirs, in order, each holding NAME/vm.toml (or,
// from earlier versions, NAME/vm.conf):
//
//   - L2FABRIC_VMS, when set: that one directory and no other.
//   - root on macOS: /Library/Application Support/l2fabric/vms
//   - root on Linux: /var/lib/l2fabric/vms
//   - a user on macOS: ~/Library/Application Support/l2fabric/vms, then the root directory
//   - a user on Linux: $XDG_CONFIG_HOME/l2fabric/vms (default ~/.config/l2fabric/vms), then the root directory
//
// A VM table, in vm.toml or a configuration file, has these keys (see
// TableKeys); relative paths resolve against the file's directory:
//
//	kernel = "PATH"         required; on Apple Silicon an uncompressed arm64 Image
//	initrd = "PATH"
//	cmdline = "TEXT"        default "console=hvc0"
//	cpus = N                default 2
//	memory = "SIZE"         default "1G"; a unit is required (512M, 1.5G, 2GiB), binary multiples
//	disk = ["PATH", { path = "PATH", read-only = true }]   raw disk images, in order (/dev/vda, vdb...)
//	disk-ro = ["PATH"]      read-only images, after those of disk
//	console = "PATH"        serial console (hvc0) appended to PATH, or "none"; default console.log
//	restart = "POLICY"      no (default), on-failure (the VM failed), always (also a guest power-off or reboot)
//	nic = [{ mac = "MAC", mtu = N }, {}]   the NICs, in order
//	mac = ["MAC"]           shorthand for nic = [{ mac = "MAC" }]
//	mtu = N                 MTU of the NICs that do not set one (default 1500; 1500-65535)
//	nics = N                at least N NICs (default 1)
//
// vm.conf, the format of earlier versions, has the same keys as one
// KEY=VALUE per line (disk, disk-ro, nic and mac repeated); blank lines
// and lines starting with '#' are ignored; a value runs to the end of the
// line, trimmed, unless it is double-quoted (then \" and \\ are escapes and
// the quotes keep surrounding spaces). It is read where there is no
// vm.toml; Convert rewrites it as one.
//
// A NIC without a MAC gets DeriveMAC(name, index): a locally administered
// address that depends only on the VM's name and the NIC's index, so it is
// the same on every boot.
//
// # Ports
//
// The spec vm:NAME[,nic=N] attaches one NIC of VM NAME as a port named
// NAME/N (or name=). Without nic= it takes the VM's first NIC not yet
// attached, so --port vm:router,vlan=10 --port vm:router,vlan=20 puts the
// router's NIC 0 in VLAN 10 and NIC 1 in VLAN 20.
//
// The first port of a VM boots it, with all its NICs: a NIC whose port is
// not attached yet is a cable not plugged in (its frames wait in the socket
// buffer or are dropped). The VM is a fabric.Device named NAME: detaching
// it stops the VM and detaches all its ports. While the VM is not running
// (stopped, failed, restarting) its ports stay attached with their link
// down. On fabric shutdown the guest is asked to power off and is stopped
// after StopTimeout.
//
// # Platforms
//
// Only macOS builds with cgo can boot VMs. Kind exists on darwin only; a
// darwin build without cgo offers it but every vm: spec fails with
// ErrNeedCgo. Definitions, Create and WriteList are portable; the
// 'l2fabric vm' commands that call them live in cmd/l2fabric.
package vm
