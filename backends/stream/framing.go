package stream

import (
	"encoding/binary"
	"fmt"

	"github.com/l2fabric/l2fabric/frames"
)

// The wire format of socket_vmnet, qemu's -netdev stream and -netdev
// socket, and libkrun's unixstream: each Ethernet frame is preceded by its
// length as a 4-byte big-endian integer. There is no handshake and no
// virtio-net header.
const (
	// HeaderLen is the length of the length prefix.
	HeaderLen = 4
	// MinFrameLen is the shortest frame a length may announce: an
	// Ethernet header.
	MinFrameLen = frames.HeaderLen
	// MaxFrameLen is qemu's own limit (NET_BUFSIZE): qemu drops a
	// connection that announces a longer frame, and so does this package,
	// whatever the port's MTU.
	MaxFrameLen = 69632
)

// FrameLimit returns the longest frame a port with this MTU accepts from
// its stream: the MTU plus a tagged Ethernet header, at most MaxFrameLen.
// A longer length, like one shorter than MinFrameLen, means the stream is
// out of step (or the peer is broken): nothing after it can be trusted.
func FrameLimit(mtu int) int {
	return min(max(mtu, 0)+frames.TaggedHeaderLen, MaxFrameLen)
}

// FramingError is a length prefix outside [MinFrameLen, Limit]. The
// connection it arrived on cannot be read any further.
type FramingError struct {
	// Length is the length the prefix announced.
	Length uint32
	// Limit is the longest frame the port accepts (FrameLimit).
	Limit int
}

func (e *FramingError) Error() string {
	return fmt.Sprintf("frame length %d is outside %d-%d: the stream is out of step, closing the connection", e.Length, MinFrameLen, e.Limit)
}

// Runt reports whether the length is too short rather than too long.
func (e *FramingError) Runt() bool { return e.Length < MinFrameLen }

// Reassembler cuts a byte stream into frames. The stream is read into a
// buffer of fixed size, chosen at creation: a length prefix is checked
// against the limit before any of its frame is waited for, so no length
// ever sizes an allocation, and a frame split across reads is completed in
// place. It is not safe for concurrent use.
type Reassembler struct {
	buf   []byte
	start int // first unconsumed byte
	end   int // end of the bytes read
	limit int
	err   *FramingError // sticky: once out of step, always
}

// NewReassembler returns a Reassembler for frames of at most limit bytes
// (see FrameLimit) reading into a buffer of bufSize bytes, raised to hold
// at least one whole frame with its prefix.
func NewReassembler(limit, bufSize int) *Reassembler {
	limit = min(max(limit, MinFrameLen), MaxFrameLen)
	return &Reassembler{buf: make([]byte, max(bufSize, HeaderLen+limit)), limit: limit}
}

// Limit returns the longest frame accepted.
func (r *Reassembler) Limit() int { return r.limit }

// Next returns the next complete frame, or nil when the bytes buffered do
// not hold one yet. The frame is a view into the buffer, valid until the
// next call to Space. After a *FramingError every call returns it.
func (r *Reassembler) Next() ([]byte, error) {
	if r.err != nil {
		return nil, r.err
	}
	avail := r.end - r.start
	if avail < HeaderLen {
		return nil, nil
	}
	n := binary.BigEndian.Uint32(r.buf[r.start:])
	if n < MinFrameLen || n > uint32(r.limit) {
		r.err = &FramingError{Length: n, Limit: r.limit}
		return nil, r.err
	}
	if avail < HeaderLen+int(n) {
		return nil, nil
	}
	f := r.buf[r.start+HeaderLen : r.start+HeaderLen+int(n)]
	r.start += HeaderLen + int(n)
	if r.start == r.end {
		r.start, r.end = 0, 0
	}
	return f, nil
}

// Space returns the buffer's free space for the next read, first moving a
// partial frame to the front when the space after it could not hold the
// largest frame. It is never empty while Next returns nil without error.
func (r *Reassembler) Space() []byte {
	if r.start > 0 && len(r.buf)-r.end < HeaderLen+r.limit {
		r.end = copy(r.buf, r.buf[r.start:r.end])
		r.start = 0
	}
	return r.buf[r.end:]
}

// Commit records that n bytes were read into the slice Space returned.
func (r *Reassembler) Commit(n int) {
	r.end += min(max(n, 0), len(r.buf)-r.end)
}

// Buffered returns the number of bytes read but not yet returned as
// frames: a frame in progress when the stream ends.
func (r *Reassembler) Buffered() int { return r.end - r.start }

// Reset forgets everything buffered and any framing error, for a new
// connection.
func (r *Reassembler) Reset() { r.start, r.end, r.err = 0, 0, nil }

// PutHeader writes the length prefix of an n-byte frame into h.
func PutHeader(h *[HeaderLen]byte, n int) { binary.BigEndian.PutUint32(h[:], uint32(n)) }

// Gather tracks the progress of writing a batch of frames, each preceded
// by its prefix, with vectored writes that may stop anywhere: between
// frames, inside a prefix or inside a frame. Segments gives what is left
// to write; Advance consumes what a write took.
//
// The prefixes live in a staging buffer the Gather owns, and so, when
// CopyMax is set, do the frames of at most CopyMax bytes: a run of small
// frames then goes out as one contiguous segment instead of two per frame.
// For small frames a copy is cheaper than the iovec the kernel would walk
// (and check) for each; large frames are still written from where they
// are. A batch costs no allocation once the Gather has grown to its size.
type Gather struct {
	// CopyMax is the largest frame copied into the staging buffer with
	// its prefix; 0 copies only the prefixes. Set it before Reset.
	CopyMax int

	stage []byte   // prefixes, and frames of at most CopyMax bytes
	segs  [][]byte // the batch's byte ranges, in order
	ends  []int    // ends[i] is the offset just past frame i in the batch
	seg   int      // the segment being written
	off   int      // bytes of it already written
	done  int      // bytes of the batch already written
	frame int      // frames written completely
}

// Reset starts a new batch of frames.
func (g *Gather) Reset(bufs [][]byte) {
	need := 0
	for _, b := range bufs {
		need += HeaderLen
		if len(b) <= g.CopyMax {
			need += len(b)
		}
	}
	if cap(g.stage) < need {
		// Segments point into the staging buffer: it must not move
		// while the batch is laid out.
		g.stage = make([]byte, 0, need)
	}
	stage, segs, ends := g.stage[:0], g.segs[:0], g.ends[:0]
	run, end := 0, 0 // start of the staged run not yet in segs, batch offset
	for _, b := range bufs {
		stage = binary.BigEndian.AppendUint32(stage, uint32(len(b)))
		end += HeaderLen + len(b)
		ends = append(ends, end)
		if len(b) <= g.CopyMax {
			stage = append(stage, b...)
			continue
		}
		segs = append(segs, stage[run:], b)
		run = len(stage)
	}
	if run < len(stage) {
		segs = append(segs, stage[run:])
	}
	g.stage, g.segs, g.ends = stage, segs, ends
	g.seg, g.off, g.done, g.frame = 0, 0, 0, 0
}

// Done reports whether the whole batch has been written.
func (g *Gather) Done() bool { return g.frame == len(g.ends) }

// Written returns the number of frames written completely.
func (g *Gather) Written() int { return g.frame }

// InFlight reports whether a frame has been partly written: the stream
// stays in step only if the rest of it follows before anything else.
func (g *Gather) InFlight() bool { return !g.Done() && g.done > g.start() }

// start returns the offset in the batch of the frame being written.
func (g *Gather) start() int {
	if g.frame == 0 {
		return 0
	}
	return g.ends[g.frame-1]
}

// total returns the length of the batch, prefixes included.
func (g *Gather) total() int {
	if len(g.ends) == 0 {
		return 0
	}
	return g.ends[len(g.ends)-1]
}

// Segments appends to segs, up to max segments in all, the byte ranges
// still to write, in order.
func (g *Gather) Segments(segs [][]byte, max int) [][]byte {
	for i, off := g.seg, g.off; i < len(g.segs) && len(segs) < max; i, off = i+1, 0 {
		segs = append(segs, g.segs[i][off:])
	}
	return segs
}

// Advance consumes n bytes written.
func (g *Gather) Advance(n int) {
	n = min(max(n, 0), g.total()-g.done)
	g.done += n
	for n > 0 {
		left := len(g.segs[g.seg]) - g.off
		if n < left {
			g.off += n
			break
		}
		n -= left
		g.seg++
		g.off = 0
	}
	for g.frame < len(g.ends) && g.ends[g.frame] <= g.done {
		g.frame++
	}
}

// Rest appends what is left of the frame in flight (the end of its prefix
// and its body) to dst, and counts that frame as written, so the caller
// can send the rest later, before any other frame.
func (g *Gather) Rest(dst []byte) []byte {
	if !g.InFlight() {
		return dst
	}
	for left := g.ends[g.frame] - g.done; left > 0; {
		s := g.segs[g.seg][g.off:]
		k := min(len(s), left)
		dst = append(dst, s[:k]...)
		left -= k
		g.Advance(k)
	}
	return dst
}
