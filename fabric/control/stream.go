package control

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"reflect"
	"strings"
	"time"

	"github.com/l2fabric/l2fabric/fabric"
	"github.com/l2fabric/l2fabric/frames"
)

// The streaming commands, capture and monitor, answer once like the others
// and then turn the connection into a stream until the client ends it
// (sends a line, or closes), the capture reaches its count, or the server
// stops. They are served on the control socket, so the socket's access
// rule (mode 0600, or 0660 for --control-group) is theirs.
//
//	capture  {"ports":[NAME...],"vlan":N,"count":N}  → {} then binary records (records.go)
//	monitor  {}                                      → {} then one fabric.Event per JSON line

// statsEvery is how often a stream reports its counts when otherwise idle.
const statsEvery = time.Second

// streamCommands are the streaming commands' entries in the command
// table, so that help lists them and their args are checked as the
// others' are. serveStream serves them before the table is consulted.
func streamCommands() []command {
	streams := func(s *Server, _ any) (any, error) {
		return nil, errors.New("this command streams: send it on a connection of its own (see fabric/control/stream.go)")
	}
	return []command{
		{name: "capture", args: reflect.TypeFor[CaptureArgs](), run: streams,
			help: "stream the frames entering and leaving the ports (all, or ports), of one VLAN or all, up to count; then binary records until the client sends a line"},
		{name: "monitor", args: reflect.TypeFor[MonitorArgs](), run: streams,
			help: "stream the fabric's events (FDB learned, moved, expired...; ports attached, down...), one JSON object a line, until the client sends a line"},
	}
}

// serveStream serves line if it is a streaming command and reports
// whether it was; the connection is finished afterwards.
func (s *Server) serveStream(c net.Conn, r *bufio.Reader, line []byte) bool {
	var req Request
	dec := json.NewDecoder(strings.NewReader(string(line)))
	dec.DisallowUnknownFields()
	if dec.Decode(&req) != nil || (req.Command != "capture" && req.Command != "monitor") {
		return false
	}
	enc := json.NewEncoder(c)
	fail := func(err error) bool {
		enc.Encode(Response{Error: err.Error()})
		return true
	}
	cmd, _ := lookupCommand(req.Command)
	args, err := cmd.decodeArgs(req.Args)
	if err != nil {
		return fail(err)
	}
	// The client ends a stream by sending anything, or by going away.
	stop := make(chan struct{})
	startStop := func() {
		go func() {
			r.ReadByte()
			close(stop)
		}()
	}
	switch a := args.(type) {
	case *CaptureArgs:
		if a.VLAN > frames.MaxVLAN {
			return fail(fmt.Errorf("capture: vlan %d is not a VLAN from 1 to %d", a.VLAN, frames.MaxVLAN))
		}
		capture, err := s.f.StartCapture(fabric.CaptureFilter{Ports: a.Ports, VLAN: a.VLAN})
		if err != nil {
			return fail(err)
		}
		defer capture.Close()
		if enc.Encode(Response{OK: true, Result: json.RawMessage("{}")}) != nil {
			return true
		}
		startStop()
		if err := streamCapture(c, capture, a.Count, stop); err != nil && !errors.Is(err, net.ErrClosed) {
			s.log.Debug("capture stream ended", "error", err)
		}
	case *MonitorArgs:
		sub := s.f.Subscribe(0)
		defer sub.Close()
		if enc.Encode(Response{OK: true, Result: json.RawMessage("{}")}) != nil {
			return true
		}
		startStop()
		if err := streamEvents(c, sub, stop); err != nil && !errors.Is(err, net.ErrClosed) {
			s.log.Debug("monitor stream ended", "error", err)
		}
	}
	return true
}

// streamCapture writes c's frames to w as records until stop (then the
// frames it still holds), or count frames when count is not 0, then the
// 'E' record. It flushes whenever it has written all the frames captured
// so far, so a live reader sees each batch at once.
func streamCapture(w io.Writer, c *fabric.Capture, count uint64, stop <-chan struct{}) error {
	rw := NewRecordWriter(w)
	ids := map[string]uint16{}
	tick := time.NewTicker(statsEvery)
	defer tick.Stop()
	var sent uint64
	write := func(r *fabric.CapturedFrame) error {
		defer c.Release(r)
		id, ok := ids[r.Port]
		if !ok {
			if len(ids) > 0xffff {
				return errors.New("capture: more than 65536 port names")
			}
			id = uint16(len(ids))
			ids[r.Port] = id
			if err := rw.Port(id, r.Port); err != nil {
				return err
			}
		}
		sent++
		return rw.Frame(id, r.Dir, r.Time, r.Data)
	}
	end := func() error {
		if err := rw.Counts(RecordEnd, sent, c.Dropped()); err != nil {
			return err
		}
		return rw.Flush()
	}
	for {
		select {
		case <-stop:
			for len(c.Frames()) > 0 && (count == 0 || sent < count) {
				if err := write(<-c.Frames()); err != nil {
					return err
				}
			}
			return end()
		case <-tick.C:
			if err := rw.Counts(RecordStats, sent, c.Dropped()); err != nil {
				return err
			}
			if err := rw.Flush(); err != nil {
				return err
			}
		case r := <-c.Frames():
			if err := write(r); err != nil {
				return err
			}
			if count > 0 && sent >= count {
				return end()
			}
			if len(c.Frames()) == 0 {
				if err := rw.Flush(); err != nil {
					return err
				}
			}
		}
	}
}

// streamEvents writes sub's events to w as JSON lines until stop, then
// what the subscription still holds. Events the subscription had to drop
// are reported as one EventSuppressed with their count, before the next
// event, within statsEvery, or at the end.
func streamEvents(w io.Writer, sub *fabric.Subscription, stop <-chan struct{}) error {
	bw := bufio.NewWriter(w)
	enc := json.NewEncoder(bw)
	tick := time.NewTicker(statsEvery)
	defer tick.Stop()
	suppressed := func() error {
		if n := sub.TakeSuppressed(); n > 0 {
			return enc.Encode(fabric.Event{Time: time.Now(), Type: fabric.EventSuppressed, Count: int(n)})
		}
		return nil
	}
	for {
		select {
		case <-stop:
			// Send what is still buffered, and how many were lost.
			for len(sub.Events()) > 0 {
				if err := enc.Encode(<-sub.Events()); err != nil {
					return err
				}
			}
			if err := suppressed(); err != nil {
				return err
			}
			return bw.Flush()
		case <-tick.C:
			if err := suppressed(); err != nil {
				return err
			}
		case ev := <-sub.Events():
			if err := suppressed(); err != nil {
				return err
			}
			if err := enc.Encode(ev); err != nil {
				return err
			}
			if len(sub.Events()) > 0 {
				continue
			}
		}
		if err := bw.Flush(); err != nil {
			return err
		}
	}
}
