//go:build darwin && !cgo

package vm

// Without cgo there is no Virtualization.framework binding: every vm:
// spec fails with ErrNeedCgo.
var (
	platformHypervisor  hypervisor
	platformUnavailable = ErrNeedCgo
)
