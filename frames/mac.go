// Package frames provides zero-copy views over Ethernet frames and the
// MAC address type used as a key throughout l2fabric.
//
// Nothing on the per-frame path decodes a frame into a struct: a Frame is a
// byte slice with accessor methods, in the style of gVisor's header package.
// Decoding for people (Frame.Describe) uses mdlayher/ethernet; the fabric
// calls it only to trace a dropped frame when trace logging is on.
package frames

import (
	"encoding/hex"
	"errors"
	"fmt"
)

// MAC is an IEEE 802 MAC-48 address. It is comparable and so usable as a map
// key, unlike net.HardwareAddr.
type MAC [6]byte

// ErrBadMAC is wrapped by the error ParseMAC returns for malformed input.
var ErrBadMAC = errors.New("bad MAC address")

// ParseMAC parses a MAC-48 address written as six hexadecimal octets
// separated by ':' or '-' (aa:bb:cc:dd:ee:ff, aa-bb-cc-dd-ee-ff), as three
// groups of four separated by '.' (aabb.ccdd.eeff), or as twelve bare
// hexadecimal digits (aabbccddeeff). Single-digit octets such as 2:0:0:0:0:1
// are accepted with ':' and '-' separators.
func ParseMAC(s string) (MAC, error) {
	var m MAC
	bad := func(why string) (MAC, error) {
		return MAC{}, fmt.Errorf("%w %q: %s (want six hex octets like 02:00:00:00:00:01)", ErrBadMAC, s, why)
	}
	switch {
	case len(s) == 12:
		if _, err := hex.Decode(m[:], []byte(s)); err != nil {
			return bad("not hexadecimal")
		}
		return m, nil
	case len(s) == 14 && s[4] == '.' && s[9] == '.':
		b := []byte(s[0:4] + s[5:9] + s[10:14])
		if _, err := hex.Decode(m[:], b); err != nil {
			return bad("not hexadecimal")
		}
		return m, nil
	}
	i := 0
	for octet := 0; octet < 6; octet++ {
		if octet > 0 {
			if i >= len(s) || (s[i] != ':' && s[i] != '-') || s[i] != sepOf(s) {
				return bad("octets must be separated by ':' or '-'")
			}
			i++
		}
		v, n := 0, 0
		for i < len(s) && n < 2 {
			d, ok := hexDigit(s[i])
			if !ok {
				break
			}
			v = v<<4 | int(d)
			i++
			n++
		}
		if n == 0 {
			return bad(fmt.Sprintf("octet %d is not hexadecimal", octet+1))
		}
		m[octet] = byte(v)
	}
	if i != len(s) {
		return bad("trailing characters")
	}
	return m, nil
}

// sepOf returns the first separator character in s, so that mixed
// separators (aa:bb-cc...) are rejected.
func sepOf(s string) byte {
	for i := 0; i < len(s); i++ {
		if s[i] == ':' || s[i] == '-' {
			return s[i]
		}
	}
	return 0
}

func hexDigit(c byte) (byte, bool) {
	switch {
	case c >= '0' && c <= '9':
		return c - '0', true
	case c >= 'a' && c <= 'f':
		return c - 'a' + 10, true
	case c >= 'A' && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}

// String formats m as six lower-case colon-separated octets.
func (m MAC) String() string {
	const digits = "0123456789abcdef"
	var b [17]byte
	for i, o := range m {
		if i > 0 {
			b[i*3-1] = ':'
		}
		b[i*3] = digits[o>>4]
		b[i*3+1] = digits[o&0xf]
	}
	return string(b[:])
}

// MarshalText implements encoding.TextMarshaler (JSON renders a MAC as a
// string).
func (m MAC) MarshalText() ([]byte, error) { return []byte(m.String()), nil }

// UnmarshalText implements encoding.TextUnmarshaler with ParseMAC's syntax.
func (m *MAC) UnmarshalText(b []byte) error {
	v, err := ParseMAC(string(b))
	if err != nil {
		return err
	}
	*m = v
	return nil
}

// IsZero reports whether m is 00:00:00:00:00:00.
func (m MAC) IsZero() bool { return m == MAC{} }

// IsBroadcast reports whether m is ff:ff:ff:ff:ff:ff.
func (m MAC) IsBroadcast() bool { return m == MAC{0xff, 0xff, 0xff, 0xff, 0xff, 0xff} }

// IsMulticast reports whether m is a group address (the I/G bit is set).
// Broadcast is a multicast address.
func (m MAC) IsMulticast() bool { return m[0]&1 != 0 }

// IsUnicast reports whether m is an individual, non-zero address: the only
// kind of source address a switch learns.
func (m MAC) IsUnicast() bool { return m[0]&1 == 0 && !m.IsZero() }

// IsLocallyAdministered reports whether the U/L bit is set, as it is for
// addresses made up for VMs (02:...).
func (m MAC) IsLocallyAdministered() bool { return m[0]&2 != 0 }

// IsLinkLocal reports whether m is one of the IEEE 802.1D reserved group
// addresses 01:80:c2:00:00:00 to 01:80:c2:00:00:0f (STP, pause, LACP,
// LLDP, 802.1X...), which a bridge must never forward.
func (m MAC) IsLinkLocal() bool {
	return m[0] == 0x01 && m[1] == 0x80 && m[2] == 0xc2 && m[3] == 0 && m[4] == 0 && m[5]&0xf0 == 0
}
