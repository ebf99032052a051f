package offload

import (
	"bytes"
	"encoding/binary"
	"testing"
)

// fuzzSeeds adds every segment test case, as header bytes and frame bytes,
// plus a few odd ones.
func fuzzSeeds(f *testing.F, gso bool) {
	hb := make([]byte, HeaderLen)
	for _, tc := range segmentCases {
		s := tc.s
		// Small inputs: the fuzzer minimizes every input that finds new
		// coverage, in time quadratic in its length.
		s.payload = min(s.payload, 300)
		s.mss = min(s.mss, 100)
		if !gso {
			s.mss = 0
		}
		h, fr := build(s)
		h.Put(hb)
		f.Add(append([]byte(nil), hb...), fr)
	}
	f.Add([]byte{}, []byte{})
	f.Add(make([]byte, HeaderLen), make([]byte, 60))
	f.Add([]byte{1, 0, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff}, make([]byte, 100))
	f.Add([]byte{1, 0, 0, 0, 0, 0, 0x22, 0, 0x10, 0}, make([]byte, 100))
}

func FuzzSegment(f *testing.F) {
	fuzzSeeds(f, true)
	f.Fuzz(func(t *testing.T, hb, frame []byte) {
		h, err := ParseHeader(hb)
		if err != nil {
			return
		}
		orig := append([]byte(nil), frame...)
		n := MaxSegments(h, len(frame))
		if n > 64 {
			// Checking thousands of segments makes each run, and the
			// fuzzer's minimizing of every new input, slow. Segment must
			// then fail cleanly.
			n = 64
		}
		// A spare header byte takes buffers away, to exercise that error.
		if len(hb) > HeaderLen && n > 0 {
			n -= int(hb[HeaderLen]) % (n + 1)
		}
		size := MaxSegmentLen(h, len(frame))
		out, sizes := buffers(n, size)
		got, err := Segment(h, frame, out, sizes)
		if !bytes.Equal(frame, orig) {
			t.Fatal("Segment changed its input")
		}
		if err != nil {
			if got != 0 {
				t.Fatalf("error %v with %d segments", err, got)
			}
			return
		}
		if got < 1 || got > n || got > MaxSegments(h, len(frame)) {
			t.Fatalf("%d segments for %d buffers, MaxSegments %d", got, n, MaxSegments(h, len(frame)))
		}
		if h.GSOType == GSONone {
			want := append([]byte(nil), frame...)
			if err := CompleteChecksum(h, want); err != nil {
				t.Fatalf("Segment copied, CompleteChecksum refuses: %v", err)
			}
			if got != 1 || !bytes.Equal(out[0][:sizes[0]], want) {
				t.Fatal("ordinary frame copied wrong")
			}
			return
		}
		for i := range got {
			if sizes[i] > size {
				t.Fatalf("segment %d: %d bytes, more than MaxSegmentLen %d", i, sizes[i], size)
			}
		}
		checkSegments(t, h, frame, segments(out, sizes, got))
	})
}

func FuzzCompleteChecksum(f *testing.F) {
	fuzzSeeds(f, false)
	f.Fuzz(func(t *testing.T, hb, frame []byte) {
		h, err := ParseHeader(hb)
		if err != nil {
			return
		}
		orig := append([]byte(nil), frame...)
		err = CompleteChecksum(h, frame)
		if h.Flags&FlagNeedsCsum == 0 || err != nil {
			if err != nil && h.Flags&FlagNeedsCsum == 0 {
				t.Fatalf("error without FlagNeedsCsum: %v", err)
			}
			if !bytes.Equal(frame, orig) {
				t.Fatal("frame changed")
			}
			return
		}
		start, field := int(h.CsumStart), int(h.CsumStart)+int(h.CsumOffset)
		if field+2 > len(frame) {
			t.Fatalf("field at %d accepted in a %d-byte frame", field, len(frame))
		}
		if !bytes.Equal(frame[:field], orig[:field]) || !bytes.Equal(frame[field+2:], orig[field+2:]) {
			t.Fatal("bytes other than the checksum field changed")
		}
		c := binary.BigEndian.Uint16(frame[field:])
		if c == 0 {
			t.Fatal("checksum stored as 0")
		}
		if (field-start)%2 == 0 {
			// The sum with the final checksum plus the pseudo-header sum
			// the field held must be negative zero.
			withOld := append(binary.BigEndian.AppendUint16(nil, binary.BigEndian.Uint16(orig[field:])), frame[start:]...)
			if got := refSum(withOld); got != 0xffff {
				t.Fatalf("sum with the checksum is %#x, want 0xffff", got)
			}
		}
	})
}
