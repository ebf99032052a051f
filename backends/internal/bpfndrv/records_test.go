package bpfndrv

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"testing"
	"unsafe"
)

// appendRecord appends to b one record as the kernel lays it out: a
// bpf_hdr of hdrlen bytes with the given lengths, the captured bytes, and
// the padding that brings the buffer to a word boundary.
func appendRecord(b []byte, hdrlen int, data []byte, wireLen int) []byte {
	start := len(b)
	b = append(b, make([]byte, hdrlen)...)
	h := b[start:]
	binary.LittleEndian.PutUint32(h[0:], 1700000000) // tv_sec
	binary.LittleEndian.PutUint32(h[4:], 123456)     // tv_usec
	binary.LittleEndian.PutUint32(h[offCaplen:], uint32(len(data)))
	binary.LittleEndian.PutUint32(h[offDatalen:], uint32(wireLen))
	binary.LittleEndian.PutUint16(h[offHdrlen:], uint16(hdrlen))
	b = append(b, data...)
	for len(b)%wordAlign != 0 {
		b = append(b, 0)
	}
	return b
}

// frame returns an n-byte frame whose bytes identify it.
func frame(n int, seed byte) []byte {
	f := make([]byte, n)
	for i := range f {
		f[i] = seed + byte(i)
	}
	return f
}

func readAll(t *testing.T, buf []byte) ([]Record, error) {
	t.Helper()
	var rr RecordReader
	rr.Reset(buf)
	var recs []Record
	for {
		rec, err := rr.Next()
		if err == io.EOF {
			return recs, nil
		}
		if err != nil {
			if _, again := rr.Next(); again != io.EOF {
				t.Errorf("after %v, Next returned %v, want io.EOF", err, again)
			}
			return recs, err
		}
		recs = append(recs, rec)
	}
}

// TestBpfHdrLayout pins struct bpf_hdr as xnu's net/bpf.h gives it, from bytes
// written by hand: timeval32 (8), caplen at 8, datalen at 12, hdrlen at 16,
// 20 bytes in all; for Ethernet bh_hdrlen is 18 and the frame starts
// there.
func TestBpfHdrLayout(t *testing.T) {
	if SizeofBpfHdr != 20 || bpfHdrFields != 18 || offCaplen != 8 || offDatalen != 12 || offHdrlen != 16 || sizeofTimeval != 8 || wordAlign != 4 {
		t.Fatal("bpf_hdr layout constants changed")
	}
	buf := []byte{
		0x00, 0xf1, 0x53, 0x65, 0x40, 0xe2, 0x01, 0x00, // tv_sec, tv_usec
		0x03, 0x00, 0x00, 0x00, // bh_caplen 3
		0x05, 0x00, 0x00, 0x00, // bh_datalen 5
		0x12, 0x00, // bh_hdrlen 18
		0xaa, 0xbb, 0xcc, // the capture
		0x00, 0x00, 0x00, // padding to a multiple of 4 (24)
		0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
		0x02, 0x00, 0x00, 0x00, // bh_caplen 2
		0x02, 0x00, 0x00, 0x00, // bh_datalen 2
		0x14, 0x00, // bh_hdrlen 20
		0x00, 0x00, // the struct's padding
		0x11, 0x22, // the capture, no padding at the end
	}
	recs, err := readAll(t, buf)
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 2 {
		t.Fatalf("got %d records, want 2", len(recs))
	}
	if !bytes.Equal(recs[0].Data, []byte{0xaa, 0xbb, 0xcc}) || recs[0].WireLen != 5 || !recs[0].Truncated() {
		t.Errorf("record 0 = %x wire %d", recs[0].Data, recs[0].WireLen)
	}
	if !bytes.Equal(recs[1].Data, []byte{0x11, 0x22}) || recs[1].WireLen != 2 || recs[1].Truncated() {
		t.Errorf("record 1 = %x wire %d", recs[1].Data, recs[1].WireLen)
	}
}

func TestRecordReaderSeveralRecordsAndPadding(t *testing.T) {
	var buf []byte
	var want [][]byte
	// Lengths that leave 0 to 3 bytes of padding, Ethernet's 18-byte
	// header and others.
	for i, n := range []int{60, 61, 62, 63, 64, 1514, 9014, 14} {
		hdrlen := 18
		if i%3 == 1 {
			hdrlen = 20
		}
		f := frame(n, byte(i))
		want = append(want, f)
		if len(buf)%4 != 0 {
			t.Fatal("appendRecord left the buffer unaligned")
		}
		buf = appendRecord(buf, hdrlen, f, n)
	}
	// The kernel's read length ends with the last capture, without its
	// padding.
	buf = buf[:len(buf)-2]
	recs, err := readAll(t, buf)
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != len(want) {
		t.Fatalf("got %d records, want %d", len(recs), len(want))
	}
	for i, r := range recs {
		if !bytes.Equal(r.Data, want[i]) || r.WireLen != len(want[i]) || r.Truncated() {
			t.Errorf("record %d: %d bytes (wire %d), want %d", i, len(r.Data), r.WireLen, len(want[i]))
		}
		if cap(r.Data) != len(r.Data) {
			t.Errorf("record %d: capacity %d reaches past the capture", i, cap(r.Data))
		}
	}
}

func TestRecordReaderMalformed(t *testing.T) {
	good := appendRecord(nil, 18, frame(60, 1), 60)
	for _, tc := range []struct {
		name string
		buf  []byte
		good int // records before the error
	}{
		{"truncated capture", append(append([]byte{}, good...), appendRecord(nil, 18, frame(100, 2), 100)[:70]...), 1},
		{"truncated header", append(append([]byte{}, good...), make([]byte, 10)...), 1},
		{"hdrlen beyond the buffer", func() []byte {
			b := appendRecord(append([]byte{}, good...), 18, frame(10, 3), 10)
			binary.LittleEndian.PutUint16(b[len(good)+offHdrlen:], 0xffff)
			return b
		}(), 1},
		{"hdrlen shorter than the header", func() []byte {
			b := appendRecord(nil, 18, frame(10, 3), 10)
			binary.LittleEndian.PutUint16(b[offHdrlen:], 4)
			return b
		}(), 0},
		{"huge caplen", func() []byte {
			b := appendRecord(nil, 18, frame(10, 3), 10)
			binary.LittleEndian.PutUint32(b[offCaplen:], 0xffffffff)
			return b
		}(), 0},
	} {
		recs, err := readAll(t, tc.buf)
		if !errors.Is(err, ErrMalformed) {
			t.Errorf("%s: err = %v, want ErrMalformed", tc.name, err)
		}
		if len(recs) != tc.good {
			t.Errorf("%s: %d records before the error, want %d", tc.name, len(recs), tc.good)
		}
	}
}

func TestRecordReaderZeroCaplenAndTruncatedCapture(t *testing.T) {
	buf := appendRecord(nil, 18, nil, 60)           // nothing captured
	buf = appendRecord(buf, 18, frame(64, 5), 9000) // cut short
	buf = appendRecord(buf, 18, frame(60, 7), 60)   // whole
	buf = appendRecord(buf, 18, nil, 0)             // empty
	buf = appendRecord(buf, 18, frame(61, 9), 61)   // whole
	recs, err := readAll(t, buf)
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 5 {
		t.Fatalf("got %d records, want 5", len(recs))
	}
	if len(recs[0].Data) != 0 || !recs[0].Truncated() {
		t.Errorf("zero caplen: %d bytes, truncated %v", len(recs[0].Data), recs[0].Truncated())
	}
	if !recs[1].Truncated() || recs[1].WireLen != 9000 {
		t.Errorf("cut capture: truncated %v, wire %d", recs[1].Truncated(), recs[1].WireLen)
	}
	if !bytes.Equal(recs[2].Data, frame(60, 7)) || !bytes.Equal(recs[4].Data, frame(61, 9)) {
		t.Error("the records after a zero caplen were misread")
	}
}

func TestRecordReaderEmptyAndReset(t *testing.T) {
	var rr RecordReader
	if _, err := rr.Next(); err != io.EOF {
		t.Errorf("zero reader: %v, want io.EOF", err)
	}
	buf := appendRecord(nil, 18, frame(60, 1), 60)
	rr.Reset(buf)
	if !rr.Pending() {
		t.Error("Pending false with a record queued")
	}
	if _, err := rr.Next(); err != nil {
		t.Fatal(err)
	}
	if rr.Pending() {
		t.Error("Pending true at the end")
	}
	rr.Reset(buf)
	if rec, err := rr.Next(); err != nil || len(rec.Data) != 60 {
		t.Errorf("after Reset: %d bytes, %v", len(rec.Data), err)
	}
}

// FuzzRecordReader feeds the walker arbitrary buffers: it must not panic,
// must return captures that lie inside the buffer in increasing order,
// and must end.
func FuzzRecordReader(f *testing.F) {
	seed := appendRecord(nil, 18, frame(60, 1), 60)
	seed = appendRecord(seed, 20, frame(3, 2), 90)
	f.Add(seed)
	f.Add(seed[:30])
	f.Add(appendRecord(nil, 18, nil, 0))
	f.Add([]byte{})
	f.Add(make([]byte, 17))
	f.Fuzz(func(t *testing.T, buf []byte) {
		var rr RecordReader
		rr.Reset(buf)
		base := uintptr(unsafe.Pointer(unsafe.SliceData(buf)))
		last := -1
		for i := 0; ; i++ {
			if i > len(buf)/bpfHdrFields+1 {
				t.Fatalf("%d records from %d bytes", i, len(buf))
			}
			rec, err := rr.Next()
			if err == io.EOF {
				return
			}
			if err != nil {
				if !errors.Is(err, ErrMalformed) {
					t.Fatalf("error %v does not wrap ErrMalformed", err)
				}
				if _, err := rr.Next(); err != io.EOF {
					t.Fatalf("after a malformed record: %v", err)
				}
				return
			}
			if rec.WireLen < 0 {
				t.Fatalf("negative wire length %d", rec.WireLen)
			}
			if len(rec.Data) == 0 {
				continue
			}
			off := int(uintptr(unsafe.Pointer(unsafe.SliceData(rec.Data))) - base)
			if off < bpfHdrFields || off+len(rec.Data) > len(buf) || off <= last {
				t.Fatalf("capture at %d+%d in a %d-byte buffer (previous at %d)", off, len(rec.Data), len(buf), last)
			}
			last = off
		}
	})
}
