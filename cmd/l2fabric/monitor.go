package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/l2fabric/l2fabric/fabric"
	"github.com/l2fabric/l2fabric/fabric/control"
)

// newMonitorCmd is 'l2fabric monitor': the running fabric's events as
// they happen. controlPath returns the control socket's path when the
// command runs.
func newMonitorCmd(controlPath func() string, stdout, stderr io.Writer) *cobra.Command {
	var asJSON bool
	c := &cobra.Command{
		Use:   "monitor [--json]",
		Short: "watch what the fabric learns and which ports come and go",
		Long: `Print the running fabric's events as they happen, one a line (JSON objects
with --json): MACs learned, moved, expired, evicted and flushed, static
entries added and removed, ports attached, detached, down and up, ports
blocked and unblocked. When events come faster than they can be printed (a
MAC flood), the daemon drops what does not fit and says how many with an
"events_suppressed" line. Ctrl-C ends it.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			return runMonitor(ctx, controlPath(), asJSON, stdout)
		},
	}
	c.Flags().BoolVar(&asJSON, "json", false, "print JSON lines")
	return c
}

// runMonitor prints events until ctx is done.
func runMonitor(ctx context.Context, controlPath string, asJSON bool, stdout io.Writer) error {
	c, err := control.Dial(controlPath)
	if err != nil {
		return err
	}
	defer c.Close()
	s, err := c.Stream("monitor", nil)
	if err != nil {
		return err
	}
	return copyEvents(ctx, s, asJSON, stdout)
}

// copyEvents prints the events of the stream r, a JSON object a line, until
// ctx is done or the stream ends. r is closed when ctx is done.
func copyEvents(ctx context.Context, r io.ReadCloser, asJSON bool, w io.Writer) error {
	stop := context.AfterFunc(ctx, func() { r.Close() })
	defer stop()
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 4096), control.MaxRequest)
	for sc.Scan() {
		var ev fabric.Event
		if err := json.Unmarshal(sc.Bytes(), &ev); err != nil {
			return fmt.Errorf("monitor: malformed event %q: %w", sc.Bytes(), err)
		}
		line := eventLine(ev)
		if asJSON {
			b, err := json.Marshal(ev)
			if err != nil {
				return err
			}
			line = string(b)
		}
		if _, err := fmt.Fprintln(w, line); err != nil {
			return err
		}
	}
	if err := sc.Err(); err != nil && ctx.Err() == nil && !errors.Is(err, io.EOF) {
		return fmt.Errorf("monitor: %w", err)
	}
	return nil
}

// eventLine describes an event for people, like bridge monitor.
func eventLine(ev fabric.Event) string {
	var b strings.Builder
	b.WriteString(ev.Time.Format(time.TimeOnly + ".000"))
	b.WriteString(" ")
	b.WriteString(strings.ReplaceAll(string(ev.Type), "_", " "))
	if !ev.MAC.IsZero() {
		fmt.Fprintf(&b, " %s vlan %d", ev.MAC, ev.VLAN)
	}
	switch {
	case ev.From != "":
		fmt.Fprintf(&b, " from %s to %s", ev.From, ev.Port)
	case ev.Port != "" && !ev.MAC.IsZero():
		fmt.Fprintf(&b, " on %s", ev.Port)
	case ev.Port != "":
		fmt.Fprintf(&b, " %s", ev.Port)
	}
	if ev.Kind != "" {
		fmt.Fprintf(&b, " (%s)", ev.Kind)
	}
	if ev.Count != 0 {
		fmt.Fprintf(&b, " count %d", ev.Count)
	}
	if ev.Reason != "" {
		fmt.Fprintf(&b, ": %s", ev.Reason)
	}
	return b.String()
}
