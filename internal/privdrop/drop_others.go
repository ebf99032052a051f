//go:build !linux && !darwin

package privdrop

import (
	"fmt"
	"runtime"
)

// Drop is not supported here: l2fabric runs on Linux and macOS.
func Drop(c Credential) error {
	return fmt.Errorf("--user %s: dropping root is not supported on %s", c.User, runtime.GOOS)
}

// CanDrop reports that dropping root is not supported here.
func CanDrop(c Credential) error { return Drop(c) }
