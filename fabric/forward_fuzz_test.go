package fabric

import (
	"testing"
	"time"

	"github.com/l2fabric/l2fabric/frames"
)

// FuzzForward feeds arbitrary frames through the forwarding decision of a
// fabric with loop protection and storm control on: it must not panic,
// and every frame read must be forwarded, flooded, filtered, consumed as a
// probe or dropped by a named reason. The first byte of each frame's
// input chooses whether it is made into one of the fabric's own probes
// (with its nonce and a port index from the input), so that the probe path
// is explored too.
func FuzzForward(f *testing.F) {
	f.Add([]byte("\x00\xff\xff\xff\xff\xff\xff\x02\x00\x00\x00\x00\x01\x08\x00payload"), 3)
	f.Add([]byte("\x01\xff\xff\xff\xff\xff\xff\x02\x00\x00\x00\x00\x01\x90\x00\x00\x00\x01\x00"), 1)
	f.Add([]byte("\x00\x02\x00\x00\x00\x00\x0b\x02\x00\x00\x00\x00\x0a\x81\x00\x00\x05\x08\x00"), 2)
	f.Add([]byte("\x00\x01\x80\xc2\x00\x00\x00\x02\x00\x00\x00\x00\x0a\x88\xcc"), 1)
	f.Fuzz(func(t *testing.T, data []byte, parts int) {
		fab, in, b := benchFabric(t, 3, 60, frames.MAC{0xff, 0xff, 0xff, 0xff, 0xff, 0xff})
		in.storm = newTokenBucket(10, time.Now())
		in.LoopProbes = true
		parts = min(max(parts, 1), len(b.bufs))
		n := 0
		for i := 0; i < parts && len(data) > 0; i++ {
			size := len(data) / (parts - i)
			chunk := data[:size]
			data = data[size:]
			if len(chunk) == 0 {
				continue
			}
			probe, fr := chunk[0]&1 == 1, chunk[1:]
			buf := b.bufs[n]
			sz := copy(buf, fr)
			if len(fr) > len(buf) {
				sz = len(buf) + 1 // oversize, as a Read reports it
			}
			if probe && sz >= probeLen && sz <= len(buf) {
				id := uint32(buf[probeIndex+3] % 4)
				fab.loop.writeProbe(buf[:probeLen], id)
			}
			b.sizes[n] = sz
			n++
		}
		if n == 0 {
			return
		}
		fab.forward(in, b, n)
		c := in.counters()
		st := fab.Stats()
		out := st.Fabric.Forwarded + st.Fabric.Flooded + st.Fabric.Filtered + c.Probes + c.RxDrops()
		if c.RxFrames != uint64(n) || out != c.RxFrames {
			t.Fatalf("%d frames read: counted %d read, forwarded %d + flooded %d + filtered %d + probes %d + dropped %d = %d",
				n, c.RxFrames, st.Fabric.Forwarded, st.Fabric.Flooded, st.Fabric.Filtered, c.Probes, c.RxDrops(), out)
		}
	})
}
