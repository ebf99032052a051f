//go:build linux

package integration

import (
	"context"
	"testing"
	"time"

	"github.com/l2fabric/l2fabric/integration/internal/chaos"
)

// TestChaos60s is CI's run of the chaos and soak harness (see package
// integration/internal/chaos; `go run ./integration/chaos -duration 10m`
// runs it longer): a minute of VMs coming and going, garbage, MAC floods,
// interfaces deleted, TAPs pulled, loops made and a kill -9, under steady
// traffic, with its invariants checked as it runs and after a final
// SIGTERM.
func TestChaos60s(t *testing.T) {
	requireNetAdmin(t)
	if testing.Short() {
		t.Skip("a minute long; skipped with -short")
	}
	rep, err := chaos.Run(context.Background(), chaos.Config{Bin: bin, Duration: 60 * time.Second, Logf: t.Logf})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("seed %d: %d checkpoints, %d restarts, actions %v", rep.Seed, rep.Checkpoints, rep.Restarts, rep.Actions)
	if rep.Checkpoints < 3 {
		t.Errorf("only %d checkpoints in a minute", rep.Checkpoints)
	}
	for _, p := range rep.Problems {
		t.Error(p)
	}
}
