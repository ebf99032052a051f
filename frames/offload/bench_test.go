package offload

import (
	"math/rand/v2"
	"testing"
)

// BenchmarkSegment cuts a 64 KiB TCP/IPv4 super-frame (timestamps option)
// into MSS 1448 segments; MB/s counts super-frame bytes.
func BenchmarkSegment(b *testing.B) {
	for _, bc := range []struct {
		name string
		s    spec
	}{
		{"tcp4", spec{tcpOpts: tsOpts, flags: 0x18, payload: 65535 - 20 - 32, mss: 1448}},
		{"tcp6", spec{v6: true, tcpOpts: tsOpts, flags: 0x18, payload: 65535 - 32, mss: 1428}},
		{"udp4", spec{udp: true, payload: 65535 - 28, mss: 1472}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			h, f := build(bc.s)
			out, sizes := buffers(MaxSegments(h, len(f)), MaxSegmentLen(h, len(f)))
			b.SetBytes(int64(len(f)))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := Segment(h, f, out, sizes); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkCompleteChecksum completes the TCP checksum of a 1500-byte IPv4
// packet.
func BenchmarkCompleteChecksum(b *testing.B) {
	h, f := build(spec{tcpOpts: tsOpts, flags: 0x18, payload: 1448})
	b.SetBytes(int64(len(f)))
	b.ReportAllocs()
	for b.Loop() {
		if err := CompleteChecksum(h, f); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkChecksum sums 64 KiB.
func BenchmarkChecksum(b *testing.B) {
	buf := make([]byte, 64<<10)
	rng := rand.New(rand.NewPCG(3, 4))
	for i := range buf {
		buf[i] = byte(rng.Uint32())
	}
	b.SetBytes(int64(len(buf)))
	for b.Loop() {
		_ = Checksum(buf, 0)
	}
}
