//go:build !linux && !darwin

package doctor

// Defaults returns the arguments doctor checks a kind with when no spec
// names one: none here.
func Defaults() map[string]string { return map[string]string{} }

// ChecksFor returns no checks: l2fabric runs on Linux and macOS.
func ChecksFor(Target) []Check { return nil }
