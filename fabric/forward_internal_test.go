package fabric

import (
	"errors"
	"testing"
	"time"

	"github.com/l2fabric/l2fabric/frames"
)

// discardPort is a Port whose writes vanish, for measuring the fabric alone.
type discardPort struct{ done chan struct{} }

func newDiscardPort() *discardPort { return &discardPort{done: make(chan struct{})} }

func (p *discardPort) Read([][]byte, []int) (int, error) { <-p.done; return 0, errors.New("closed") }
func (p *discardPort) Write(b [][]byte) (int, error)     { return len(b), nil }
func (p *discardPort) BatchSize() int                    { return 64 }
func (p *discardPort) Close() error                      { close(p.done); return nil }

// benchFabric attaches n discard ports in VLAN 1 and returns the fabric,
// the first port, and a batch of 64 frames of size bytes from port 0
// (source A) to port 1 (destination B, learned).
func benchFabric(tb testing.TB, n, size int, dst frames.MAC) (*Fabric, *port, *batch) {
	f, err := New(Config{})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(f.shutdown)
	for i := 0; i < n; i++ {
		if err := f.Attach(newDiscardPort(), PortConfig{Name: string(rune('a' + i))}); err != nil {
			tb.Fatal(err)
		}
	}
	ports := f.ports.Load().list
	src := frames.MAC{2, 0, 0, 0, 0, 0xa}
	f.fdb.Learn(1, frames.MAC{2, 0, 0, 0, 0, 0xb}, ports[1])
	b := newBatch(64, ports[0].maxLen+frames.TagLen, f.flow)
	for i := range b.bufs {
		fr := frames.Frame(b.bufs[i][:size])
		fr.SetDestination(dst)
		fr.SetSource(src)
		fr[12], fr[13] = 0x08, 0x00
		b.sizes[i] = size
	}
	return f, ports[0], b
}

func TestForwardDoesNotAllocate(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector allocates; run without -race")
	}
	for _, tc := range []struct {
		name  string
		dst   frames.MAC
		storm bool
	}{
		{"known unicast", frames.MAC{2, 0, 0, 0, 0, 0xb}, false},
		{"broadcast", frames.MAC{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}, false},
		{"broadcast under storm control", frames.MAC{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f, in, b := benchFabric(t, 4, 1514, tc.dst)
			if tc.storm {
				in.storm = newTokenBucket(1000, time.Now())
			}
			// Warm up: transmit-queue slot buffers are allocated on first
			// use, so cycle every egress ring a few times first.
			for i := 0; i < 4*DefaultTxQueueLen/64; i++ {
				f.forward(in, b, 64)
			}
			if n := testing.AllocsPerRun(100, func() { f.forward(in, b, 64) }); n != 0 {
				t.Errorf("forwarding a batch allocates %v times", n)
			}
		})
	}
}

func benchmarkForward(b *testing.B, ports, size int, dst frames.MAC) {
	f, in, bt := benchFabric(b, ports, size, dst)
	b.SetBytes(int64(64 * size))
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		f.forward(in, bt, 64)
	}
	b.ReportMetric(float64(b.N)*64/b.Elapsed().Seconds(), "frames/s")
}

// BenchmarkForwardUnicast measures the forwarding decision and enqueue for
// batches of 64 known-unicast frames (no system calls).
func BenchmarkForwardUnicast64(b *testing.B) {
	benchmarkForward(b, 2, 64, frames.MAC{2, 0, 0, 0, 0, 0xb})
}

// BenchmarkForwardUnicast1514 is the same with full-size frames.
func BenchmarkForwardUnicast1514(b *testing.B) {
	benchmarkForward(b, 2, 1514, frames.MAC{2, 0, 0, 0, 0, 0xb})
}

// BenchmarkForwardUnicast16Ports shows known unicast does not slow down as
// ports are added.
func BenchmarkForwardUnicast16Ports(b *testing.B) {
	benchmarkForward(b, 16, 64, frames.MAC{2, 0, 0, 0, 0, 0xb})
}

// BenchmarkForwardBroadcast8 floods 64-byte broadcasts to 7 other ports.
func BenchmarkForwardBroadcast8(b *testing.B) {
	benchmarkForward(b, 8, 64, frames.MAC{0xff, 0xff, 0xff, 0xff, 0xff, 0xff})
}
