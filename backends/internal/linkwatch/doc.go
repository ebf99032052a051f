// Package linkwatch follows network interfaces through the kernel's link
// events, and keeps a port's handle on an interface (a socket, a BPF
// device, a TAP file) open across the interface going away and coming
// back. It is the one place where l2fabric learns that an interface was
// deleted, re-created, set down or taken out of its bridge: nothing
// polls.
//
// The events come from rtnetlink on Linux (github.com/vishvananda/netlink,
// RTM_NEWLINK and RTM_DELLINK of the RTNLGRP_LINK group) and from a
// PF_ROUTE socket on macOS. xnu has no RTM_IFANNOUNCE (golang.org/x/net/
// route knows it on the other BSDs only): every interface change is an
// RTM_IFINFO, and the macOS source lists the interfaces
// (NET_RT_IFLIST, parsed by x/net/route) on each to learn what arrived
// and what left. The sources are the only platform code
// (source_linux.go, source_darwin.go); what the events mean is decided
// once, in portable code tested on Linux:
//
//   - table.go turns a stream of link updates into events for the names
//     asked for: a deletion, or a rename away, is the interface gone; an
//     interface of that name with another index is the old one gone and a
//     new one there.
//   - listing.go turns the RTM_IFINFO headers and successive listings
//     into those updates. xnu recycles an interface's index when a feth
//     or a USB NIC is re-created, so a departure and an arrival with the
//     same index are still the interface gone and back: the port reports
//     its link down then up, and the fabric forgets the MACs it learned
//     there.
//   - supervisor.go is the "reopen when it comes back" policy every port
//     on an interface shares: open, watch; when the interface is gone,
//     report the link down and close the handle; when it is back, reopen
//     it and report the link up; report set-down and no-carrier as down.
//
// When the kernel drops events (the socket's buffer overflowed), the
// watcher cannot know what happened meanwhile: it reports every interface
// it knew as gone, subscribes again and re-learns them from a fresh
// listing, so that a port reopens its handle rather than keep one on an
// interface that may have been replaced.
package linkwatch
