package offload

import (
	"encoding/binary"
	"math/bits"
)

// Sum returns the 16-bit one's complement sum (RFC 1071) of b, read as
// big-endian 16-bit words, added to initial. The result is folded: at most
// 0xffff, and 0 only if initial and every byte of b are zero. initial may be
// any uint32, typically an earlier Sum, so that a sum can be built from
// several pieces: Sum(b2, Sum(b1, 0)) equals Sum(append(b1, b2...), 0) when
// len(b1) is even. An odd final byte is padded with a zero byte.
//
// It adds 8 bytes at a time, in little-endian order with end-around carry,
// and swaps the folded result: one's complement addition commutes with
// swapping the bytes of every word.
func Sum(b []byte, initial uint32) uint32 {
	var acc, c uint64
	for len(b) >= 64 {
		acc, c = bits.Add64(acc, binary.LittleEndian.Uint64(b[0:8]), c)
		acc, c = bits.Add64(acc, binary.LittleEndian.Uint64(b[8:16]), c)
		acc, c = bits.Add64(acc, binary.LittleEndian.Uint64(b[16:24]), c)
		acc, c = bits.Add64(acc, binary.LittleEndian.Uint64(b[24:32]), c)
		acc, c = bits.Add64(acc, binary.LittleEndian.Uint64(b[32:40]), c)
		acc, c = bits.Add64(acc, binary.LittleEndian.Uint64(b[40:48]), c)
		acc, c = bits.Add64(acc, binary.LittleEndian.Uint64(b[48:56]), c)
		acc, c = bits.Add64(acc, binary.LittleEndian.Uint64(b[56:64]), c)
		b = b[64:]
	}
	for len(b) >= 8 {
		acc, c = bits.Add64(acc, binary.LittleEndian.Uint64(b[0:8]), c)
		b = b[8:]
	}
	if len(b) > 0 {
		// The tail starts at a multiple of 8 bytes, so loading it
		// zero-padded keeps every byte at its position within its word.
		var t uint64
		for i := len(b) - 1; i >= 0; i-- {
			t = t<<8 | uint64(b[i])
		}
		acc, c = bits.Add64(acc, t, c)
	}
	acc, c = bits.Add64(acc, 0, c)
	acc += c // acc was all ones and is now 0: no further carry.

	s := fold64(acc)
	s = uint64(bits.ReverseBytes16(uint16(s))) + uint64(initial)
	return uint32(fold64(s))
}

// fold64 reduces a one's complement sum to 16 bits, end-around carry
// included. It returns 0 only for 0.
func fold64(s uint64) uint64 {
	s = s>>32 + s&0xffffffff // < 2^33
	s = s>>16 + s&0xffff     // < 2^17 + 2^16
	s = s>>16 + s&0xffff     // < 2^16 + 3
	s = s>>16 + s&0xffff     // <= 0xffff
	return s
}

// Fold reduces a one's complement sum such as Sum's, or the sum of several,
// to 16 bits and returns its complement: the value to store in a checksum
// field (the kernel's csum_fold).
func Fold(sum uint32) uint16 { return ^uint16(fold64(uint64(sum))) }

// Checksum returns the Internet checksum of b, seeded with initial (for
// example a PseudoHeaderSum): the complement of Sum(b, initial). Computed
// over a header or segment whose checksum field holds the checksum, with the
// same seed, it returns 0 when the checksum is right.
func Checksum(b []byte, initial uint32) uint16 { return ^uint16(Sum(b, initial)) }

// PseudoHeaderSum returns the folded sum of the TCP/UDP pseudo-header for
// the given source and destination addresses (both 4 bytes for IPv4, or both
// 16 for IPv6), IP protocol number, and L4 length (header and payload), to
// seed Sum or Checksum over the L4 header and payload.
func PseudoHeaderSum(proto uint8, src, dst []byte, length uint32) uint32 {
	s := Sum(src, 0)
	s = Sum(dst, s)
	return uint32(fold64(uint64(s) + uint64(proto) + uint64(length>>16) + uint64(length&0xffff)))
}
