//go:build linux

package qemuvm

import (
	"os"
	"testing"
)

// RequireAssets returns [FindAssets]' result for a test. When the assets are
// missing it skips the test with the setup hint, except when the CI
// environment variable is non-empty: then it fails the test, so that CI
// never silently skips the integration tests.
func RequireAssets(tb testing.TB) Assets {
	tb.Helper()
	a, err := FindAssets()
	if err != nil {
		if os.Getenv("CI") != "" {
			tb.Fatalf("CI is set, so not skipping: %v", err)
		}
		tb.Skip(err)
	}
	return a
}
