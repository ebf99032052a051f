package vxlan

import (
	"net/netip"
)

// The transmit side is planned before it is sent: the frames of one Write
// become a list of messages, each for one source socket and one remote
// VTEP, each a run of datagrams (VXLAN header, inner frame) that the
// kernel sends as one when it can segment (UDP GSO): every datagram of a
// message as long as the first, but the last, which may be shorter. This
// file is the planning, free of system calls; conn_*.go sends a plan.

// Limits of one plan. A Write whose frames need more is sent in several.
const (
	// maxPlanEntries bounds the datagrams of a plan (a flooded frame is
	// one datagram per remote).
	maxPlanEntries = 1024
	// maxPlanMsgs bounds the messages of a plan.
	maxPlanMsgs = 512
	// maxSegments is the most datagrams the kernel sends from one
	// UDP_SEGMENT buffer (UDP_MAX_SEGMENTS).
	maxSegments = 64
	// maxGSOPayload bounds the bytes of one UDP_SEGMENT buffer: an IP
	// datagram's 64 KiB less the IPv4 and UDP headers (IPv6's payload
	// length excludes its own header, but the smaller bound serves both).
	maxGSOPayload = 1<<16 - 1 - 20 - 8
)

// planEntry is one datagram: a VXLAN header and the inner frame after it.
type planEntry struct {
	hdr   *[HeaderLen]byte
	frame []byte
}

// txMsg is one message of a plan: datagrams ents[first:first+count], all
// from pool socket sock to one VTEP.
type txMsg struct {
	sock   int
	to     *vtep
	first  int
	count  int
	seg    int  // length of the first datagram: the GSO segment size
	bytes  int  // total payload
	closed bool // a shorter datagram ended it: nothing more can join
}

// txPlan is the datagrams of one Write, in messages. It is reused: reset
// empties it without freeing anything.
type txPlan struct {
	ents   []planEntry
	msgs   []txMsg
	sorted []txMsg // msgs grouped by socket (see bySocket)
	gso    bool    // coalesce runs into UDP_SEGMENT messages
}

func newPlan(gso bool) *txPlan {
	return &txPlan{ents: make([]planEntry, 0, maxPlanEntries), msgs: make([]txMsg, 0, maxPlanMsgs),
		sorted: make([]txMsg, 0, maxPlanMsgs), gso: gso}
}

// bySocket returns the messages grouped by socket (sockets 0 to n-1),
// each socket's in their original order, so that each socket's take one
// system call. Flows keep their socket, so each flow keeps its order.
func (p *txPlan) bySocket(n int) []txMsg {
	same := true
	for _, m := range p.msgs {
		same = same && m.sock == p.msgs[0].sock
	}
	if same {
		return p.msgs
	}
	p.sorted = p.sorted[:0]
	for s := 0; s < n; s++ {
		for _, m := range p.msgs {
			if m.sock == s {
				p.sorted = append(p.sorted, m)
			}
		}
	}
	return p.sorted
}

func (p *txPlan) reset() {
	clear(p.ents) // drop references to the fabric's buffers
	p.ents, p.msgs = p.ents[:0], p.msgs[:0]
}

// full reports whether the plan may not have room for k more datagrams.
func (p *txPlan) full(k int) bool {
	return len(p.ents)+k > cap(p.ents) || len(p.msgs)+k > cap(p.msgs)
}

// add appends the datagram (hdr, frame) from socket sock to v, joining
// the last message when the kernel can send them as one: same socket and
// VTEP, no longer than that message's first datagram, and within the
// kernel's limits. The caller checks full first.
func (p *txPlan) add(sock int, v *vtep, hdr *[HeaderLen]byte, frame []byte) {
	size := HeaderLen + len(frame)
	p.ents = append(p.ents, planEntry{hdr: hdr, frame: frame})
	if p.gso && len(p.msgs) > 0 {
		m := &p.msgs[len(p.msgs)-1]
		if m.sock == sock && m.to == v && !m.closed && size <= m.seg &&
			m.count < maxSegments && m.bytes+size <= maxGSOPayload {
			m.count++
			m.bytes += size
			m.closed = size < m.seg
			return
		}
	}
	p.msgs = append(p.msgs, txMsg{sock: sock, to: v, first: len(p.ents) - 1, count: 1, seg: size, bytes: size})
}

// rxBatch is the portable part of a socket reader's scratch: the buffers
// and what the platform's recv found in them.
type rxBatch struct {
	bufs  [][]byte
	sizes []int        // datagram length; len(bufs[i])+1 when truncated
	from  []netip.Addr // outer source address
	seg   []int        // GRO segment size; 0 for a single datagram
}

func newRxBatch(n, bufLen int) rxBatch {
	b := rxBatch{bufs: make([][]byte, n), sizes: make([]int, n), from: make([]netip.Addr, n), seg: make([]int, n)}
	for i := range b.bufs {
		b.bufs[i] = make([]byte, bufLen)
	}
	return b
}
