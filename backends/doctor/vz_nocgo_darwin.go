//go:build darwin && !cgo

package doctor

// builtWithVZ says whether this binary has the Virtualization.framework
// bindings, which need cgo.
const builtWithVZ = false
