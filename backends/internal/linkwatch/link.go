package linkwatch

import "fmt"

// Link is an interface's state as link events describe it.
type Link struct {
	// Index is the interface index.
	Index int
	// Name is the interface name.
	Name string
	// Up reports the interface administratively up (IFF_UP).
	Up bool
	// Running reports it operational: up with carrier (IFF_RUNNING).
	Running bool
	// Master is the index of the bridge (or bond) the interface is a
	// port of, 0 if none. Linux only: macOS reports no membership in
	// link events.
	Master int
	// MTU is the interface MTU, 0 where the source does not report it.
	MTU int
	// Flags are the interface flags (IFF_UP, IFF_RUNNING, IFF_PROMISC...),
	// so that any change of them is an event: on macOS a member leaving
	// a bridge shows only as IFF_PROMISC cleared.
	Flags uint32
}

// String describes l for logs and tests.
func (l Link) String() string {
	return fmt.Sprintf("%s#%d(up=%v running=%v master=%d mtu=%d)", l.Name, l.Index, l.Up, l.Running, l.Master, l.MTU)
}

// Interface flags, the same values on Linux and macOS (net/if.h).
const (
	iffUp      = 0x1
	iffRunning = 0x40
)

// Event is one change of an interface a Watcher watches.
type Event struct {
	// Link is the interface's state after the change; when Gone, the
	// last state known.
	Link Link
	// Gone reports that the interface was deleted, renamed away, or that
	// events were lost and its fate is unknown.
	Gone bool
}

// Update is what a Source reports: one interface's state, or its
// deletion.
type Update struct {
	// Link is the interface's state; for a deletion, at least its index
	// and name.
	Link Link
	// Deleted reports that the interface is gone.
	Deleted bool
}
