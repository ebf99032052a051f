package linkwatch

import "slices"

// listing turns successive listings of every interface into updates: the
// macOS source's decoder. xnu's PF_ROUTE socket says that an interface
// changed (RTM_IFINFO, with its index) but has no message for arrivals
// and departures (no RTM_IFANNOUNCE): the source lists the interfaces
// again on every message, and what appeared, changed or vanished since
// the last listing is the news.
//
// xnu: ifnet_detach removes the interface from the list first, then calls
// if_down, whose rt_ifmsg sends an RTM_IFINFO; so the listing made for
// that message already lacks the interface, and its departure is seen
// before an interface re-created with the same (recycled) index can
// arrive. Without that message a quick destroy and re-create would look
// like nothing happened: the old index, the same name.
type listing struct {
	byIndex map[int]Link
}

func newListing() *listing { return &listing{byIndex: make(map[int]Link)} }

// update returns what changed between the last listing and now: the
// interfaces gone (in index order), then those new or changed.
func (t *listing) update(now []Link) []Update {
	seen := make(map[int]bool, len(now))
	for _, l := range now {
		seen[l.Index] = true
	}
	var out []Update
	var gone []int
	for i := range t.byIndex {
		if !seen[i] {
			gone = append(gone, i)
		}
	}
	slices.Sort(gone)
	for _, i := range gone {
		out = append(out, Update{Link: t.byIndex[i], Deleted: true})
		delete(t.byIndex, i)
	}
	for _, l := range now {
		old, ok := t.byIndex[l.Index]
		if ok && old.Name != l.Name {
			// Renamed, or gone and another took the index between two
			// listings: report the old one gone first.
			out = append(out, Update{Link: old, Deleted: true})
			ok = false
		}
		if !ok || old != l {
			out = append(out, Update{Link: l})
		}
		t.byIndex[l.Index] = l
	}
	return out
}

// interfaceLink is the Link of a listed interface: its index, name and
// flags, as an RTM_IFINFO of a NET_RT_IFLIST listing carries them. Every
// flag counts: xnu takes a member out of promiscuous mode when it leaves
// a bridge (bridge_delete_member → ifnet_set_promiscuous, whose rt_ifmsg
// sends the RTM_IFINFO), and that cleared IFF_PROMISC is the only news of
// it.
func interfaceLink(index int, name string, flags int) Link {
	return Link{Index: index, Name: name, Up: flags&iffUp != 0, Running: flags&iffRunning != 0, Flags: uint32(flags)}
}
