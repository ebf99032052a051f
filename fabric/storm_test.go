package fabric

import (
	"testing"
	"time"
)

// TestTokenBucket: a full bucket passes its burst at once, then one frame
// per 1/rate; an idle bucket refills to its depth and no further.
func TestTokenBucket(t *testing.T) {
	t0 := time.Unix(1000, 0)
	b := newTokenBucket(1000, t0)
	now := t0.UnixNano()
	burst := 0
	for b.allow(now) {
		burst++
	}
	if burst != 100 {
		t.Fatalf("burst of a 1000/s bucket: %d frames, want 100", burst)
	}
	// One second later: 1000 more tokens, but the depth is 100.
	now += int64(time.Second)
	n := 0
	for b.allow(now) {
		n++
	}
	if n != 100 {
		t.Fatalf("after 1 s idle: %d frames, want the depth, 100", n)
	}
	// Steady: 1 ms gives one frame.
	for i := 0; i < 10; i++ {
		now += int64(time.Millisecond)
		if !b.allow(now) || b.allow(now) {
			t.Fatalf("step %d: want exactly one frame per millisecond", i)
		}
	}
	// A clock going backwards credits nothing.
	if b.allow(now - int64(time.Second)) {
		t.Fatal("a frame passed on a clock that went backwards with an empty bucket")
	}
	// A long idle time does not overflow.
	big := newTokenBucket(MaxStorm, t0)
	if !big.allow(t0.Add(1000 * time.Hour).UnixNano()) {
		t.Fatal("a long-idle bucket refused a frame")
	}
}
