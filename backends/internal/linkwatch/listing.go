package linkwatch

import (
	"encoding/binary"
	"slices"
)

// listing turns successive listings of every interface into updates: the
// macOS source's decoder. xnu's PF_ROUTE socket says that an interface
// changed (RTM_IFINFO, with its index) but has no message for arrivals
// and departures (no RTM_IFANNOUNCE): the source lists the interfaces
// again on every message, and what appeared, changed or vanished since
// the last listing is the news.
//
// xnu: ifnet_detach removes the interface from the list first, then calls
// if_down, whose rt_ifmsg sends an RTM_IFINFO; so the listing made for
// that message lacks the interface, and its departure is seen, unless the
// message is read so late that an interface re-created with the same
// (recycled) index is listed already. Then the message's own flags (down)
// still make the port go down and up (see message), and the port's
// device, detached, fails its next read and is reopened.
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

// message applies an RTM_IFINFO's own news, the flags of index, before
// the listing made for it: when the message is read late, the listing
// may already show an interface re-created with the same index and the
// same flags as before, but the message itself (xnu: if_down's, on
// detach) still says the old one went down, and the port goes down and
// up rather than stay silently up.
func (t *listing) message(index int, flags int) []Update {
	old, ok := t.byIndex[index]
	if !ok {
		return nil
	}
	l := interfaceLink(index, old.Name, flags)
	l.MTU = old.MTU
	if l == old {
		return nil
	}
	t.byIndex[index] = l
	return []Update{{Link: l}}
}

// Routing message types of the interface news (xnu's net/route.h; the
// darwin tests check them against golang.org/x/sys/unix).
const (
	rtmIfInfo  = 0xe
	rtmIfInfo2 = 0x12
)

// ifInfoHeader reads the index and flags of an RTM_IFINFO or RTM_IFINFO2
// message from its if_msghdr: ifm_msglen (u16), ifm_version (u8),
// ifm_type (u8), ifm_addrs (i32), ifm_flags (i32), ifm_index (u16), in
// host byte order. golang.org/x/net/route would drop the message: xnu's
// rt_ifmsg sends no addresses, and route parses an interface message only
// with its link-layer address (RTA_IFP).
func ifInfoHeader(b []byte) (index, flags int, ok bool) {
	if len(b) < 14 || (b[3] != rtmIfInfo && b[3] != rtmIfInfo2) {
		return 0, 0, false
	}
	if l := int(binary.NativeEndian.Uint16(b)); l < 14 || l > len(b) {
		return 0, 0, false
	}
	return int(binary.NativeEndian.Uint16(b[12:])), int(int32(binary.NativeEndian.Uint32(b[8:]))), true
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
