package fabric

import (
	"testing"

	"github.com/l2fabric/l2fabric/frames"
)

// drain reads and releases c's records until done is closed.
func drain(c *Capture, done <-chan struct{}) {
	for {
		select {
		case r := <-c.Frames():
			c.Release(r)
		case <-done:
			return
		}
	}
}

func TestForwardWhileCapturingDoesNotAllocate(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector allocates; run without -race")
	}
	f, in, b := benchFabric(t, 4, 1514, frames.MAC{2, 0, 0, 0, 0, 0xb})
	c, err := f.StartCapture(CaptureFilter{})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	done := make(chan struct{})
	defer close(done)
	go drain(c, done)
	// Warm up the queues' slots and the capture's records.
	for i := 0; i < 4*DefaultTxQueueLen/64; i++ {
		f.forward(in, b, 64)
	}
	if n := testing.AllocsPerRun(100, func() { f.forward(in, b, 64) }); n != 0 {
		t.Errorf("forwarding a batch while capturing allocates %v times", n)
	}
}

// BenchmarkForwardUnicast1514Capturing is BenchmarkForwardUnicast1514 with
// a capture of every port running and a reader draining it: every frame is
// copied twice (in and out).
func BenchmarkForwardUnicast1514Capturing(b *testing.B) {
	f, in, bt := benchFabric(b, 2, 1514, frames.MAC{2, 0, 0, 0, 0, 0xb})
	c, err := f.StartCapture(CaptureFilter{})
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	done := make(chan struct{})
	defer close(done)
	go drain(c, done)
	b.SetBytes(64 * 1514)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		f.forward(in, bt, 64)
	}
	b.ReportMetric(float64(b.N)*64/b.Elapsed().Seconds(), "frames/s")
	b.ReportMetric(float64(c.Copied())/b.Elapsed().Seconds(), "copies/s")
	b.ReportMetric(float64(c.Dropped())/b.Elapsed().Seconds(), "capture_drops/s")
}
