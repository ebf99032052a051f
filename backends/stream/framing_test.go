package stream

import (
	"bytes"
	"encoding/binary"
	"errors"
	"testing"
)

// encode frames the way qemu and socket_vmnet do.
func encode(frames ...[]byte) []byte {
	var out []byte
	for _, f := range frames {
		out = binary.BigEndian.AppendUint32(out, uint32(len(f)))
		out = append(out, f...)
	}
	return out
}

func frameOf(n int, fill byte) []byte { return bytes.Repeat([]byte{fill}, n) }

// reference decodes a whole stream at once, the obvious way: the frames
// before the first bad length, that bad length if any, and the bytes of an
// incomplete last frame.
func reference(stream []byte, limit int) (out [][]byte, bad *FramingError, rest int) {
	for len(stream) >= HeaderLen {
		n := binary.BigEndian.Uint32(stream)
		if n < MinFrameLen || n > uint32(limit) {
			return out, &FramingError{Length: n, Limit: limit}, 0
		}
		if len(stream) < HeaderLen+int(n) {
			break
		}
		out = append(out, stream[HeaderLen:HeaderLen+int(n)])
		stream = stream[HeaderLen+int(n):]
	}
	return out, nil, len(stream)
}

// reassemble feeds stream to r in reads of the given sizes (cycled),
// collecting frames, as a connection delivering it piecemeal would.
func reassemble(t testing.TB, r *Reassembler, stream []byte, chunks []int) (out [][]byte, err error) {
	for i := 0; ; i++ {
		for k := 0; ; k++ {
			if k > len(r.buf) {
				t.Fatalf("Next returned more frames than the buffer holds")
			}
			f, err := r.Next()
			if err != nil {
				return out, err
			}
			if f == nil {
				break
			}
			out = append(out, bytes.Clone(f))
		}
		if len(stream) == 0 {
			return out, nil
		}
		space := r.Space()
		if len(space) == 0 {
			t.Fatalf("no space to read into with %d bytes buffered", r.Buffered())
		}
		n := min(max(chunks[i%len(chunks)], 1), len(space), len(stream))
		copy(space, stream[:n])
		r.Commit(n)
		stream = stream[n:]
	}
}

func TestReassemblerSplitsAndJoins(t *testing.T) {
	a, b, c := frameOf(60, 1), frameOf(1514, 2), frameOf(14, 3)
	stream := encode(a, b, c)
	for _, chunks := range [][]int{{len(stream)}, {1}, {3}, {5, 7}, {1000}, {4, 60, 4, 1514}} {
		r := NewReassembler(FrameLimit(1500), 2048)
		got, err := reassemble(t, r, stream, chunks)
		if err != nil {
			t.Fatalf("chunks %v: %v", chunks, err)
		}
		if len(got) != 3 || !bytes.Equal(got[0], a) || !bytes.Equal(got[1], b) || !bytes.Equal(got[2], c) {
			t.Errorf("chunks %v: got %d frames, want the 3 sent intact", chunks, len(got))
		}
		if r.Buffered() != 0 {
			t.Errorf("chunks %v: %d bytes left buffered", chunks, r.Buffered())
		}
	}
}

func TestReassemblerRejectsLengths(t *testing.T) {
	limit := FrameLimit(1500)
	if limit != 1518 {
		t.Fatalf("FrameLimit(1500) = %d, want 1518 (MTU plus a tagged header)", limit)
	}
	if FrameLimit(65535) != 65535+18 || FrameLimit(1<<20) != MaxFrameLen {
		t.Errorf("FrameLimit(65535) = %d, FrameLimit(1 MiB) = %d", FrameLimit(65535), FrameLimit(1<<20))
	}
	for _, tc := range []struct {
		name   string
		length uint32
		runt   bool
	}{
		{"zero", 0, true},
		{"13", 13, true},
		{"one over the limit", uint32(limit) + 1, false},
		{"qemu's limit plus one", MaxFrameLen + 1, false},
		{"4 GiB", 0xffffffff, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			good := frameOf(60, 7)
			stream := append(encode(good), binary.BigEndian.AppendUint32(nil, tc.length)...)
			stream = append(stream, encode(good)...) // never reached
			r := NewReassembler(limit, 4096)
			got, err := reassemble(t, r, stream, []int{5})
			var fe *FramingError
			if !errors.As(err, &fe) || fe.Length != tc.length || fe.Runt() != tc.runt {
				t.Fatalf("error %v, want a FramingError for length %d (runt %v)", err, tc.length, tc.runt)
			}
			if len(got) != 1 {
				t.Errorf("%d frames before the bad length, want 1", len(got))
			}
			if _, err2 := r.Next(); err2 != err {
				t.Errorf("Next after the error returned %v, want the same error again", err2)
			}
			r.Reset()
			if f, err := r.Next(); f != nil || err != nil {
				t.Errorf("after Reset: %v, %v; want nothing", f, err)
			}
		})
	}
}

func TestReassemblerBufferHoldsLargestFrame(t *testing.T) {
	limit := FrameLimit(65535)
	r := NewReassembler(limit, 1024) // raised to hold one frame
	big := frameOf(limit, 9)
	stream := encode(frameOf(100, 1), big, frameOf(100, 2))
	got, err := reassemble(t, r, stream, []int{999})
	if err != nil || len(got) != 3 || !bytes.Equal(got[1], big) {
		t.Fatalf("got %d frames, %v; want 3 with the %d-byte one intact", len(got), err, limit)
	}
}

// gatherAll writes the batch through g in writes of the given sizes,
// taking at most maxSegs segments each time, and returns the bytes
// written.
func gatherAll(g *Gather, sizes []int, maxSegs int) []byte {
	var out []byte
	var segs [][]byte
	for i := 0; !g.Done(); i++ {
		segs = g.Segments(segs[:0], maxSegs)
		if len(segs) == 0 {
			panic("nothing to write in an unfinished batch")
		}
		budget := max(sizes[i%len(sizes)], 1)
		wrote := 0
		for _, s := range segs {
			n := min(len(s), budget-wrote)
			out = append(out, s[:n]...)
			wrote += n
			if wrote == budget {
				break
			}
		}
		g.Advance(wrote)
	}
	return out
}

func TestGatherPartialWrites(t *testing.T) {
	bufs := [][]byte{frameOf(60, 1), frameOf(1514, 2), frameOf(14, 3), frameOf(100, 4)}
	want := encode(bufs...)
	for _, copyMax := range copyMaxes {
		for _, sizes := range [][]int{{len(want)}, {1}, {3}, {2, 5, 1000}, {64}} {
			for _, maxSegs := range []int{1, 2, 3, 1024} {
				g := Gather{CopyMax: copyMax}
				g.Reset(bufs)
				if got := gatherAll(&g, sizes, maxSegs); !bytes.Equal(got, want) {
					t.Errorf("CopyMax %d, writes of %v, %d segments at most: wrote %d bytes, not the %d of the framed batch", copyMax, sizes, maxSegs, len(got), len(want))
				}
				if g.Written() != len(bufs) {
					t.Errorf("CopyMax %d: Written() = %d, want %d", copyMax, g.Written(), len(bufs))
				}
			}
		}
	}
}

// copyMaxes are the Gather.CopyMax values the tests run with: prefixes
// only, small frames staged and large ones not, everything staged.
var copyMaxes = []int{0, 64, MaxFrameLen}

func TestGatherStagesSmallFrames(t *testing.T) {
	bufs := [][]byte{frameOf(60, 1), frameOf(60, 2), frameOf(1514, 3), frameOf(1514, 4), frameOf(14, 5)}
	g := Gather{CopyMax: 64}
	g.Reset(bufs)
	segs := g.Segments(nil, 1024)
	// Two staged frames and the third's prefix, its body, the fourth's
	// prefix, its body, then the last frame staged with its prefix.
	want := []int{2*(HeaderLen+60) + HeaderLen, 1514, HeaderLen, 1514, HeaderLen + 14}
	if len(segs) != len(want) {
		t.Fatalf("%d segments, want %d", len(segs), len(want))
	}
	for i, s := range segs {
		if len(s) != want[i] {
			t.Errorf("segment %d is %d bytes, want %d", i, len(s), want[i])
		}
	}
	if len(segs[1]) > 0 && &segs[1][0] != &bufs[2][0] {
		t.Errorf("a frame larger than CopyMax was copied")
	}
}

func TestGatherRest(t *testing.T) {
	bufs := [][]byte{frameOf(60, 1), frameOf(100, 2), frameOf(70, 3)}
	want := encode(bufs...)
	for _, copyMax := range copyMaxes {
		for cut := 0; cut <= len(want); cut++ {
			g := Gather{CopyMax: copyMax}
			g.Reset(bufs)
			g.Advance(cut)
			rest := g.Rest(nil)
			// What was written, the rest, then the frames not begun must
			// make the same stream.
			got := append(bytes.Clone(want[:cut]), rest...)
			got = append(got, encode(bufs[g.Written():]...)...)
			if !bytes.Equal(got, want) {
				t.Fatalf("CopyMax %d, cut at %d: written + rest + remaining frames differ from the stream", copyMax, cut)
			}
			if g.InFlight() {
				t.Fatalf("CopyMax %d, cut at %d: a frame still in flight after Rest", copyMax, cut)
			}
		}
	}
}

func TestGatherDoesNotAllocate(t *testing.T) {
	bufs := make([][]byte, 64)
	for i := range bufs {
		bufs[i] = frameOf(64, byte(i))
	}
	g := Gather{CopyMax: 64}
	segs := make([][]byte, 0, 128)
	g.Reset(bufs)
	allocs := testing.AllocsPerRun(100, func() {
		g.Reset(bufs)
		segs = g.Segments(segs[:0], 128)
		g.Advance(1000)
		g.Advance(1 << 20)
	})
	if allocs != 0 {
		t.Errorf("%v allocations per batch, want 0", allocs)
	}
}

// FuzzReassembler: whatever the bytes and however they are split across
// reads, the reassembler returns exactly the frames a whole-stream decode
// finds, stops at the same bad length, never returns a frame outside the
// limits, and never needs more than its fixed buffer.
func FuzzReassembler(f *testing.F) {
	f.Add(encode(frameOf(60, 1), frameOf(1514, 2)), uint8(7), uint16(1500))
	f.Add(encode(frameOf(14, 1))[:10], uint8(1), uint16(68))
	f.Add(append(encode(frameOf(60, 1)), 0, 0, 0, 0), uint8(3), uint16(1500))
	f.Add([]byte{0xff, 0xff, 0xff, 0xff, 1, 2, 3}, uint8(2), uint16(9000))
	f.Add(encode(frameOf(9018, 5), frameOf(20, 6)), uint8(200), uint16(9000))
	f.Fuzz(func(t *testing.T, stream []byte, chunk uint8, mtu uint16) {
		limit := FrameLimit(int(mtu))
		want, wantErr, _ := reference(stream, limit)
		r := NewReassembler(limit, 0)
		bufLen := len(r.buf)
		chunks := []int{int(chunk), int(chunk)/3 + 1, 2*int(chunk) + 5}
		got, err := reassemble(t, r, stream, chunks)
		if len(r.buf) != bufLen {
			t.Fatalf("buffer grew from %d to %d", bufLen, len(r.buf))
		}
		if len(got) != len(want) {
			t.Fatalf("%d frames, want %d", len(got), len(want))
		}
		for i := range got {
			if !bytes.Equal(got[i], want[i]) {
				t.Fatalf("frame %d differs", i)
			}
			if len(got[i]) < MinFrameLen || len(got[i]) > limit {
				t.Fatalf("frame %d is %d bytes, outside %d-%d", i, len(got[i]), MinFrameLen, limit)
			}
		}
		var fe *FramingError
		switch {
		case wantErr == nil && err != nil:
			t.Fatalf("error %v, want none", err)
		case wantErr != nil && (!errors.As(err, &fe) || *fe != *wantErr):
			t.Fatalf("error %v, want %v", err, wantErr)
		}

		// Writing the frames found back through a Gather, in writes
		// of any size, reproduces their framing.
		g := Gather{CopyMax: copyMaxes[int(chunk)%len(copyMaxes)]}
		g.Reset(got)
		if out := gatherAll(&g, chunks, int(chunk)%5+1); !bytes.Equal(out, encode(got...)) {
			t.Fatalf("gathered writes differ from the framed frames")
		}
	})
}
