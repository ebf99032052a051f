//go:build linux

// Package netif is the Linux network-interface plumbing the tap and feth
// backends share: looking links up over rtnetlink, the ioctls that
// configure an interface (MTU, up, bridge membership), opening a TAP, and
// TapPort, a fabric port on a TAP that survives its device being deleted
// and re-created.
//
// Links are looked up over netlink rather than /sys/class/net, because
// sysfs shows the network namespace it was mounted in, not necessarily the
// caller's.
package netif

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"
)

// ErrNotFound is returned (wrapped) when no interface has the name or
// index asked for.
var ErrNotFound = errors.New("no such network interface")

// Link is a network interface as rtnetlink describes it.
type Link struct {
	// Index is the interface index.
	Index int
	// Name is the interface name.
	Name string
	// HardwareAddr is the interface's MAC address.
	HardwareAddr net.HardwareAddr
	// Flags are the interface flags (unix.IFF_UP...).
	Flags uint32
	// MTU is the interface MTU.
	MTU int
	// Master is the index of the bridge (or bond) the interface is a port
	// of, 0 if none.
	Master int
	// Kind is the rtnetlink link kind: "bridge", "tun", "veth", "dummy",
	// or "" for a physical NIC.
	Kind string
	// TunType is unix.IFF_TUN or unix.IFF_TAP for a Kind "tun" link.
	TunType int
	// TunPersist reports whether a Kind "tun" link is persistent.
	TunPersist bool
	// TunOwner and TunGroup are a Kind "tun" link's owner and group, -1
	// when unset.
	TunOwner, TunGroup int
}

// IsTap reports whether l is a TAP device (a layer-2 tun link).
func (l Link) IsTap() bool { return l.Kind == "tun" && l.TunType == unix.IFF_TAP }

// IsBridge reports whether l is a Linux bridge.
func (l Link) IsBridge() bool { return l.Kind == "bridge" }

// Up reports whether the interface is administratively up.
func (l Link) Up() bool { return l.Flags&unix.IFF_UP != 0 }

// Describe names the link's type for error messages: "a bridge", "a TAP
// device", "a veth device", "a physical or unnamed-kind device".
func (l Link) Describe() string {
	switch {
	case l.IsTap():
		return "a TAP device"
	case l.Kind == "tun":
		return "a TUN (layer 3) device"
	case l.IsBridge():
		return "a bridge"
	case l.Kind == "":
		return "a device without a link kind (a physical NIC?)"
	}
	return "a " + l.Kind + " device"
}

// LinkByName returns the interface called name, or an error wrapping
// ErrNotFound.
func LinkByName(name string) (Link, error) {
	if err := ValidName(name); err != nil {
		return Link{}, err
	}
	attr := make([]byte, 0, 32)
	attr = appendAttr(attr, unix.IFLA_IFNAME, append([]byte(name), 0))
	links, err := getLinks(0, 0, attr)
	if err != nil {
		if errors.Is(err, unix.ENODEV) {
			return Link{}, fmt.Errorf("%w: %s", ErrNotFound, name)
		}
		return Link{}, fmt.Errorf("looking up interface %s: %w", name, err)
	}
	if len(links) != 1 {
		return Link{}, fmt.Errorf("looking up interface %s: %d answers", name, len(links))
	}
	return links[0], nil
}

// LinkByIndex returns the interface with index i, or an error wrapping
// ErrNotFound.
func LinkByIndex(i int) (Link, error) {
	links, err := getLinks(0, i, nil)
	if err != nil {
		if errors.Is(err, unix.ENODEV) {
			return Link{}, fmt.Errorf("%w: index %d", ErrNotFound, i)
		}
		return Link{}, fmt.Errorf("looking up interface %d: %w", i, err)
	}
	if len(links) != 1 {
		return Link{}, fmt.Errorf("looking up interface %d: %d answers", i, len(links))
	}
	return links[0], nil
}

// Links returns every interface of the caller's network namespace.
func Links() ([]Link, error) {
	links, err := getLinks(unix.NLM_F_DUMP, 0, nil)
	if err != nil {
		return nil, fmt.Errorf("listing interfaces: %w", err)
	}
	return links, nil
}

// Bridges returns the names of the Linux bridges, sorted.
func Bridges() ([]string, error) {
	links, err := Links()
	if err != nil {
		return nil, err
	}
	var out []string
	for _, l := range links {
		if l.IsBridge() {
			out = append(out, l.Name)
		}
	}
	slices.Sort(out)
	return out, nil
}

// ValidName checks an interface name as the kernel does: 1 to 15 bytes,
// not "." or "..", without '/', ':' or white space.
func ValidName(name string) error {
	switch {
	case name == "":
		return errors.New("interface name is empty")
	case len(name) >= unix.IFNAMSIZ:
		return fmt.Errorf("interface name %q is %d bytes, longer than the %d Linux allows", name, len(name), unix.IFNAMSIZ-1)
	case name == "." || name == "..":
		return fmt.Errorf("interface name %q is not allowed", name)
	case strings.ContainsAny(name, "/: \t\n\r\v\f"):
		return fmt.Errorf("interface name %q contains '/', ':' or white space", name)
	}
	return nil
}

// netlinkTimeout bounds a netlink exchange, so that a kernel that never
// answers cannot hang a caller.
const netlinkTimeout = 5 * time.Second

var netlinkSeq atomic.Uint32

// getLinks sends RTM_GETLINK (a dump when flags has NLM_F_DUMP, else a
// query for index or for the name in attrs) and parses the answers.
func getLinks(flags uint16, index int, attrs []byte) ([]Link, error) {
	fd, err := unix.Socket(unix.AF_NETLINK, unix.SOCK_RAW|unix.SOCK_CLOEXEC, unix.NETLINK_ROUTE)
	if err != nil {
		return nil, fmt.Errorf("netlink socket: %w", err)
	}
	defer unix.Close(fd)
	tv := unix.NsecToTimeval(int64(netlinkTimeout))
	_ = unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &tv)
	if err := unix.Bind(fd, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
		return nil, fmt.Errorf("netlink bind: %w", err)
	}
	seq := netlinkSeq.Add(1)
	msg := make([]byte, unix.SizeofNlMsghdr+unix.SizeofIfInfomsg, unix.SizeofNlMsghdr+unix.SizeofIfInfomsg+len(attrs))
	msg = append(msg, attrs...)
	ne := binary.NativeEndian
	ne.PutUint32(msg[0:], uint32(len(msg)))
	ne.PutUint16(msg[4:], unix.RTM_GETLINK)
	ne.PutUint16(msg[6:], unix.NLM_F_REQUEST|flags)
	ne.PutUint32(msg[8:], seq)
	msg[16] = unix.AF_UNSPEC
	ne.PutUint32(msg[20:], uint32(int32(index)))
	if err := unix.Sendto(fd, msg, 0, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
		return nil, fmt.Errorf("netlink send: %w", err)
	}
	var links []Link
	buf := make([]byte, 1<<16)
	for {
		n, _, err := unix.Recvfrom(fd, buf, 0)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("netlink receive: %w", err)
		}
		b := buf[:n]
		for len(b) >= unix.SizeofNlMsghdr {
			l := int(ne.Uint32(b[0:]))
			typ := ne.Uint16(b[4:])
			mflags := ne.Uint16(b[6:])
			mseq := ne.Uint32(b[8:])
			if l < unix.SizeofNlMsghdr || l > len(b) {
				return nil, errors.New("netlink: malformed message")
			}
			body := b[unix.SizeofNlMsghdr:l]
			b = b[min(align4(l), len(b)):]
			if mseq != seq {
				continue
			}
			switch typ {
			case unix.NLMSG_DONE:
				return links, nil
			case unix.NLMSG_ERROR:
				if len(body) < 4 {
					return nil, errors.New("netlink: short error message")
				}
				if e := int32(ne.Uint32(body)); e != 0 {
					return nil, unix.Errno(-e)
				}
				return links, nil
			case unix.RTM_NEWLINK:
				link, err := parseLink(body)
				if err != nil {
					return nil, err
				}
				links = append(links, link)
				if mflags&unix.NLM_F_MULTI == 0 {
					return links, nil
				}
			}
		}
	}
}

func align4(n int) int { return (n + 3) &^ 3 }

// appendAttr appends one rtattr to b.
func appendAttr(b []byte, typ uint16, data []byte) []byte {
	var h [4]byte
	binary.NativeEndian.PutUint16(h[0:], uint16(4+len(data)))
	binary.NativeEndian.PutUint16(h[2:], typ)
	b = append(b, h[:]...)
	b = append(b, data...)
	for len(b)%4 != 0 {
		b = append(b, 0)
	}
	return b
}

// attrs calls fn for each rtattr in b, with the type stripped of the
// nested and byte-order flags.
func attrs(b []byte, fn func(typ uint16, data []byte)) {
	ne := binary.NativeEndian
	for len(b) >= 4 {
		l := int(ne.Uint16(b[0:]))
		typ := ne.Uint16(b[2:]) & nlaTypeMask
		if l < 4 || l > len(b) {
			return
		}
		fn(typ, b[4:l])
		b = b[min(align4(l), len(b)):]
	}
}

func attrString(b []byte) string {
	if i := slices.Index(b, 0); i >= 0 {
		b = b[:i]
	}
	return string(b)
}

func attrUint32(b []byte) uint32 {
	if len(b) < 4 {
		return 0
	}
	return binary.NativeEndian.Uint32(b)
}

// parseLink parses an RTM_NEWLINK body: an ifinfomsg and its attributes.
func parseLink(body []byte) (Link, error) {
	if len(body) < unix.SizeofIfInfomsg {
		return Link{}, errors.New("netlink: short link message")
	}
	ne := binary.NativeEndian
	l := Link{
		Index:    int(int32(ne.Uint32(body[4:]))),
		Flags:    ne.Uint32(body[8:]),
		TunOwner: -1,
		TunGroup: -1,
	}
	attrs(body[unix.SizeofIfInfomsg:], func(typ uint16, data []byte) {
		switch typ {
		case unix.IFLA_IFNAME:
			l.Name = attrString(data)
		case unix.IFLA_ADDRESS:
			l.HardwareAddr = net.HardwareAddr(slices.Clone(data))
		case unix.IFLA_MTU:
			l.MTU = int(attrUint32(data))
		case unix.IFLA_MASTER:
			l.Master = int(attrUint32(data))
		case unix.IFLA_LINKINFO:
			attrs(data, func(typ uint16, data []byte) {
				switch typ {
				case unix.IFLA_INFO_KIND:
					l.Kind = attrString(data)
				case unix.IFLA_INFO_DATA:
					parseTunInfo(&l, data)
				}
			})
		}
	})
	if l.Kind != "tun" {
		l.TunType, l.TunPersist, l.TunOwner, l.TunGroup = 0, false, -1, -1
	}
	return l, nil
}

// parseTunInfo reads a tun link's IFLA_INFO_DATA. Other kinds' data is
// parsed too (the kind may come after it) and discarded by parseLink.
func parseTunInfo(l *Link, data []byte) {
	attrs(data, func(typ uint16, data []byte) {
		switch typ {
		case unix.IFLA_TUN_TYPE:
			if len(data) > 0 {
				l.TunType = int(data[0])
			}
		case unix.IFLA_TUN_PERSIST:
			l.TunPersist = len(data) > 0 && data[0] != 0
		case unix.IFLA_TUN_OWNER:
			if v := attrUint32(data); v != ^uint32(0) && len(data) >= 4 {
				l.TunOwner = int(v)
			}
		case unix.IFLA_TUN_GROUP:
			if v := attrUint32(data); v != ^uint32(0) && len(data) >= 4 {
				l.TunGroup = int(v)
			}
		}
	})
}

// nlaTypeMask strips NLA_F_NESTED and NLA_F_NET_BYTEORDER from an
// attribute type.
const nlaTypeMask = 0x3fff
