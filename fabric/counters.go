package fabric

import "sync/atomic"

// Counters are a port's traffic and drop counters, as totals since the port
// was attached. Drop reasons are counted on the port where the frame was
// dropped: receive-side reasons on the ingress port, transmit-side reasons
// (TxQueueFull, TxError, TxOversize, LinkDown, TxLoop, Detached) on the
// egress port.
//
// The books of the receive side balance: every frame a port reads is
// forwarded to one port, flooded, filtered, consumed as a loop probe or
// dropped for one of the receive-side reasons (see RxDrops), so that summed
// over all ports, attached and detached (Stats.Totals),
//
//	RxFrames = Forwarded + Flooded + Filtered + Probes + RxDrops()
//
// The transmit side is counted per copy: a flooded frame is one copy per
// egress port, each sent (TxFrames) or dropped for a transmit-side reason
// (TxDrops) on that port.
type Counters struct {
	RxFrames uint64 `json:"rx_frames"`
	RxBytes  uint64 `json:"rx_bytes"`
	TxFrames uint64 `json:"tx_frames"`
	TxBytes  uint64 `json:"tx_bytes"`
	// TxWaits counts the times a port sending to this one waited for room
	// in its full transmit queue (flow control: this port was busy, not
	// stuck). Not a drop.
	TxWaits uint64 `json:"tx_waits"`
	// Probes counts loop-detection probes read on this port (see
	// loop.go): consumed by the fabric, never forwarded. Not a drop.
	Probes uint64 `json:"probes_rx"`
	// ProbesTx counts loop-detection probes queued on this port; they are
	// in TxFrames once sent.
	ProbesTx uint64 `json:"probes_tx"`

	// Runt counts frames shorter than the 14-byte Ethernet header.
	Runt uint64 `json:"drop_runt"`
	// Oversize counts frames longer than the port's MTU plus header.
	Oversize uint64 `json:"drop_oversize"`
	// TaggedOnAccess counts 802.1Q-tagged frames arriving on an access
	// port.
	TaggedOnAccess uint64 `json:"drop_tagged_on_access"`
	// VLAN counts frames of a VLAN the port is not a member of, and
	// untagged frames on a trunk with no native VLAN.
	VLAN uint64 `json:"drop_vlan"`
	// Spoofed counts frames whose source is not the port's mac=.
	Spoofed uint64 `json:"drop_spoofed"`
	// BadSource counts frames whose source is multicast, broadcast or
	// zero, which no station may send.
	BadSource uint64 `json:"drop_bad_source"`
	// LinkLocal counts frames to 01:80:c2:00:00:00-0f, which a bridge
	// never forwards.
	LinkLocal uint64 `json:"drop_link_local"`
	// Loop counts frames read from this port while it was blocked because
	// it is looped with another (see loop.go).
	Loop uint64 `json:"drop_loop"`
	// Storm counts broadcast, multicast and unknown-unicast frames from
	// this port beyond its storm= rate.
	Storm uint64 `json:"drop_storm"`
	// RxBackend counts frames the backend dropped before the fabric read
	// them (see RxDropper). They are not in RxFrames.
	RxBackend uint64 `json:"drop_rx_backend"`

	// LinkDown counts frames for this port dropped while its link was
	// down (see Linker).
	LinkDown uint64 `json:"drop_link_down"`
	// TxQueueFull counts frames for this port dropped because its
	// transmit queue was full or its peer was not accepting frames.
	TxQueueFull uint64 `json:"drop_tx_queue_full"`
	// TxError counts frames the backend failed to send.
	TxError uint64 `json:"drop_tx_error"`
	// TxOversize counts frames too large for this port's MTU.
	TxOversize uint64 `json:"drop_tx_oversize"`
	// TxLoop counts frames for this port dropped while it was blocked
	// because it is looped with another.
	TxLoop uint64 `json:"drop_tx_loop"`
	// Detached counts frames for this port dropped because it was being
	// detached: sent to it as it went, or still in its transmit queue.
	Detached uint64 `json:"drop_detached"`

	// NAT holds the counters of a translating port (see NATPort).
	NAT *NATCounters `json:"macnat,omitempty"`
}

// RxDrops returns the sum of the receive-side drop counters of frames the
// fabric read (RxBackend excluded: those frames were never read).
func (c Counters) RxDrops() uint64 {
	return c.Runt + c.Oversize + c.TaggedOnAccess + c.VLAN + c.Spoofed + c.BadSource +
		c.LinkLocal + c.Loop + c.Storm
}

// TxDrops returns the sum of the transmit-side drop counters.
func (c Counters) TxDrops() uint64 {
	return c.LinkDown + c.TxQueueFull + c.TxError + c.TxOversize + c.TxLoop + c.Detached
}

// DropCount is one drop counter, named by its reason as in the JSON key
// without "drop_": "runt", "tx_queue_full".
type DropCount struct {
	Reason string
	Count  uint64
}

// DropCounts returns every drop counter with its reason, in the order of
// the fields of Counters.
func (c Counters) DropCounts() []DropCount {
	return []DropCount{
		{"runt", c.Runt}, {"oversize", c.Oversize}, {"tagged_on_access", c.TaggedOnAccess},
		{"vlan", c.VLAN}, {"spoofed", c.Spoofed}, {"bad_source", c.BadSource},
		{"link_local", c.LinkLocal}, {"loop", c.Loop}, {"storm", c.Storm},
		{"rx_backend", c.RxBackend}, {"link_down", c.LinkDown},
		{"tx_queue_full", c.TxQueueFull}, {"tx_error", c.TxError}, {"tx_oversize", c.TxOversize},
		{"tx_loop", c.TxLoop}, {"detached", c.Detached},
	}
}

// Drops returns the sum of all drop counters.
func (c Counters) Drops() uint64 { return c.RxDrops() + c.RxBackend + c.TxDrops() }

// add adds o to c, field by field (NAT, a translating port's own, is not
// summed).
func (c *Counters) add(o Counters) {
	c.RxFrames += o.RxFrames
	c.RxBytes += o.RxBytes
	c.TxFrames += o.TxFrames
	c.TxBytes += o.TxBytes
	c.TxWaits += o.TxWaits
	c.Probes += o.Probes
	c.ProbesTx += o.ProbesTx
	c.Runt += o.Runt
	c.Oversize += o.Oversize
	c.TaggedOnAccess += o.TaggedOnAccess
	c.VLAN += o.VLAN
	c.Spoofed += o.Spoofed
	c.BadSource += o.BadSource
	c.LinkLocal += o.LinkLocal
	c.Loop += o.Loop
	c.Storm += o.Storm
	c.RxBackend += o.RxBackend
	c.LinkDown += o.LinkDown
	c.TxQueueFull += o.TxQueueFull
	c.TxError += o.TxError
	c.TxOversize += o.TxOversize
	c.TxLoop += o.TxLoop
	c.Detached += o.Detached
}

// portCounters is the live, atomically updated form of Counters, but for
// TxWaits, which the port's transmit queue counts, and RxBackend, which
// the backend counts.
type portCounters struct {
	rxFrames, rxBytes, txFrames, txBytes    atomic.Uint64
	probes, probesTx                        atomic.Uint64
	runt, oversize, taggedOnAccess, vlan    atomic.Uint64
	spoofed, badSource, linkLocal, linkDown atomic.Uint64
	loop, storm, txLoop, detached           atomic.Uint64
	txQueueFull, txError, txOversize        atomic.Uint64
}

func (c *portCounters) snapshot() Counters {
	return Counters{
		RxFrames: c.rxFrames.Load(), RxBytes: c.rxBytes.Load(),
		TxFrames: c.txFrames.Load(), TxBytes: c.txBytes.Load(),
		Probes: c.probes.Load(), ProbesTx: c.probesTx.Load(),
		Runt: c.runt.Load(), Oversize: c.oversize.Load(),
		TaggedOnAccess: c.taggedOnAccess.Load(), VLAN: c.vlan.Load(),
		Spoofed: c.spoofed.Load(), BadSource: c.badSource.Load(), LinkLocal: c.linkLocal.Load(), LinkDown: c.linkDown.Load(),
		Loop: c.loop.Load(), Storm: c.storm.Load(), TxLoop: c.txLoop.Load(), Detached: c.detached.Load(),
		TxQueueFull: c.txQueueFull.Load(), TxError: c.txError.Load(), TxOversize: c.txOversize.Load(),
	}
}

// FabricCounters are the fabric-wide forwarding counters.
type FabricCounters struct {
	// Forwarded counts frames sent to the one port their destination was
	// learned on.
	Forwarded uint64 `json:"forwarded"`
	// Flooded counts broadcast, multicast and unknown unicast frames sent
	// to every other port of their VLAN.
	Flooded uint64 `json:"flooded"`
	// Filtered counts frames whose destination lives on the port they
	// came from, which a switch does not send back.
	Filtered uint64 `json:"filtered"`
}

type fabricCounters struct {
	forwarded, flooded, filtered atomic.Uint64
}
