// Package fabric is the switch: it connects ports provided by backends,
// learns where each MAC address lives, and forwards every frame to the one
// port that should see it, or floods it to its VLAN.
//
// A reader looking for the architecture finds it here, one concern a file:
//   - port.go: the Port interface every backend implements, its optional
//     interfaces, and PortConfig.
//   - kinds.go: port kinds (Kind, Kinds), what their Open returns, the
//     Attacher a device's ports come and go through, and Device.
//   - spec.go: the KIND:ARG[,KEY=VALUE]... port specification, and VLAN
//     lists.
//   - fabric.go: Config and FlowControl, New, Run and shutdown.
//   - attach.go: attaching and detaching ports, and opening and closing
//     devices.
//   - portset.go: the fabric's state for a port, and the immutable set of
//     attached ports the forwarding path reads without locks.
//   - portio.go: each port's reader, writer and link-state goroutines, and
//     transmission through the backend.
//   - wrap.go: Wrap, for a port built on another without hiding its
//     optional interfaces.
//   - forward.go: the forwarding decision, one batch of frames at a time.
//   - txqueue.go: the bounded per-port transmit queue, a flowq.Queue that
//     keeps a slow port from stalling the others (package flowq states the
//     flow-control policy).
//   - entries.go: static entries, and deleting and flushing entries.
//   - filters.go: telling AddressFilter ports which MACs live elsewhere.
//   - dumps.go: Ports, Entries and Stats, for the control socket.
//   - capture.go: captures, offered frames where they enter (forward) and
//     leave (transmit), one atomic load per batch when none runs.
//   - events.go: events (learned, moved, port down...) for subscribers.
//   - nat.go: NATPort, for ports that translate addresses (MAC-NAT), and
//     NATEntries, their tables for the control socket.
//   - socketfile.go: SocketInUseError and SocketFiler, so that a socket
//     this fabric's own port holds is named as such.
//   - words.go: Count, "1 client" and "2 clients" in dumps.
//   - loop.go: loop protection: probes, MAC-flap detection, blocking a
//     looped port and unblocking it.
//   - storm.go: storm control, a token bucket per port.
//   - counters.go, linkstate.go: per-port counters and the books they
//     keep, and a ready-made Linker.
//   - remote.go: what tunnel ports (vxlan) add: remote endpoints in dumps,
//     static entries pinned to one, flood lists.
//
// The learning table is package fdb, frame views are package frames, and
// each port kind is a package under backends/.
package fabric

import (
	"errors"

	"github.com/l2fabric/l2fabric/frames"
	"github.com/l2fabric/l2fabric/frames/offload"
)

// Port is one link of the fabric: a VM's socket, a host NIC, a TAP. Backends
// implement it; the fabric runs one reader and one writer goroutine per
// port, so Read is never called concurrently with itself, nor Write with
// itself, but Read and Write run concurrently.
//
// The shape follows wireguard-go's tun.Device: frames move in batches, into
// and out of buffers the caller owns.
type Port interface {
	// Read reads one or more frames into bufs, storing the length of
	// bufs[i]'s frame in sizes[i], and returns how many it read. It blocks
	// until at least one frame is available. A frame longer than
	// len(bufs[i]) must be reported with a size larger than the MTU allows
	// (or dropped by the backend), never silently truncated into a
	// valid-looking frame. Read may exchange buffers within bufs (all have
	// the same length and the fabric owns them all), so a backend can hand
	// over a frame it already holds instead of copying it. An error means
	// the port is finished: the fabric
	// forwards the n frames read, then detaches the port. After Close,
	// Read returns an error promptly.
	Read(bufs [][]byte, sizes []int) (n int, err error)

	// Write sends each of bufs as one frame and returns how many it sent.
	// When the peer is not accepting frames (its socket buffer is full),
	// Write may wait for it, but only for a bounded time (the backends here
	// wait up to 50 ms), then give up on the rest with ErrTxFull. The
	// fabric's flow control builds on this: while Write waits, the port's
	// transmit queue fills and the ports sending to it wait for room, as
	// long as Write returns within FlowControl.StallAfter; a port whose
	// Write has been blocked for longer counts as stuck, and frames for it
	// are dropped at once (counted as drop_tx_queue_full) until Write
	// returns. When n < len(bufs), err says why bufs[n:] were not sent: an
	// error wrapping ErrTxFull (the peer is not keeping up), ErrLinkDown
	// or ErrPeerGone (the port is finished and will be detached) is counted
	// as such; any other error counts one transmit error for bufs[n] and
	// the fabric carries on with the rest.
	Write(bufs [][]byte) (n int, err error)

	// BatchSize returns the number of frames the port prefers to read and
	// write per call. The fabric sizes its batches to it.
	BatchSize() int

	// Close releases the port and whatever the backend created for it
	// (socket files, devices). It unblocks a pending Read. It is called
	// exactly once, by the fabric, when the port is detached.
	Close() error
}

// GSOPort is implemented by ports that can read and write TCP and UDP
// super-frames (up to 64 KiB, cut into MTU-sized segments by whoever
// receives them) and frames whose checksum is only partly computed, each
// described by a virtio-net header: the host backend's AF_PACKET socket
// with PACKET_VNET_HDR, on Linux. (A TAP opened with IFF_VNET_HDR could be
// one too; the tap backend does not set it, so TAP ports are plain Ports.)
// Between two such ports the fabric carries super-frames whole, which is
// what lets TCP between two hosts run at the speed of the kernel's own
// bridge; towards any other port it cuts them into ordinary frames and
// completes their checksums.
// The fabric calls ReadGSO and WriteGSO instead of Read and Write.
type GSOPort interface {
	Port
	// ReadGSO is Read, storing each frame's header in hdrs[i]
	// (offload.Header{} for an ordinary frame with a full checksum). Its
	// buffers are MaxGSOFrame bytes long.
	ReadGSO(bufs [][]byte, sizes []int, hdrs []offload.Header) (n int, err error)
	// WriteGSO is Write, each frame described by hdrs[i].
	WriteGSO(bufs [][]byte, hdrs []offload.Header) (n int, err error)
}

// MaxGSOFrame is the length of the buffers a GSOPort reads into: the
// largest super-frame (64 KiB of IP datagram) with its Ethernet header and
// up to two VLAN tags.
const MaxGSOFrame = 65535 + frames.HeaderLen + 2*frames.TagLen

// ViewReader is implemented by ports whose frames arrive back to back in
// a buffer of their own, as a byte stream's do (backends/stream): the
// fabric reads them with ReadViews, as views of that buffer, instead of
// having Read copy each into a buffer of the fabric's (at 1500 B that
// copy was 5% of a stream port's forwarding CPU in a profile). The fabric
// calls ReadViews instead of Read, from the port's reader goroutine only.
type ViewReader interface {
	Port
	// ReadViews is Read without the copy: it sets views[i] to the i-th
	// frame where it lies in the port's own memory and sizes[i] to its
	// length, and returns how many frames it read. A frame it cannot
	// deliver is reported as Read reports it: a runt with its short
	// size (and a view that long), a frame too long with a size larger
	// than its view. The views stay valid, and are the fabric's to
	// modify in place, until the next call to ReadViews.
	ReadViews(views [][]byte, sizes []int) (n int, err error)
}

// AddressFilter is implemented by ports that receive only what a filter in
// front of them lets through (BPF on macOS): the fabric tells them which
// unicast addresses live behind its other ports, so the filter can admit
// exactly those plus broadcast and multicast.
type AddressFilter interface {
	// SetRemoteMACs is called with the sorted unicast MACs that live
	// behind the fabric's other ports (learned, or configured with mac=
	// or a static entry), once at attach and then whenever the set
	// changes. It is called from one goroutine and must not block for
	// long.
	SetRemoteMACs(macs []frames.MAC)
}

// RxDropper is implemented by ports whose backend can drop received
// frames before the fabric reads them (a listener's per-client queue); the
// count shows in the port's counters as drop_rx_backend. A Device may
// implement it too, for frames it dropped before any port had them (from
// a sender it cannot reply to, or for a client being detached): they show
// in the fabric's totals (Stats.Totals).
type RxDropper interface {
	RxDropped() uint64
}

// LinkEvent reports a port's link going down or coming back.
type LinkEvent struct {
	// Up is the new state.
	Up bool
	// Reason says why, for logs and dumps: "interface deleted",
	// "carrier lost", "interface back".
	Reason string
}

// Linker is implemented by ports whose link can go down and come back
// while the port stays attached: a host NIC that loses carrier or is
// deleted and re-created, a TAP whose device disappears. While a port is
// down the fabric drops what it would send to it (counted as
// drop_link_down), and when it goes down its learned entries are flushed,
// as a bridge does when a port's link drops. A port starts up.
type Linker interface {
	// LinkEvents returns the channel the port sends its link changes on.
	// The port closes it when it is closed.
	LinkEvents() <-chan LinkEvent
}

// Errors a Port's Write (or Read) wraps to tell the fabric what happened.
var (
	// ErrTxFull means the peer did not accept frames within the port's
	// bounded wait: they are dropped and counted as tx queue full.
	ErrTxFull = errors.New("peer not accepting frames")
	// ErrPeerGone means the other end has gone away for good (its socket
	// closed or removed): the port is detached.
	ErrPeerGone = errors.New("peer gone")
	// ErrLinkDown means the port's link is down for now (a Linker whose
	// interface is gone): the frames are dropped and counted as
	// drop_link_down, and the port stays.
	ErrLinkDown = errors.New("link down")
)

// Defaults for PortConfig fields left zero.
const (
	// DefaultMTU is the MTU of a port with no mtu= option.
	DefaultMTU = 1500
	// MinMTU is the smallest MTU a port accepts (IPv4's minimum).
	MinMTU = 68
	// MaxMTU is the largest MTU: peers that send TSO frames (krunkit with
	// offloading, Virtualization.framework on macOS 13+) need up to 65535.
	MaxMTU = 65535
	// DefaultTxQueueLen is the number of frames a port's transmit queue
	// holds before further frames for it are dropped.
	DefaultTxQueueLen = 2048
	// MaxTxQueueLen bounds txqueue=.
	MaxTxQueueLen = 65536
	// DefaultVLAN is the access VLAN of a port with no vlan= option.
	DefaultVLAN = 1
	// DefaultLoopPriority is the loop priority of a port with no loop=N.
	DefaultLoopPriority = 128
	// MaxLoopPriority bounds loop=N.
	MaxLoopPriority = 255
	// StormOff (storm=off) turns storm control off for a port whatever
	// the fabric's default.
	StormOff = -1
	// MaxStorm bounds storm=PPS.
	MaxStorm = 100_000_000
)

// PortConfig says how the fabric treats a port. Its zero value (apart from
// Name) is the default: an access port in VLAN 1, MTU 1500, learning and
// flooding on, any source MAC admitted.
type PortConfig struct {
	// Name identifies the port in dumps and control commands. Required and
	// unique.
	Name string
	// Kind is the backend kind ("dgram", "host"...), shown in dumps.
	Kind string
	// Device is the device (see Device) the port belongs to, set by
	// backends whose ports come and go; detaching the device detaches the
	// port.
	Device string
	// Info is a short backend-specific description (the peer's socket
	// path, the interface), shown in dumps.
	Info string
	// VLAN is the access VLAN (untagged frames belong to it and leave
	// untagged). On a trunk it is the native VLAN; 0 on a trunk means
	// untagged frames are dropped. 0 on an access port means DefaultVLAN.
	VLAN uint16
	// Trunk lists the VLANs carried tagged. Non-empty makes the port a
	// trunk; a tagged frame arriving on an access port is dropped.
	Trunk []uint16
	// MTU is the largest payload (frame minus the 14-byte header, minus 4
	// more for a tagged frame) the port admits and sends. 0 means
	// DefaultMTU.
	MTU int
	// NoLearning stops the port's source addresses from being learned.
	NoLearning bool
	// NoFlood stops unknown unicast from being flooded to the port.
	// Broadcast and multicast still reach it (ARP and IPv6 neighbour
	// discovery need them), as with the Linux bridge's flood flag.
	NoFlood bool
	// MAC, when not zero, is the only source address admitted from the
	// port (anti-spoofing for VM ports).
	MAC frames.MAC
	// TxQueueLen is the transmit queue length in frames. 0 means
	// DefaultTxQueueLen.
	TxQueueLen int
	// LoopProbes makes the fabric send loop-detection probes on the port
	// (see loop.go). Backends set it for ports that can reach a LAN, where
	// a second path to the same LAN makes a loop: host, feth and tap
	// ports, and dgram ports in connect= or peer= mode. A VM's NIC never
	// has it: its guest would see the probes as noise and cannot loop.
	LoopProbes bool
	// LoopPriority ranks the port when it is looped with another: the one
	// with the lower priority is blocked, and of two with the same
	// priority the one attached last. 0 means DefaultLoopPriority.
	LoopPriority int
	// NoLoopDetect (loop=off) takes the port out of loop protection: it
	// sends no probes and is never the one blocked.
	NoLoopDetect bool
	// Storm limits the broadcast, multicast and unknown-unicast frames
	// the port may inject, per second (storm=PPS); excess is dropped as
	// drop_storm. 0 means the fabric's default (Config.Storm), StormOff
	// no limit.
	Storm int
}

// IsTrunk reports whether the port carries tagged VLANs.
func (c PortConfig) IsTrunk() bool { return len(c.Trunk) > 0 }

// withDefaults returns c with zero fields replaced by their defaults.
func (c PortConfig) withDefaults() PortConfig {
	if c.VLAN == 0 && !c.IsTrunk() {
		c.VLAN = DefaultVLAN
	}
	if c.MTU == 0 {
		c.MTU = DefaultMTU
	}
	if c.TxQueueLen == 0 {
		c.TxQueueLen = DefaultTxQueueLen
	}
	if c.LoopPriority == 0 {
		c.LoopPriority = DefaultLoopPriority
	}
	return c
}

// validate checks a defaulted configuration.
func (c PortConfig) validate() error {
	switch {
	case c.Name == "":
		return errors.New("port has no name")
	case c.VLAN > frames.MaxVLAN:
		return errors.New("vlan must be 1-4094")
	case c.MTU < MinMTU || c.MTU > MaxMTU:
		return errors.New("mtu must be 68-65535")
	case c.TxQueueLen < 1 || c.TxQueueLen > MaxTxQueueLen:
		return errors.New("txqueue must be 1-65536")
	case !c.MAC.IsZero() && !c.MAC.IsUnicast():
		return errors.New("mac must be a unicast address")
	case c.LoopPriority < 1 || c.LoopPriority > MaxLoopPriority:
		return errors.New("loop priority must be 1-255")
	case c.Storm < StormOff || c.Storm > MaxStorm:
		return errors.New("storm must be off or 1-100000000 frames per second")
	}
	for _, v := range c.Trunk {
		if v < frames.MinVLAN || v > frames.MaxVLAN {
			return errors.New("trunk VLANs must be 1-4094")
		}
	}
	return nil
}
