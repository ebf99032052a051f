//go:build linux || darwin

package feth

// What `l2fabric doctor` asks of the macOS feth port: that a throwaway
// pair can be made and put in the bridge, exactly as the port makes its
// own, and destroyed again.

import (
	"context"
	"fmt"
	"slices"

	"github.com/hashicorp/go-hclog"

	"github.com/l2fabric/l2fabric/fabric"
)

// probe creates a feth pair the way a feth: port does (recorded, so that
// an interrupted probe is cleaned up by the next start), checks with
// BRDGGIFFLGS that its member is in bridge, destroys it and checks that
// both ends are gone. It returns what it saw.
func (sys *system) probe(ctx context.Context, bridge string, log hclog.Logger) (_ string, err error) {
	if !sys.isRoot() {
		return "", errNeedRoot
	}
	sys.cleanOnce.Do(func() {
		sys.store.setLogger(log)
		if err := sys.store.cleanUp(sys.ops, sys.self); err != nil {
			log.Warn("feth pairs left by an earlier run not cleaned up", "record", sys.store.path, "error", err)
		}
	})
	mtu, err := sys.bridgeMTU(bridge)
	if err != nil {
		return "", err
	}
	if err := ctx.Err(); err != nil {
		return "", err
	}
	m := &pairMaker{ops: sys.ops, store: sys.store, self: sys.self, log: log}
	pair, err := m.createPair(bridge, fethPrefix, mtu)
	if err != nil {
		return "", err
	}
	defer func() {
		if derr := m.destroyPair(pair); derr != nil && err == nil {
			err = fmt.Errorf("destroying the pair %s/%s: %w", pair.member, pair.switched, derr)
		}
		if err != nil {
			return
		}
		names, lerr := sys.ops.interfaces()
		if lerr != nil {
			err = fmt.Errorf("listing interfaces after destroying %s/%s: %w", pair.member, pair.switched, lerr)
			return
		}
		for _, n := range []string{pair.member, pair.switched} {
			if slices.Contains(names, n) {
				err = fmt.Errorf("%s is still there after SIOCIFDESTROY", n)
			}
		}
	}()
	flags, err := sys.ops.memberFlags(bridge, pair.member)
	if err != nil {
		return "", explain(fmt.Sprintf("BRDGGIFFLGS: is %s a member of %s", pair.member, bridge), err)
	}
	return fmt.Sprintf("created %s and %s, peered, up, %s a member of %s (BRDGGIFFLGS flags %#x, MTU %d), then destroyed both",
		pair.member, pair.switched, pair.member, bridge, flags, mtu), nil
}

// bridgeMTU checks that bridge exists and is a bridge, and returns its
// MTU within the fabric's bounds: the MTU a feth pair in it takes.
func (sys *system) bridgeMTU(bridge string) (int, error) {
	names, err := sys.ops.interfaces()
	if err != nil {
		return 0, fmt.Errorf("listing interfaces: %w", err)
	}
	if !slices.Contains(names, bridge) {
		return 0, fmt.Errorf("bridge %s does not exist (%s)", bridge, bridgesHintMac(sys.ops))
	}
	if !isBridgeName(bridge) {
		return 0, fmt.Errorf("%s is not a bridge (%s)", bridge, bridgesHintMac(sys.ops))
	}
	bm, err := sys.ops.mtu(bridge)
	if err != nil {
		return 0, explain("reading the MTU of "+bridge, err)
	}
	return min(max(bm, fabric.MinMTU), fabric.MaxMTU), nil
}
