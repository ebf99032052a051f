package fabric

import "sync/atomic"

// Counters are a port's traffic and drop counters, as totals since the port
// was attached. Drop reasons are counted on the port where the frame was
// dropped: receive-side reasons on the ingress port, transmit-side reasons
// (TxQueueFull, TxError, TxOversize) on the egress port.
type Counters struct {
	RxFrames uint64 `json:"rx_frames"`
	RxBytes  uint64 `json:"rx_bytes"`
	TxFrames uint64 `json:"tx_frames"`
	TxBytes  uint64 `json:"tx_bytes"`
	// TxWaits counts the times a port sending to this one waited for room
	// in its full transmit queue (flow control: this port was busy, not
	// stuck). Not a drop.
	TxWaits uint64 `json:"tx_waits"`

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
	// RxBackend counts frames the backend dropped before the fabric read
	// them (see RxDropper).
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

	// NAT holds the counters of a translating port (see NATPort).
	NAT *NATCounters `json:"macnat,omitempty"`
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
		{"link_local", c.LinkLocal}, {"rx_backend", c.RxBackend}, {"link_down", c.LinkDown},
		{"tx_queue_full", c.TxQueueFull}, {"tx_error", c.TxError}, {"tx_oversize", c.TxOversize},
	}
}

// Drops returns the sum of all drop counters.
func (c Counters) Drops() uint64 {
	return c.Runt + c.Oversize + c.TaggedOnAccess + c.VLAN + c.Spoofed + c.BadSource +
		c.LinkLocal + c.RxBackend + c.LinkDown + c.TxQueueFull + c.TxError + c.TxOversize
}

// portCounters is the live, atomically updated form of Counters, but for
// TxWaits, which the port's transmit queue counts.
type portCounters struct {
	rxFrames, rxBytes, txFrames, txBytes    atomic.Uint64
	runt, oversize, taggedOnAccess, vlan    atomic.Uint64
	spoofed, badSource, linkLocal, linkDown atomic.Uint64
	txQueueFull, txError, txOversize        atomic.Uint64
}

func (c *portCounters) snapshot() Counters {
	return Counters{
		RxFrames: c.rxFrames.Load(), RxBytes: c.rxBytes.Load(),
		TxFrames: c.txFrames.Load(), TxBytes: c.txBytes.Load(),
		Runt: c.runt.Load(), Oversize: c.oversize.Load(),
		TaggedOnAccess: c.taggedOnAccess.Load(), VLAN: c.vlan.Load(),
		Spoofed: c.spoofed.Load(), BadSource: c.badSource.Load(), LinkLocal: c.linkLocal.Load(), LinkDown: c.linkDown.Load(),
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
