package doctor

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// Defaults returns the arguments doctor checks a kind with when no spec
// names one: host ports on the loopback interface, which every Linux
// machine has.
func Defaults() map[string]string { return map[string]string{"host": "lo"} }

// ChecksFor returns the checks a port of target's kind relies on.
func ChecksFor(t Target) []Check {
	switch t.Kind {
	case "host":
		return []Check{capCheck(capNetRaw, "CAP_NET_RAW", "an AF_PACKET socket (host ports)"), packetCheck(t.Arg)}
	case "tap":
		return []Check{capCheck(capNetAdmin, "CAP_NET_ADMIN", "creating a TAP (tap and feth ports)"), tunCheck()}
	case "feth":
		return []Check{capCheck(capNetAdmin, "CAP_NET_ADMIN", "creating a TAP (tap and feth ports)"), tunCheck(), bridgeCheck(t.Arg)}
	case "dgram":
		return []Check{qlenCheck()}
	}
	return nil
}

// capCheck checks that the process has capability bit.
func capCheck(bit int, capName, what string) Check {
	name := strings.ToLower(strings.ReplaceAll(capName, "_", "-"))
	return Check{Name: name, Run: func(context.Context) []Result {
		status, err := os.ReadFile("/proc/self/status")
		if err != nil {
			return []Result{fail(name, "reading /proc/self/status: "+err.Error(), "mount /proc")}
		}
		caps, err := effectiveCaps(string(status))
		if err != nil {
			return []Result{fail(name, "/proc/self/status: "+err.Error(), "report this, with the kernel version")}
		}
		return []Result{capResult(caps, bit, capName, what)}
	}}
}

// packetCheck opens an AF_PACKET socket with PACKET_VNET_HDR, as a host
// port does, binds it to ifname and closes it.
func packetCheck(ifname string) Check {
	name := "packet-socket:" + ifname
	return Check{Name: name, Run: func(context.Context) []Result {
		ifi, err := net.InterfaceByName(ifname)
		if err != nil {
			return []Result{fail(name, "no interface "+ifname, "give an existing interface: `ip -br link` lists them")}
		}
		fd, err := unix.Socket(unix.AF_PACKET, unix.SOCK_RAW|unix.SOCK_CLOEXEC, 0)
		if err != nil {
			return []Result{fail(name, "socket(AF_PACKET): "+err.Error(), permFix(err, "CAP_NET_RAW"))}
		}
		defer unix.Close(fd)
		if err := unix.SetsockoptInt(fd, unix.SOL_PACKET, unix.PACKET_VNET_HDR, 1); err != nil {
			return []Result{fail(name, "PACKET_VNET_HDR: "+err.Error(), "a kernel with AF_PACKET virtio-net headers (Linux 3.14 or later)")}
		}
		proto := uint16(unix.ETH_P_ALL)
		if err := unix.Bind(fd, &unix.SockaddrLinklayer{Protocol: proto<<8 | proto>>8, Ifindex: ifi.Index}); err != nil {
			return []Result{fail(name, fmt.Sprintf("binding to %s: %v", ifname, err), "give an existing interface: `ip -br link` lists them")}
		}
		return []Result{pass(name, fmt.Sprintf("an AF_PACKET socket with PACKET_VNET_HDR bound to %s (index %d, MTU %d), then closed", ifname, ifi.Index, ifi.MTU))}
	}}
}

// tunCheck creates a throwaway TAP with a virtio-net header, as tap and
// feth ports do, and closes it, which destroys it.
func tunCheck() Check {
	const name = "tun"
	return Check{Name: name, Run: func(context.Context) []Result {
		fd, err := unix.Open("/dev/net/tun", unix.O_RDWR|unix.O_CLOEXEC, 0)
		if errors.Is(err, fs.ErrNotExist) {
			return []Result{fail(name, "/dev/net/tun does not exist", "sudo modprobe tun (or, in a container, pass --device /dev/net/tun)")}
		}
		if err != nil {
			return []Result{fail(name, "opening /dev/net/tun: "+err.Error(), permFix(err, "CAP_NET_ADMIN"))}
		}
		closed := false
		defer func() {
			if !closed {
				unix.Close(fd)
			}
		}()
		ifr, err := unix.NewIfreq("l2fdoctor%d")
		if err != nil {
			return []Result{fail(name, err.Error(), "report this as a bug")}
		}
		ifr.SetUint16(unix.IFF_TAP | unix.IFF_NO_PI | unix.IFF_VNET_HDR)
		if err := unix.IoctlIfreq(fd, unix.TUNSETIFF, ifr); err != nil {
			return []Result{fail(name, "TUNSETIFF (creating a TAP): "+err.Error(), permFix(err, "CAP_NET_ADMIN"))}
		}
		tap := ifr.Name()
		closed = true
		if err := unix.Close(fd); err != nil {
			return []Result{fail(name, "closing the TAP "+tap+": "+err.Error(), "ip link del "+tap)}
		}
		if _, err := net.InterfaceByName(tap); err == nil {
			return []Result{fail(name, "the TAP "+tap+" is still there after its descriptor was closed", "ip link del "+tap)}
		}
		return []Result{pass(name, "/dev/net/tun created the TAP "+tap+" with a virtio-net header; closing it destroyed it")}
	}}
}

// bridgeCheck checks that the bridge of a feth: port exists and is a
// bridge.
func bridgeCheck(bridge string) Check {
	name := "bridge:" + bridge
	if bridge == "" {
		name = "bridge"
	}
	return Check{Name: name, Run: func(context.Context) []Result {
		if bridge == "" {
			return []Result{skip(name, "no feth:BRIDGE given: name the bridge to check it")}
		}
		ifi, err := net.InterfaceByName(bridge)
		if err != nil {
			return []Result{fail(name, fmt.Sprintf("no interface %s", bridge), fmt.Sprintf("create it: sudo ip link add %s type bridge && sudo ip link set %s up, and give it the host's address", bridge, bridge))}
		}
		if _, err := os.Stat("/sys/class/net/" + bridge + "/bridge"); err != nil {
			return []Result{fail(name, bridge+" exists but is not a bridge", "give a Linux bridge: `ip -br link show type bridge` lists them")}
		}
		state := "up"
		if ifi.Flags&net.FlagUp == 0 {
			state = "down (sudo ip link set " + bridge + " up)"
		}
		return []Result{pass(name, fmt.Sprintf("%s is a bridge, MTU %d, %s", bridge, ifi.MTU, state))}
	}}
}

// qlenCheck reads net.unix.max_dgram_qlen.
func qlenCheck() Check {
	const name = "unix-max-dgram-qlen"
	return Check{Name: name, Run: func(context.Context) []Result {
		b, err := os.ReadFile("/proc/sys/net/unix/max_dgram_qlen")
		if err != nil {
			return []Result{skip(name, "reading net.unix.max_dgram_qlen: "+err.Error())}
		}
		v, err := strconv.Atoi(strings.TrimSpace(string(b)))
		if err != nil {
			return []Result{skip(name, fmt.Sprintf("net.unix.max_dgram_qlen is %q", b))}
		}
		return []Result{dgramQlenResult(v)}
	}}
}

// permFix is the fix for err: root, when the kernel refused a
// privilege.
func permFix(err error, capName string) string {
	if errors.Is(err, unix.EPERM) || errors.Is(err, unix.EACCES) {
		return "run as root (sudo), or grant l2fabric " + capName
	}
	return "report this, with the output of doctor"
}
