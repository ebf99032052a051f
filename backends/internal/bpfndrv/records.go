package bpfndrv

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

// Layout of struct bpf_hdr on 64-bit darwin (little-endian, as both arm64
// and amd64 Macs are): a struct timeval32 (8 bytes), bh_caplen (u32),
// bh_datalen (u32), bh_hdrlen (u16) and two bytes of padding. The kernel
// writes only the first 18 bytes: for Ethernet bh_hdrlen is 18, so the
// frame starts where the padding would be, 2 bytes before the end of the
// 20-byte struct.
const (
	// SizeofBpfHdr is sizeof(struct bpf_hdr) on 64-bit darwin.
	SizeofBpfHdr = 20
	// bpfHdrFields is how many bytes of the header carry fields; the
	// smallest bh_hdrlen that makes sense.
	bpfHdrFields  = 18
	offCaplen     = 8
	offDatalen    = 12
	offHdrlen     = 16
	sizeofTimeval = 8
)

// ErrMalformed is returned (wrapped) by RecordReader.Next when the buffer
// does not hold a well-formed sequence of bpf_hdr records: a header that
// claims more bytes than the buffer holds, or a bh_hdrlen too small to
// hold the header's own fields. The rest of the buffer is skipped: there
// is no way to find the next record.
var ErrMalformed = errors.New("malformed BPF buffer")

// Record is one frame captured by BPF.
type Record struct {
	// Data is the captured bytes (bh_caplen of them), a sub-slice of the
	// buffer passed to Reset: valid until the buffer is reused.
	Data []byte
	// WireLen is bh_datalen, the frame's length on the wire.
	WireLen int
}

// Truncated reports whether the kernel captured less of the frame than
// was on the wire (the filter's snapshot length or the buffer size cut
// it): the frame cannot be passed on.
func (r Record) Truncated() bool { return len(r.Data) < r.WireLen }

// RecordReader walks the bpf_hdr records of a buffer read from a BPF
// device. One read(2) returns many records; each is a header of
// bh_hdrlen bytes followed by bh_caplen bytes of frame, and the next
// record starts at the next multiple of BPF_WORDALIGN (4) bytes. The
// reader never reads outside the buffer and never panics, whatever the
// buffer holds. Its zero value is an empty reader.
type RecordReader struct {
	buf []byte
	off int
}

// Reset makes the reader walk buf from its start.
func (r *RecordReader) Reset(buf []byte) {
	r.buf = buf
	r.off = 0
}

// Pending reports whether Next may return another record.
func (r *RecordReader) Pending() bool { return r.off < len(r.buf) }

// Next returns the next record. At the end of the buffer it returns
// io.EOF; for a malformed buffer it returns an error wrapping
// ErrMalformed once, then io.EOF. A record may carry no data (bh_caplen
// 0) or be Truncated: the caller decides what to count.
func (r *RecordReader) Next() (Record, error) {
	rest := len(r.buf) - r.off
	if rest <= 0 {
		return Record{}, io.EOF
	}
	fail := func(format string, args ...any) (Record, error) {
		at := r.off
		r.off = len(r.buf)
		return Record{}, fmt.Errorf("%w: record at offset %d: %s", ErrMalformed, at, fmt.Sprintf(format, args...))
	}
	if rest < bpfHdrFields {
		return fail("%d bytes left, a header needs %d", rest, bpfHdrFields)
	}
	h := r.buf[r.off : r.off+bpfHdrFields]
	caplen := binary.LittleEndian.Uint32(h[offCaplen:])
	datalen := binary.LittleEndian.Uint32(h[offDatalen:])
	hdrlen := int(binary.LittleEndian.Uint16(h[offHdrlen:]))
	switch {
	case hdrlen < bpfHdrFields:
		return fail("bh_hdrlen %d is shorter than the header's fields", hdrlen)
	case hdrlen > rest:
		return fail("bh_hdrlen %d runs past the end of the buffer (%d bytes left)", hdrlen, rest)
	case uint64(caplen) > uint64(rest-hdrlen):
		return fail("bh_caplen %d runs past the end of the buffer (%d bytes left after the header)", caplen, rest-hdrlen)
	}
	start := r.off + hdrlen
	end := start + int(caplen)
	rec := Record{Data: r.buf[start:end:end], WireLen: int(min(uint64(datalen), uint64(maxInt)))}
	// The next record starts at the next word boundary; the padding
	// after the last record may be missing from the buffer.
	next := end + (wordAlign-end%wordAlign)%wordAlign
	r.off = min(next, len(r.buf))
	return rec, nil
}

// maxInt is the largest int, so that WireLen cannot overflow on 32-bit
// platforms.
const maxInt = int(^uint(0) >> 1)
