package fabric_test

import (
	"bytes"
	"strings"
	"sync"
	"testing"

	"github.com/hashicorp/go-hclog"

	"github.com/l2fabric/l2fabric/fabric"
)

// logBuffer is an io.Writer safe for the fabric's goroutines.
type logBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// spoofedDropLog runs a spoofed frame through a fabric logging at level and
// returns the log.
func spoofedDropLog(t *testing.T, level hclog.Level) string {
	var buf logBuffer
	log := hclog.New(&hclog.LoggerOptions{Output: &buf, Level: level})
	tf := newTestFabric(t, fabric.Config{Logger: log})
	tf.attach(fabric.PortConfig{Name: "vm", MAC: mac(macA)})
	tf.attach(fabric.PortConfig{Name: "b"})
	tf.ports["vm"].Inject(eth("ff:ff:ff:ff:ff:ff", macC, 60))
	tf.barrier("vm", macA, 1, false, "b") // the spoofed frame has been handled
	if c := tf.counters("vm"); c.Spoofed != 1 {
		t.Fatalf("drop_spoofed = %d, want 1", c.Spoofed)
	}
	return buf.String()
}

func TestDroppedFrameTracedDecoded(t *testing.T) {
	got := spoofedDropLog(t, hclog.Trace)
	want := []string{"frame dropped", "port=vm", "reason=spoofed", `frame="02:00:00:00:00:0c > ff:ff:ff:ff:ff:ff, IPv4, 74 bytes"`}
	for _, w := range want {
		if !strings.Contains(got, w) {
			t.Errorf("trace log lacks %q:\n%s", w, got)
		}
	}
}

func TestDroppedFrameNotLoggedBelowTrace(t *testing.T) {
	if got := spoofedDropLog(t, hclog.Debug); strings.Contains(got, "frame dropped") {
		t.Errorf("a dropped frame is logged at debug level:\n%s", got)
	}
}
