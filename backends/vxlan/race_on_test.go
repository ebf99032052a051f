//go:build race

package vxlan

// raceEnabled reports whether the race detector, which allocates on its
// own, is on: allocation tests skip under it.
const raceEnabled = true
