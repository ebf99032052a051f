//go:build race

package offload

// raceEnabled reports whether the race detector, which allocates on its
// own, is on: allocation tests skip under it.
const raceEnabled = true
