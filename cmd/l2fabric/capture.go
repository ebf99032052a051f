package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"
	"github.com/spf13/cobra"

	"github.com/l2fabric/l2fabric/fabric"
	"github.com/l2fabric/l2fabric/fabric/control"
	"github.com/l2fabric/l2fabric/frames"
)

// captureOptions is 'l2fabric capture”s command line.
type captureOptions struct {
	ports    []string
	vlan     uint16
	write    string // pcapng file, "-" for stdout, "" for text lines
	count    uint64
	duration time.Duration
}

// newCaptureCmd is 'l2fabric capture': frames of the running fabric as
// pcapng or as text. controlPath returns the control socket's path when
// the command runs.
func newCaptureCmd(controlPath func() string, stdout, stderr io.Writer) *cobra.Command {
	var o captureOptions
	c := &cobra.Command{
		Use:   "capture [--port NAME]... [--vlan N] [-w FILE|-] [-c N] [--duration D]",
		Short: "capture frames as they enter and leave the fabric",
		Long: `Capture frames as they enter and leave the running fabric's ports, with their
VLAN tags as they are on each port's link.

With -w FILE it writes pcapng, one interface per port named after the port,
each frame marked inbound or outbound; -w - writes it to stdout as it comes:
  l2fabric capture -w - | tcpdump -n -e -r -
  l2fabric capture -w - | wireshark -k -i -
Without -w it prints one line per frame. It stops after -c frames, after
--duration, or at Ctrl-C, and then says how many frames it captured and how
many it lost because it could not keep up.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if o.vlan > frames.MaxVLAN {
				return usagef("capture --vlan %d: want a VLAN from 1 to %d", o.vlan, frames.MaxVLAN)
			}
			if o.duration < 0 {
				return usagef("capture --duration %v: want a positive duration, e.g. 10s", o.duration)
			}
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			return runCapture(ctx, controlPath(), o, stdout, stderr)
		},
	}
	fl := c.Flags()
	fl.StringArrayVarP(&o.ports, "port", "p", nil, "capture this port (repeatable; default every port, including ports attached later)")
	fl.Uint16Var(&o.vlan, "vlan", 0, "capture only this VLAN")
	fl.StringVarP(&o.write, "write", "w", "", "write pcapng to FILE, or to stdout with -")
	fl.Uint64VarP(&o.count, "count", "c", 0, "stop after N frames")
	fl.DurationVar(&o.duration, "duration", 0, "stop after this long, e.g. 30s")
	return c
}

// runCapture captures as o says until the count, the duration or ctx
// ends it, then reports the counts on stderr.
func runCapture(ctx context.Context, controlPath string, o captureOptions, stdout, stderr io.Writer) (err error) {
	var out io.Writer = stdout
	if o.write != "" && o.write != "-" {
		f, err := os.Create(o.write)
		if err != nil {
			return fmt.Errorf("capture -w: %w", err)
		}
		defer func() {
			if cerr := f.Close(); err == nil && cerr != nil {
				err = fmt.Errorf("capture -w: %w", cerr)
			}
		}()
		out = f
	}
	var sink captureSink
	if o.write != "" {
		sink = &pcapngSink{out: out}
	} else {
		sink = &textSink{w: bufio.NewWriter(out)}
	}
	c, err := control.Dial(controlPath)
	if err != nil {
		return err
	}
	defer c.Close()
	s, err := c.Stream("capture", control.CaptureArgs{Ports: o.ports, VLAN: o.vlan, Count: o.count})
	if err != nil {
		return err
	}
	if o.duration > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, o.duration)
		defer cancel()
	}
	captured, dropped, err := copyCapture(ctx, s, sink)
	fmt.Fprintf(stderr, "%d frames captured, %d dropped by the capture\n", captured, dropped)
	return err
}

// captureStream is the daemon's end of a capture, as copyCapture uses it.
type captureStream interface {
	io.Reader
	// Buffered returns how many bytes are read but not yet consumed.
	Buffered() int
	// Stop asks the daemon to end the capture.
	Stop(timeout time.Duration) error
}

// captureSink is where captured frames go.
type captureSink interface {
	port(id uint16, name string) error
	frame(rec *control.Record) error
	// flush sends on what is written so far; finish, at the end, too.
	flush() error
	finish() error
}

// stopTimeout bounds the wait for the daemon's last records after a stop.
const stopTimeout = 2 * time.Second

// copyCapture copies the capture stream s to sink until its end record,
// asking the daemon to stop when ctx is done. The sink is flushed each
// time the records received so far are written, so a live reader sees
// frames as they come. It returns the end record's counts.
func copyCapture(ctx context.Context, s captureStream, sink captureSink) (captured, dropped uint64, err error) {
	done := make(chan struct{})
	defer close(done)
	go func() {
		select {
		case <-ctx.Done():
			s.Stop(stopTimeout)
		case <-done:
		}
	}()
	rr := control.NewRecordReader(s)
	var rec control.Record
	for {
		if err := rr.Read(&rec); err != nil {
			sink.finish()
			if ctx.Err() != nil && (errors.Is(err, io.EOF) || errors.Is(err, os.ErrDeadlineExceeded)) {
				return captured, dropped, nil // stopped, and the daemon did not finish in time
			}
			if errors.Is(err, io.EOF) {
				return captured, dropped, errors.New("capture: l2fabric closed the stream before its end (is it stopping?)")
			}
			return captured, dropped, fmt.Errorf("capture: %w", err)
		}
		switch rec.Type {
		case control.RecordPort:
			err = sink.port(rec.PortID, rec.Port)
		case control.RecordFrame:
			err = sink.frame(&rec)
			captured++
		case control.RecordStats:
			dropped = rec.Dropped
		case control.RecordEnd:
			return rec.Captured, rec.Dropped, sink.finish()
		}
		if err == nil && s.Buffered() == 0 {
			err = sink.flush()
		}
		if err != nil {
			return captured, dropped, fmt.Errorf("capture: writing: %w", err)
		}
	}
}

// pcapngSink writes pcapng: one interface per port, named after it, with
// nanosecond timestamps (pcapgo writes if_tsresol 9), each packet's
// direction in its epb_flags.
type pcapngSink struct {
	out  io.Writer
	w    *pcapgo.NgWriter
	intf map[uint16]int // the stream's port id -> interface id
}

func (p *pcapngSink) port(id uint16, name string) error {
	intf := pcapgo.NgInterface{
		Name:                name,
		Description:         "l2fabric port " + name,
		LinkType:            layers.LinkTypeEthernet,
		TimestampResolution: 9,
	}
	if p.w == nil {
		opts := pcapgo.DefaultNgWriterOptions
		opts.SectionInfo.Application = "l2fabric " + versionString()
		w, err := pcapgo.NewNgWriterInterface(p.out, intf, opts)
		if err != nil {
			return err
		}
		p.w, p.intf = w, map[uint16]int{id: 0}
		return nil
	}
	n, err := p.w.AddInterface(intf)
	p.intf[id] = n
	return err
}

func (p *pcapngSink) frame(rec *control.Record) error {
	intf, ok := p.intf[rec.PortID]
	if !ok {
		return fmt.Errorf("frame of unannounced port %d", rec.PortID)
	}
	flags := pcapgo.NgEpbFlags{Direction: pcapgo.NgEpbFlagDirectionInbound}
	if rec.Dir == fabric.Outbound {
		flags.Direction = pcapgo.NgEpbFlagDirectionOutbound
	}
	ci := gopacket.CaptureInfo{Timestamp: rec.Time, CaptureLength: len(rec.Frame), Length: len(rec.Frame), InterfaceIndex: intf}
	return p.w.WritePacketWithOptions(ci, rec.Frame, pcapgo.NgPacketOptions{Flags: &flags})
}

func (p *pcapngSink) flush() error {
	if p.w == nil {
		return nil
	}
	return p.w.Flush()
}

// finish flushes; a capture that saw no port still makes a valid, empty
// pcapng file, with one interface called "none".
func (p *pcapngSink) finish() error {
	if p.w == nil {
		if err := p.port(0, "none"); err != nil {
			return err
		}
	}
	return p.w.Flush()
}

// textSink prints one line per frame, like tcpdump -e.
type textSink struct {
	w     *bufio.Writer
	names map[uint16]string
}

func (t *textSink) port(id uint16, name string) error {
	if t.names == nil {
		t.names = map[uint16]string{}
	}
	t.names[id] = name
	return nil
}

func (t *textSink) frame(rec *control.Record) error {
	_, err := io.WriteString(t.w, frameLine(rec.Time, t.names[rec.PortID], rec.Dir, rec.Frame)+"\n")
	return err
}

func (t *textSink) flush() error  { return t.w.Flush() }
func (t *textSink) finish() error { return t.w.Flush() }

// frameLine describes a captured frame for people: time, port, direction,
// then the frame decoded (MACs, VLAN, EtherType, length).
func frameLine(t time.Time, port string, dir fabric.Direction, frame []byte) string {
	return fmt.Sprintf("%s %s %-3s %s", t.Format("15:04:05.000000000"), port, dir, frames.Frame(frame).Describe())
}
