//go:build linux || darwin

package dgram

import (
	"errors"
	"os"
	"testing"

	"github.com/l2fabric/l2fabric/fabric/flowq"
)

// TestRxQueueHandsOutWhatItHoldsWhenClosed: a client closed with frames
// queued (a VM that sent and vanished, detached because a send to it
// failed) still hands them to the fabric's reader, then fails; frames
// pushed once it is closed are refused and returned to the caller to
// count, never queued where nobody reads them.
func TestRxQueueHandsOutWhatItHoldsWhenClosed(t *testing.T) {
	r := newRxQueue(8, 64)
	hold := flowq.NewHold(flowq.Policy{}.WithDefaults())
	bufs := [][]byte{make([]byte, 64), make([]byte, 64), make([]byte, 64)}
	sizes := []int{10, 20, 30}
	hold.Start()
	if refused := r.push(bufs, sizes, []int{0, 1}, hold); refused != 0 {
		t.Fatalf("push into an open queue refused %d", refused)
	}
	r.close()
	if refused := r.push(bufs, sizes, []int{2}, hold); refused != 1 {
		t.Errorf("push into a closed queue refused %d, want 1", refused)
	}
	out := [][]byte{make([]byte, 64), make([]byte, 64), make([]byte, 64)}
	got := make([]int, 3)
	n, err := r.pop(out, got)
	if n != 2 || err != nil || got[0] != 10 || got[1] != 20 {
		t.Fatalf("pop after close: %d frames %v, %v; want the 2 queued (10 and 20 bytes)", n, got[:n], err)
	}
	if n, err := r.pop(out, got); n != 0 || !errors.Is(err, os.ErrClosed) {
		t.Errorf("pop of a closed, empty queue: %d, %v; want 0, ErrClosed", n, err)
	}
	if r.drops.Load() != 0 {
		t.Errorf("the client counted %d drops; refused frames are the listener's to count", r.drops.Load())
	}
}
