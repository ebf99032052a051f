package vxlan

import (
	"fmt"
	"net/netip"
	"slices"
	"strconv"
	"strings"

	"github.com/l2fabric/l2fabric/fabric"
)

// forms are the accepted spec forms, for help and error messages.
var forms = []string{
	"vxlan:REMOTE[+REMOTE...],vni=N[,local=IP][,port=4789][,ttl=N][,df=on|off]",
	"vxlan:REMOTE[+REMOTE...],vnis=VNI:VLAN+VNI:VLAN...[,local=IP][,port=4789][,ttl=N][,df=on|off]",
}

// keys are the vxlan-specific option keys.
var keys = []string{"vni", "vnis", "local", "port", "ttl", "df"}

// Mapping is one VNI carried by a port and the fabric VLAN it stands for.
type Mapping struct {
	VNI  uint32
	VLAN uint16
}

// options are the vxlan-specific parts of a spec.
type options struct {
	remotes []netip.Addr // flood list (head-end replication); may be empty
	maps    []Mapping    // sorted by VNI
	trunk   bool         // vnis= (VLANs leave tagged) rather than vni=
	local   netip.Addr   // unspecified: any address of the family
	port    uint16
	ttl     int  // 0: the system default
	df      bool // set DF on IPv4 underlay packets
}

// is6 reports whether the underlay is IPv6.
func (o options) is6() bool { return o.local.Is6() }

// parseOptions interprets a vxlan spec. cfg is the spec's common options,
// already parsed: vni= makes the port an access port of cfg.VLAN, vnis= a
// trunk of the mapped VLANs.
func parseOptions(s fabric.Spec, cfg fabric.PortConfig) (options, error) {
	o := options{port: DefaultPort}
	fail := func(part, reason, hint string) (options, error) {
		if hint == "" {
			hint = "forms: " + strings.Join(forms, " | ")
		}
		return options{}, &fabric.SpecError{Spec: s.Text, Part: part, Reason: reason, Hint: hint}
	}
	if s.Arg != "" {
		for _, r := range strings.Split(s.Arg, "+") {
			a, err := netip.ParseAddr(r)
			if err != nil || a.Zone() != "" || !a.IsValid() || a.IsUnspecified() || a.IsMulticast() {
				return fail(r, "remote must be a unicast IPv4 or IPv6 address",
					"e.g. vxlan:10.0.0.2+10.0.0.3,vni=100 (multicast groups are not supported: list the remotes)")
			}
			a = a.Unmap()
			if slices.Contains(o.remotes, a) {
				return fail(r, "remote given twice", "list each remote once")
			}
			o.remotes = append(o.remotes, a)
		}
	}
	vni, haveVNI := s.Get("vni")
	vnis, haveVNIs := s.Get("vnis")
	switch {
	case haveVNI && haveVNIs:
		return fail("vnis="+vnis, "give vni= or vnis=, not both", "")
	case !haveVNI && !haveVNIs:
		return fail("", "missing vni=", "vni=N carries one VNI as the port's VLAN; vnis=VNI:VLAN+... several")
	case haveVNI:
		n, err := parseVNI(vni)
		if err != nil {
			return fail("vni="+vni, err.Error(), "e.g. vni=100")
		}
		if cfg.IsTrunk() {
			return fail("vni="+vni, "trunk= does not apply to a vxlan port", "the VNI is the tag: carry several with vnis=VNI:VLAN+VNI:VLAN")
		}
		vlan := cfg.VLAN
		if vlan == 0 {
			vlan = fabric.DefaultVLAN
		}
		o.maps = []Mapping{{VNI: n, VLAN: vlan}}
	default:
		if _, ok := s.Get("vlan"); ok || cfg.IsTrunk() {
			return fail("vnis="+vnis, "vlan= and trunk= do not apply with vnis=", "the VLANs are those of the mapping, e.g. vnis=100:10+200:20")
		}
		o.trunk = true
		for _, m := range strings.Split(vnis, "+") {
			a, b, ok := strings.Cut(m, ":")
			if !ok {
				return fail("vnis="+vnis, fmt.Sprintf("%q is not VNI:VLAN", m), "e.g. vnis=100:10+200:20")
			}
			n, err := parseVNI(a)
			if err != nil {
				return fail("vnis="+vnis, err.Error(), "e.g. vnis=100:10+200:20")
			}
			v, err := fabric.ParseVLAN(b)
			if err != nil {
				return fail("vnis="+vnis, err.Error(), "e.g. vnis=100:10+200:20")
			}
			for _, x := range o.maps {
				if x.VNI == n || x.VLAN == v {
					return fail("vnis="+vnis, fmt.Sprintf("VNI %d or VLAN %d mapped twice", n, v), "map each VNI to one VLAN and each VLAN to one VNI")
				}
			}
			o.maps = append(o.maps, Mapping{VNI: n, VLAN: v})
		}
		slices.SortFunc(o.maps, func(a, b Mapping) int { return int(a.VNI) - int(b.VNI) })
	}
	if v, ok := s.Get("local"); ok {
		a, err := netip.ParseAddr(v)
		if err != nil || a.Zone() != "" || a.IsMulticast() {
			return fail("local="+v, "local must be an IPv4 or IPv6 address of this machine", "e.g. local=10.0.0.1, or local=:: for any IPv6 address")
		}
		o.local = a.Unmap()
	}
	if v, ok := s.Get("port"); ok {
		n, err := strconv.ParseUint(v, 10, 16)
		if err != nil || n == 0 {
			return fail("port="+v, "port must be a UDP port from 1 to 65535", fmt.Sprintf("VXLAN's is %d; the Linux kernel's default without dstport is %d", DefaultPort, LinuxLegacyPort))
		}
		o.port = uint16(n)
	}
	if v, ok := s.Get("ttl"); ok {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 255 {
			return fail("ttl="+v, "ttl must be a number from 1 to 255", "e.g. ttl=64")
		}
		o.ttl = n
	}
	if v, ok := s.Get("df"); ok {
		on, err := fabric.ParseBool(v)
		if err != nil {
			return fail("df="+v, err.Error(), "df=on or df=off")
		}
		o.df = on
	}
	// The underlay's family: local's, else the remotes'.
	if !o.local.IsValid() {
		o.local = netip.IPv4Unspecified()
		if len(o.remotes) > 0 && o.remotes[0].Is6() {
			o.local = netip.IPv6Unspecified()
		}
	}
	for _, r := range o.remotes {
		if r.Is6() != o.local.Is6() {
			return fail(r.String(), "remotes and local must all be IPv4 or all IPv6",
				"one vxlan port has one underlay; give an IPv6 underlay its own port")
		}
	}
	return o, nil
}

// parseVNI parses a VNI from 1 to MaxVNI (0 is valid on the wire but no
// one configures it, and the kernel refuses it too).
func parseVNI(s string) (uint32, error) {
	n, err := strconv.ParseUint(s, 10, 32)
	if err != nil || n < 1 || n > MaxVNI {
		return 0, fmt.Errorf("VNI %q is not a number from 1 to %d", s, MaxVNI)
	}
	return uint32(n), nil
}

// portConfig fills in the fabric side of the port: name, kind, info, VLANs
// and, when mtu= is not given, the inner MTU the underlay leaves.
func (o options) portConfig(cfg fabric.PortConfig, underlayMTU int, mtuGiven bool) fabric.PortConfig {
	cfg.Kind = "vxlan"
	if o.trunk {
		cfg.VLAN = 0
		cfg.Trunk = nil
		for _, m := range o.maps {
			cfg.Trunk = append(cfg.Trunk, m.VLAN)
		}
		slices.Sort(cfg.Trunk)
	} else {
		cfg.VLAN = o.maps[0].VLAN
	}
	if cfg.Name == "" {
		cfg.Name = fmt.Sprintf("vxlan%d", o.maps[0].VNI)
	}
	if !mtuGiven {
		overhead := IPv4Overhead
		if o.is6() {
			overhead = IPv6Overhead
		}
		cfg.MTU = max(underlayMTU-overhead, fabric.MinMTU)
	}
	cfg.Info = o.describe()
	return cfg
}

// describe is the port's Info: its VNIs, local end and remotes.
func (o options) describe() string {
	var b strings.Builder
	for i, m := range o.maps {
		if i > 0 {
			b.WriteByte('+')
		}
		if o.trunk {
			fmt.Fprintf(&b, "vni %d:vlan %d", m.VNI, m.VLAN)
		} else {
			fmt.Fprintf(&b, "vni %d", m.VNI)
		}
	}
	fmt.Fprintf(&b, " %s", netip.AddrPortFrom(o.local, o.port))
	return b.String()
}
