package fabric

import (
	"testing"

	"github.com/l2fabric/l2fabric/frames/offload"
)

func TestTxQueueBoundsBytes(t *testing.T) {
	q := newTxQueue(MaxTxQueueLen)
	q.lock()
	n := 0
	for q.reserve(MaxGSOFrame) != nil {
		q.commit(1)
		n++
	}
	q.unlock()
	if want := maxQueueBytes / MaxGSOFrame; n != want {
		t.Fatalf("queued %d super-frames, want %d (the byte bound), with %d slots free", n, want, MaxTxQueueLen-n)
	}
	out, hdrs := q.take(nil, nil, MaxTxQueueLen)
	if len(out) != n || len(hdrs) != n {
		t.Fatalf("took %d frames, want %d", len(out), n)
	}
	q.release()
	if q.bytes != 0 || q.len() != 0 {
		t.Fatalf("after release: %d bytes, %d frames queued", q.bytes, q.len())
	}
	if len(q.jumbo) != maxJumbo {
		t.Errorf("kept %d large buffers, want %d", len(q.jumbo), maxJumbo)
	}
}

func TestTxQueueCommitsWhatWasFilled(t *testing.T) {
	q := newTxQueue(4)
	q.lock()
	a := q.reserve(100)
	a.buf = a.buf[:60]
	a.hdr = offload.Header{Flags: offload.FlagNeedsCsum}
	q.reserve(200) // reserved, then given back by commit(1)
	q.commit(1)
	if q.bytes != 100 {
		t.Errorf("charged %d bytes, want the 100 reserved for the one frame committed", q.bytes)
	}
	q.reserve(300)
	q.cancel()
	q.unlock()
	out, hdrs := q.take(nil, nil, 4)
	if len(out) != 1 || len(out[0]) != 60 || hdrs[0].Flags != offload.FlagNeedsCsum {
		t.Fatalf("took %d frames (first %d bytes, %+v); want the one committed, 60 bytes, its header", len(out), len(out[0]), hdrs)
	}
	q.release()
	if q.bytes != 0 {
		t.Errorf("%d bytes still charged after release", q.bytes)
	}
}

func TestTxQueueReusesLargeBuffers(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector allocates; run without -race")
	}
	q := newTxQueue(8)
	out := make([][]byte, 0, 8)
	hdrs := make([]offload.Header, 0, 8)
	cycle := func() {
		q.lock()
		q.reserve(9000)
		q.commit(1)
		q.unlock()
		out, hdrs = q.take(out[:0], hdrs[:0], 8)
		q.release()
	}
	cycle()
	if n := testing.AllocsPerRun(100, cycle); n != 0 {
		t.Errorf("a 9000-byte frame allocates %v times once the queue is warm", n)
	}
}
