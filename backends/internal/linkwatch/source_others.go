//go:build !linux && !darwin

package linkwatch

// System returns ErrUnsupported: l2fabric watches links on Linux and
// macOS only.
func System() (Source, error) { return nil, ErrUnsupported }
