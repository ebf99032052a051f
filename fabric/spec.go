package fabric

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/l2fabric/l2fabric/frames"
)

// Spec is a parsed port specification, KIND:ARG[,KEY=VALUE]..., as given to
// --port and to the attach command. ARG may be empty, and the first element
// after the colon may itself be a KEY=VALUE (dgram:fd=3).
type Spec struct {
	// Text is the specification as written.
	Text string
	// Kind is the port kind, e.g. "dgram".
	Kind string
	// Arg is the positional argument, e.g. a socket path or an interface.
	Arg string
	// Options are the KEY=VALUE pairs in the order written.
	Options []Option
}

// Option is one KEY=VALUE of a Spec.
type Option struct {
	Key, Value string
}

// Get returns the value of key and whether it was given.
func (s Spec) Get(key string) (string, bool) {
	for _, o := range s.Options {
		if o.Key == key {
			return o.Value, true
		}
	}
	return "", false
}

// String returns the specification as written.
func (s Spec) String() string { return s.Text }

// SpecError is a malformed port specification: it names the specification,
// the part that is wrong, why, and what would be accepted.
type SpecError struct {
	Spec   string // the whole specification
	Part   string // the offending part, e.g. "vlan=5000"
	Reason string // what is wrong with it
	Hint   string // the accepted forms, or how to fix it
}

// Error implements error.
func (e *SpecError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "port spec %q", e.Spec)
	if e.Part != "" {
		fmt.Fprintf(&b, ": %q", e.Part)
	}
	b.WriteString(": ")
	b.WriteString(e.Reason)
	if e.Hint != "" {
		b.WriteString(" (")
		b.WriteString(e.Hint)
		b.WriteString(")")
	}
	return b.String()
}

// CommonKeys are the options every port kind accepts; ParsePortConfig
// interprets them.
var commonKeys = []string{"name", "vlan", "trunk", "mtu", "learning", "flood", "mac", "txqueue", "loop", "storm"}

// CommonKeys returns the option keys every port kind accepts.
func CommonKeys() []string { return slices.Clone(commonKeys) }

// ParseSpec parses KIND:ARG[,KEY=VALUE]... It checks syntax only: which
// kinds and keys exist is for the caller (see Kinds.Parse).
func ParseSpec(text string) (Spec, error) {
	s := Spec{Text: text}
	fail := func(part, reason, hint string) (Spec, error) {
		return Spec{}, &SpecError{Spec: text, Part: part, Reason: reason, Hint: hint}
	}
	const form = "want KIND:ARG[,KEY=VALUE]..., e.g. dgram:/tmp/vm1.sock,vlan=10"
	kind, rest, ok := strings.Cut(text, ":")
	if !ok {
		return fail("", "no port kind", form)
	}
	if !isWord(kind) {
		return fail(kind, "port kind must be lower-case letters, digits and '-'", form)
	}
	s.Kind = kind
	if rest == "" {
		return s, nil
	}
	elems := strings.Split(rest, ",")
	for i, elem := range elems {
		key, value, isOpt := strings.Cut(elem, "=")
		if i == 0 && (!isOpt || !isWord(key)) {
			s.Arg = elem
			continue
		}
		if elem == "" {
			return fail("", "empty option", "remove the extra ','")
		}
		if !isOpt {
			if prev := s.Options; len(prev) > 0 && prev[len(prev)-1].Key == "trunk" && isVLANList(elem) {
				t := prev[len(prev)-1].Value
				for _, e := range elems[i:] {
					if !isVLANList(e) {
						break
					}
					t += "+" + e
				}
				return fail(elem, "option is not KEY=VALUE", "VLANs of a trunk are joined with '+', since ',' separates options: trunk="+t)
			}
			return fail(elem, "option is not KEY=VALUE", form)
		}
		if !isWord(key) {
			return fail(elem, "option key must be lower-case letters, digits and '-'", form)
		}
		if _, dup := s.Get(key); dup {
			return fail(elem, "option given twice", "keep one "+key+"=")
		}
		s.Options = append(s.Options, Option{Key: key, Value: value})
	}
	return s, nil
}

// isVLANList reports whether s looks like VLANs and ranges ("20",
// "100-199", "20+30"), for the hint about a trunk list written with ','.
func isVLANList(s string) bool {
	return s != "" && strings.Trim(s, "0123456789-+") == ""
}

func isWord(s string) bool {
	if s == "" || s[0] < 'a' || s[0] > 'z' {
		return false
	}
	for i := 1; i < len(s); i++ {
		c := s[i]
		if (c < 'a' || c > 'z') && (c < '0' || c > '9') && c != '-' && c != '_' {
			return false
		}
	}
	return true
}

// ParsePortConfig interprets the common options of s (name, vlan, trunk,
// mtu, learning, flood, mac, txqueue, loop, storm) into a PortConfig, and checks that
// every other option is one of backendKeys. Forms lists the kind's accepted
// forms for error messages.
func ParsePortConfig(s Spec, backendKeys []string, forms string) (PortConfig, error) {
	var c PortConfig
	c.Kind = s.Kind
	fail := func(o Option, reason, hint string) (PortConfig, error) {
		return PortConfig{}, &SpecError{Spec: s.Text, Part: o.Key + "=" + o.Value, Reason: reason, Hint: hint}
	}
	for _, o := range s.Options {
		var err error
		switch o.Key {
		case "name":
			if o.Value == "" || strings.ContainsAny(o.Value, " \t\n/") {
				return fail(o, "name must be non-empty, without spaces or '/'", "e.g. name=router-lan")
			}
			c.Name = o.Value
		case "vlan":
			c.VLAN, err = ParseVLAN(o.Value)
			if err != nil {
				return fail(o, err.Error(), "e.g. vlan=10")
			}
		case "trunk":
			c.Trunk, err = ParseVLANList(o.Value)
			if err != nil {
				return fail(o, err.Error(), "a '+'-separated list of VLANs and ranges, e.g. trunk=10+20+100-199, or trunk=all")
			}
		case "mtu":
			c.MTU, err = strconv.Atoi(o.Value)
			if err != nil || c.MTU < MinMTU || c.MTU > MaxMTU {
				return fail(o, fmt.Sprintf("mtu must be a number from %d to %d", MinMTU, MaxMTU), "e.g. mtu=9000")
			}
		case "txqueue":
			c.TxQueueLen, err = strconv.Atoi(o.Value)
			if err != nil || c.TxQueueLen < 1 || c.TxQueueLen > MaxTxQueueLen {
				return fail(o, fmt.Sprintf("txqueue must be a number of frames from 1 to %d", MaxTxQueueLen), "e.g. txqueue=1024")
			}
		case "loop":
			switch o.Value {
			case "off":
				c.NoLoopDetect = true
			case "on":
			default:
				c.LoopPriority, err = strconv.Atoi(o.Value)
				if err != nil || c.LoopPriority < 1 || c.LoopPriority > MaxLoopPriority {
					return fail(o, fmt.Sprintf("loop must be on, off or a priority from 1 to %d (the lower is blocked when two ports are looped; default %d)", MaxLoopPriority, DefaultLoopPriority), "e.g. loop=200 to keep this port open, loop=off")
				}
			}
		case "storm":
			if o.Value == "off" {
				c.Storm = StormOff
				break
			}
			c.Storm, err = strconv.Atoi(o.Value)
			if err != nil || c.Storm < 1 || c.Storm > MaxStorm {
				return fail(o, fmt.Sprintf("storm must be off or a number of broadcast, multicast and unknown-unicast frames per second from 1 to %d", MaxStorm), "e.g. storm=1000")
			}
		case "learning", "flood":
			on, err := ParseBool(o.Value)
			if err != nil {
				return fail(o, err.Error(), o.Key+"=on or "+o.Key+"=off")
			}
			if o.Key == "learning" {
				c.NoLearning = !on
			} else {
				c.NoFlood = !on
			}
		case "mac":
			c.MAC, err = frames.ParseMAC(o.Value)
			if err == nil && !c.MAC.IsUnicast() {
				err = fmt.Errorf("%s is not a unicast address", c.MAC)
			}
			if err != nil {
				return fail(o, err.Error(), "e.g. mac=52:54:00:12:34:56")
			}
		default:
			if !slices.Contains(backendKeys, o.Key) {
				keys := append(CommonKeys(), backendKeys...)
				return fail(o, "unknown option for kind "+s.Kind,
					"accepted: "+strings.Join(keys, ", ")+"; forms: "+forms)
			}
		}
	}
	return c, nil
}

// ParseVLAN parses a VLAN ID from 1 to 4094.
func ParseVLAN(s string) (uint16, error) {
	v, err := strconv.ParseUint(s, 10, 16)
	if err != nil || v < frames.MinVLAN || v > frames.MaxVLAN {
		return 0, fmt.Errorf("VLAN %q is not a number from %d to %d", s, frames.MinVLAN, frames.MaxVLAN)
	}
	return uint16(v), nil
}

// ParseVLANList parses a '+'-separated list of VLAN IDs and ranges
// ("10+20+100-199"), or "all" for 1-4094, into a sorted list without
// duplicates. '+' rather than ',' keeps it inside one port spec option.
func ParseVLANList(s string) ([]uint16, error) {
	var set VLANSet
	if s == "all" {
		s = fmt.Sprintf("%d-%d", frames.MinVLAN, frames.MaxVLAN)
	}
	if s == "" {
		return nil, fmt.Errorf("empty VLAN list")
	}
	for _, part := range strings.Split(s, "+") {
		lo, hi, isRange := strings.Cut(part, "-")
		a, err := ParseVLAN(lo)
		if err != nil {
			return nil, err
		}
		b := a
		if isRange {
			if b, err = ParseVLAN(hi); err != nil {
				return nil, err
			}
			if b < a {
				return nil, fmt.Errorf("VLAN range %q runs backwards", part)
			}
		}
		for v := a; v <= b; v++ {
			set.Add(v)
		}
	}
	return set.List(), nil
}

// DescribeVLANs says which VLANs a port carries, for people: "access 10",
// "trunk 10+20", "trunk 10+20 native 5". trunk is in FormatVLANList's
// form, empty for an access port; vlan is the access or native VLAN (0 on
// a trunk without one).
func DescribeVLANs(vlan uint16, trunk string) string {
	if trunk == "" {
		return "access " + strconv.Itoa(int(vlan))
	}
	if vlan == 0 {
		return "trunk " + trunk
	}
	return "trunk " + trunk + " native " + strconv.Itoa(int(vlan))
}

// FormatVLANList is the inverse of ParseVLANList: "10+20+100-199".
func FormatVLANList(vlans []uint16) string {
	var b strings.Builder
	for i := 0; i < len(vlans); {
		j := i
		for j+1 < len(vlans) && vlans[j+1] == vlans[j]+1 {
			j++
		}
		if b.Len() > 0 {
			b.WriteByte('+')
		}
		b.WriteString(strconv.Itoa(int(vlans[i])))
		if j > i {
			b.WriteByte('-')
			b.WriteString(strconv.Itoa(int(vlans[j])))
		}
		i = j + 1
	}
	return b.String()
}

// ParseBool parses the value of an on|off option, the only two forms
// documented: every such key of every kind goes through it, so that none
// quietly accepts a synonym (yes, true, 1) another rejects.
func ParseBool(s string) (bool, error) {
	switch s {
	case "on":
		return true, nil
	case "off":
		return false, nil
	}
	return false, fmt.Errorf("%q is not on or off", s)
}

// VLANSet is a set of VLAN IDs 0-4095 as a bitmap.
type VLANSet [4096 / 64]uint64

// Add puts v in the set.
func (s *VLANSet) Add(v uint16) { s[v>>6&63] |= 1 << (v & 63) }

// Has reports whether v is in the set.
func (s *VLANSet) Has(v uint16) bool { return s[v>>6&63]&(1<<(v&63)) != 0 }

// List returns the members in ascending order.
func (s *VLANSet) List() []uint16 {
	var out []uint16
	for v := 0; v < 4096; v++ {
		if s.Has(uint16(v)) {
			out = append(out, uint16(v))
		}
	}
	return out
}
