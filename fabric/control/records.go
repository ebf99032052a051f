package control

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/l2fabric/l2fabric/fabric"
)

// The capture stream. After its JSON reply, a capture connection carries
// binary records, each a 4-byte big-endian length of what follows and
// then a type byte:
//
//	'P' port:   u16 id, the port's name             (before its first frame)
//	'F' frame:  u16 port id, u8 direction (1 in, 2 out), i64 Unix ns, the frame
//	'S' stats:  u64 frames captured, u64 frames dropped   (about once a second)
//	'E' end:    u64 frames captured, u64 frames dropped   (last record)
//
// Binary, not JSON: a frame goes as it is, with 15 bytes of overhead, so
// a capture keeps up with a VM link at full rate, where base64 in JSON
// would add a third to every frame and an encoding pass. Port names go
// once, as pcapng's interface blocks do. The client ends a capture by
// sending a line (or closing its side); the server then sends 'E'.

// Record types of the capture stream.
const (
	RecordPort  = 'P'
	RecordFrame = 'F'
	RecordStats = 'S'
	RecordEnd   = 'E'
)

// maxRecord bounds a record: the largest frame a port reads plus headers.
const maxRecord = fabric.MaxGSOFrame + 64

// CaptureArgs selects what capture streams.
type CaptureArgs struct {
	// Ports are the port names to capture; none means every port.
	Ports []string `json:"ports,omitempty"`
	// VLAN, when not 0, captures one VLAN.
	VLAN uint16 `json:"vlan,omitempty"`
	// Count, when not 0, ends the capture after this many frames.
	Count uint64 `json:"count,omitempty"`
}

// MonitorArgs configures monitor. It has no settings yet.
type MonitorArgs struct{}

// Record is one record of a capture stream, as ReadRecord returns it.
type Record struct {
	Type byte
	// PortID is set for 'P' and 'F' records.
	PortID uint16
	// Port is the port's name, for 'P' records.
	Port string
	// Dir and Time are set for 'F' records.
	Dir  fabric.Direction
	Time time.Time
	// Frame is the frame of an 'F' record. It is valid until the next
	// ReadRecord.
	Frame []byte
	// Captured and Dropped are set for 'S' and 'E' records.
	Captured, Dropped uint64
}

// RecordWriter writes a capture stream.
type RecordWriter struct {
	w   *bufio.Writer
	hdr [19]byte
}

// NewRecordWriter writes records to w, buffered; call Flush.
func NewRecordWriter(w io.Writer) *RecordWriter {
	return &RecordWriter{w: bufio.NewWriterSize(w, 256<<10)}
}

// Port writes a 'P' record.
func (rw *RecordWriter) Port(id uint16, name string) error {
	binary.BigEndian.PutUint32(rw.hdr[0:4], uint32(3+len(name)))
	rw.hdr[4] = RecordPort
	binary.BigEndian.PutUint16(rw.hdr[5:7], id)
	rw.w.Write(rw.hdr[:7])
	_, err := rw.w.WriteString(name)
	return err
}

// Frame writes an 'F' record.
func (rw *RecordWriter) Frame(id uint16, dir fabric.Direction, t time.Time, frame []byte) error {
	binary.BigEndian.PutUint32(rw.hdr[0:4], uint32(12+len(frame)))
	rw.hdr[4] = RecordFrame
	binary.BigEndian.PutUint16(rw.hdr[5:7], id)
	rw.hdr[7] = byte(dir)
	binary.BigEndian.PutUint64(rw.hdr[8:16], uint64(t.UnixNano()))
	rw.w.Write(rw.hdr[:16])
	_, err := rw.w.Write(frame)
	return err
}

// Counts writes an 'S' or 'E' record.
func (rw *RecordWriter) Counts(typ byte, captured, dropped uint64) error {
	binary.BigEndian.PutUint32(rw.hdr[0:4], 17)
	rw.hdr[4] = typ
	binary.BigEndian.PutUint64(rw.hdr[5:13], captured)
	rw.w.Write(rw.hdr[:13])
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], dropped)
	_, err := rw.w.Write(b[:])
	return err
}

// Flush sends what is buffered.
func (rw *RecordWriter) Flush() error { return rw.w.Flush() }

// RecordReader reads a capture stream.
type RecordReader struct {
	r   io.Reader
	buf []byte
}

// NewRecordReader reads records from r.
func NewRecordReader(r io.Reader) *RecordReader {
	return &RecordReader{r: r, buf: make([]byte, 2048)}
}

// ErrBadRecord is wrapped by the errors of a malformed capture stream.
var ErrBadRecord = errors.New("malformed capture record")

// Read reads the next record into rec. At the end of the stream it
// returns io.EOF.
func (rr *RecordReader) Read(rec *Record) error {
	var hdr [4]byte
	if _, err := io.ReadFull(rr.r, hdr[:]); err != nil {
		return err
	}
	n := int(binary.BigEndian.Uint32(hdr[:]))
	if n < 1 || n > maxRecord {
		return fmt.Errorf("%w: length %d", ErrBadRecord, n)
	}
	if cap(rr.buf) < n {
		rr.buf = make([]byte, n)
	}
	b := rr.buf[:n]
	if _, err := io.ReadFull(rr.r, b); err != nil {
		return fmt.Errorf("%w: %v", ErrBadRecord, io.ErrUnexpectedEOF)
	}
	*rec = Record{Type: b[0]}
	b = b[1:]
	switch rec.Type {
	case RecordPort:
		if len(b) < 2 {
			return fmt.Errorf("%w: short port record", ErrBadRecord)
		}
		rec.PortID, rec.Port = binary.BigEndian.Uint16(b), string(b[2:])
	case RecordFrame:
		if len(b) < 11 {
			return fmt.Errorf("%w: short frame record", ErrBadRecord)
		}
		rec.PortID = binary.BigEndian.Uint16(b)
		rec.Dir = fabric.Direction(b[2])
		rec.Time = time.Unix(0, int64(binary.BigEndian.Uint64(b[3:11])))
		rec.Frame = b[11:]
	case RecordStats, RecordEnd:
		if len(b) != 16 {
			return fmt.Errorf("%w: counts record of %d bytes", ErrBadRecord, len(b))
		}
		rec.Captured, rec.Dropped = binary.BigEndian.Uint64(b), binary.BigEndian.Uint64(b[8:])
	default:
		return fmt.Errorf("%w: type %q", ErrBadRecord, rec.Type)
	}
	return nil
}
