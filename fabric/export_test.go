package fabric

import "time"

// SetLoopHoldDown sets how long a blocked port stays blocked after the
// last sign of its loop, so that tests of unblocking need not wait the
// default.
func SetLoopHoldDown(f *Fabric, d time.Duration) {
	f.loop.mu.Lock()
	f.loop.holdDown = d
	f.loop.mu.Unlock()
}
