package macnat

import "encoding/binary"

// updateChecksum returns the Internet checksum csum (as stored in a
// header) after the bytes old were replaced by new, both of the same even
// length and starting at an even offset from the start of what the
// checksum covers. It is RFC 1624's equation 3, HC' = ~(~HC + ~m + m'),
// applied word by word; it never changes a checksum into one that
// verifies differently, whatever the data.
func updateChecksum(csum uint16, old, new []byte) uint16 {
	sum := uint32(^csum)
	for i := 0; i+1 < len(old) && i+1 < len(new); i += 2 {
		sum += uint32(^binary.BigEndian.Uint16(old[i:]))
		sum += uint32(binary.BigEndian.Uint16(new[i:]))
	}
	for sum > 0xffff {
		sum = sum&0xffff + sum>>16
	}
	return ^uint16(sum)
}

// udpChecksum adapts a recomputed UDP checksum: 0 means "no checksum" in
// UDP over IPv4, so a computed 0 is sent as 0xffff (RFC 768).
func udpChecksum(c uint16) uint16 {
	if c == 0 {
		return 0xffff
	}
	return c
}
