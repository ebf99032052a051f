package fabric

import (
	"bytes"
	"context"
	"slices"
	"time"

	"github.com/l2fabric/l2fabric/fdb"
	"github.com/l2fabric/l2fabric/frames"
)

// macsMayHaveChanged wakes the filter updater, if any port needs it.
func (f *Fabric) macsMayHaveChanged() {
	if f.filters.Load() == 0 {
		return
	}
	select {
	case f.macsChanged <- struct{}{}:
	default:
	}
}

// filterInterval bounds how often AddressFilter ports are updated while
// addresses are being learned, so a burst of new MACs costs one update.
const filterInterval = 20 * time.Millisecond

// updateFilters tells each AddressFilter port which unicast MACs live
// behind the other ports, whenever that may have changed, until ctx ends.
func (f *Fabric) updateFilters(ctx context.Context) {
	last := map[*port][]frames.MAC{}
	for {
		select {
		case <-ctx.Done():
			return
		case <-f.macsChanged:
		}
		set := f.ports.Load()
		var entries []fdb.Entry[*port]
		for _, p := range set.list {
			af, ok := p.dev.(AddressFilter)
			if !ok {
				continue
			}
			if entries == nil {
				entries = f.fdb.Entries()
			}
			macs := remoteMACs(p, set, entries)
			if old, seen := last[p]; seen && slices.Equal(old, macs) {
				continue
			}
			last[p] = macs
			af.SetRemoteMACs(macs)
		}
		for p := range last {
			if set.byName[p.Name] != p {
				delete(last, p)
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(filterInterval):
		}
	}
}

// remoteMACs returns the sorted unicast MACs that live behind ports other
// than p: learned or static entries, and other ports' mac=.
func remoteMACs(p *port, set *portSet, entries []fdb.Entry[*port]) []frames.MAC {
	var macs []frames.MAC
	for _, e := range entries {
		if e.Port != p {
			macs = append(macs, e.MAC)
		}
	}
	for _, q := range set.list {
		if q != p && !q.MAC.IsZero() {
			macs = append(macs, q.MAC)
		}
	}
	slices.SortFunc(macs, func(a, b frames.MAC) int { return bytes.Compare(a[:], b[:]) })
	return slices.Compact(macs)
}
