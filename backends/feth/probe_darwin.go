package feth

import (
	"context"

	"github.com/hashicorp/go-hclog"
)

// Probe is what `l2fabric doctor` checks for a feth: port: it creates a
// throwaway feth pair, peers it, brings it up, adds one end to bridge,
// checks the membership with BRDGGIFFLGS, destroys both ends and checks
// that they are gone. The pair is recorded while it exists, so that one
// an interrupted probe leaves behind is destroyed by the next start. It
// returns what it saw, or what failed.
func Probe(ctx context.Context, bridge string, log hclog.Logger) (string, error) {
	return darwinSystem().probe(ctx, bridge, log)
}
