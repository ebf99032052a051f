package fabric

import (
	"sync"
	"sync/atomic"
	"time"

	"github.com/l2fabric/l2fabric/fabric/flowq"
	"github.com/l2fabric/l2fabric/fdb"
	"github.com/l2fabric/l2fabric/frames"
	"github.com/l2fabric/l2fabric/frames/offload"
)

// batch is a reader goroutine's working memory, allocated once per port
// and reused for every batch so that forwarding allocates nothing.
type batch struct {
	bufs   [][]byte         // read buffers, or a ViewReader's views
	sizes  []int            // frame lengths from Read
	rhdrs  []offload.Header // headers from ReadGSO, per read buffer
	frames []frames.Frame   // admitted frames, untagged, views into bufs
	hdrs   []offload.Header // header of each admitted frame
	vlans  []uint16         // VLAN of each admitted frame
	out    []egress         // frames per egress port
	segs   [][]byte         // scratch for Segment's output slices
	segLen []int
	slots  []*txSlot // the queue slots segs are in

	// hold is how much longer this batch may wait for room in full
	// queues (see package flowq).
	hold *flowq.Hold
}

// egress lists the frames of a batch bound for one port.
type egress struct {
	port *port
	idx  []int // indexes into batch.frames
}

func newBatch(n, bufLen int, flow FlowControl) *batch {
	b := &batch{
		bufs:   make([][]byte, n),
		sizes:  make([]int, n),
		rhdrs:  make([]offload.Header, n),
		frames: make([]frames.Frame, 0, n),
		hdrs:   make([]offload.Header, 0, n),
		vlans:  make([]uint16, 0, n),
		hold:   flowq.NewHold(flow),
	}
	if bufLen > 0 {
		for i := range b.bufs {
			b.bufs[i] = make([]byte, bufLen)
		}
	}
	return b
}

// to adds frame i of the batch to the frames bound for q.
func (b *batch) to(q *port, i int) {
	for j := range b.out {
		if b.out[j].port == q {
			b.out[j].idx = append(b.out[j].idx, i)
			return
		}
	}
	if len(b.out) < cap(b.out) {
		b.out = b.out[:len(b.out)+1]
	} else {
		b.out = append(b.out, egress{})
	}
	e := &b.out[len(b.out)-1]
	e.port = q
	e.idx = append(e.idx[:0], i)
}

// forward makes the forwarding decision for the n frames read from p into
// b, then hands each egress port its frames in one queue operation.
//
// The rules are those of an IEEE 802.1Q bridge, as the Linux bridge and Open
// vSwitch apply them: admit (size, VLAN, source checks), learn the source,
// then send known unicast to its one port and flood broadcast, multicast
// and unknown unicast to every other port of the VLAN. Frames never cross
// VLANs, never go back out their ingress port, and 01:80:c2:00:00:0X is
// never forwarded.
func (f *Fabric) forward(p *port, b *batch, n int) {
	b.frames, b.hdrs, b.vlans = b.frames[:0], b.hdrs[:0], b.vlans[:0]
	if c := f.captures.set.Load(); c != nil { // capture.go
		c.inbound(p, b.bufs[:n], b.sizes[:n])
	}
	var rxBytes int
	for i := 0; i < n; i++ {
		size := b.sizes[i]
		rxBytes += max(size, 0)
		if size > len(b.bufs[i]) {
			p.c.oversize.Add(1)
			continue
		}
		fr := frames.Frame(b.bufs[i][:max(size, 0)])
		if fr, h, vlan, ok := f.admit(p, fr, b.rhdrs[i]); ok {
			b.frames = append(b.frames, fr)
			b.hdrs = append(b.hdrs, h)
			b.vlans = append(b.vlans, vlan)
		}
	}
	p.c.rxFrames.Add(uint64(n))
	p.c.rxBytes.Add(uint64(rxBytes))

	set := f.ports.Load()
	for i := range b.out {
		b.out[i].port, b.out[i].idx = nil, b.out[i].idx[:0]
	}
	b.out = b.out[:0]
	var forwarded, flooded, filtered, probes, looped, storm uint64
	now := time.Now() // one clock read per batch, not per frame
	blocked := p.block.Load() != nil
	for i, fr := range b.frames {
		vlan := b.vlans[i]
		src, dst := fr.Source(), fr.Destination()
		mcast := dst.IsMulticast()
		if mcast && fr.EtherType() == EtherTypeLoop && f.loop.isProbe(fr) {
			probes++
			f.probeIn(p, fr, now)
			continue
		}
		if blocked {
			looped++
			continue
		}
		if !p.NoLearning {
			switch o, from := f.fdb.LearnAt(now, vlan, src, p); o {
			case fdb.Moved:
				f.logMove(vlan, src, from, p)
				f.macMoved(vlan, src, from, p, now)
				f.publishFDB(EventMoved, vlan, src, p, from)
				f.macsMayHaveChanged()
			case fdb.Learned:
				f.publishFDB(EventLearned, vlan, src, p, nil)
				f.macsMayHaveChanged()
			}
		}
		unknown := false
		if !mcast {
			if q, ok := f.fdb.Lookup(vlan, dst); ok {
				// Entries are learned from, and static entries only
				// installed on, members of their VLAN: q carries vlan.
				if q == p {
					filtered++
				} else {
					b.to(q, i)
					forwarded++
				}
				continue
			}
			unknown = true
		}
		if p.storm != nil && !p.storm.allow(now.UnixNano()) {
			storm++
			continue
		}
		flooded++
		for _, q := range set.vlans[vlan] {
			if q != p && !(unknown && q.NoFlood) {
				b.to(q, i)
			}
		}
	}
	// The batch's drops are counted before its frames go out, so that
	// whoever sees a later frame arrive also sees them.
	if probes > 0 {
		p.c.probes.Add(probes)
	}
	if looped > 0 {
		p.c.loop.Add(looped)
	}
	if storm > 0 {
		p.c.storm.Add(storm)
	}
	b.hold.Start()
	for _, e := range b.out {
		e.port.send(b, e.idx)
	}
	if forwarded > 0 {
		f.counters.forwarded.Add(forwarded)
	}
	if flooded > 0 {
		f.counters.flooded.Add(flooded)
	}
	if filtered > 0 {
		f.counters.filtered.Add(filtered)
	}
}

// minGSOHeaders is the least a super-frame's segments add to GSOSize
// beyond the Ethernet header: IPv4 and UDP headers.
const minGSOHeaders = 20 + 8

// frameLen is the length, untagged, that fr described by h has on the
// wire: its own, or for a super-frame the length of its segments (at
// least), which is what the MTU limits.
func frameLen(fr frames.Frame, h offload.Header) int {
	if h.IsGSO() {
		return frames.HeaderLen + minGSOHeaders + int(h.GSOSize)
	}
	return len(fr)
}

// admit applies the ingress checks to a frame from p and returns it
// untagged with its header and VLAN, or counts why it was dropped.
func (f *Fabric) admit(p *port, fr frames.Frame, h offload.Header) (frames.Frame, offload.Header, uint16, bool) {
	if !fr.Valid() {
		return f.drop(p, &p.c.runt, "runt", fr)
	}
	length := frameLen(fr, h)
	vlan := p.VLAN
	if fr.Tagged() {
		if !p.trunk {
			return f.drop(p, &p.c.taggedOnAccess, "tagged_on_access", fr)
		}
		if length > p.maxLen+frames.TagLen {
			return f.drop(p, &p.c.oversize, "oversize", fr)
		}
		if vid := fr.VLAN(); vid != 0 { // VID 0 is a priority tag: native VLAN
			vlan = vid
		}
		if vlan == 0 || !p.member(vlan) {
			return f.drop(p, &p.c.vlan, "vlan", fr)
		}
		fr = fr.PopTag()
		h = h.Shift(-frames.TagLen)
	} else {
		if length > p.maxLen {
			return f.drop(p, &p.c.oversize, "oversize", fr)
		}
		if vlan == 0 { // untagged on a trunk without a native VLAN
			return f.drop(p, &p.c.vlan, "vlan", fr)
		}
	}
	src := fr.Source()
	switch {
	case !p.MAC.IsZero() && src != p.MAC:
		return f.drop(p, &p.c.spoofed, "spoofed", fr)
	case !src.IsUnicast():
		return f.drop(p, &p.c.badSource, "bad_source", fr)
	case fr.Destination().IsLinkLocal():
		return f.drop(p, &p.c.linkLocal, "link_local", fr)
	}
	return fr, h, vlan, true
}

// drop counts a frame admit refuses, and with trace logging on logs it
// decoded, so that a user can see what a port sends that the fabric drops
// (reason is the counter's name, without drop_). Nothing is decoded or
// logged otherwise.
func (f *Fabric) drop(p *port, c *atomic.Uint64, reason string, fr frames.Frame) (frames.Frame, offload.Header, uint16, bool) {
	c.Add(1)
	if f.log.IsTrace() {
		f.log.Trace("frame dropped", "port", p.Name, "reason", reason, "frame", fr.Describe())
	}
	return nil, offload.Header{}, 0, false
}

// send queues frames idx of b for transmission on q, dropping and counting
// what does not fit its MTU or its queue. When the queue is full it waits
// for room as b.hold allows (see package flowq). Super-frames stay whole
// for a GSOPort and are cut into segments for any other port; partial
// checksums are completed for ports that cannot take them.
func (q *port) send(b *batch, idx []int) {
	switch {
	case q.stopping.Load():
		q.c.detached.Add(uint64(len(idx)))
		return
	case q.down.Load():
		q.c.linkDown.Add(uint64(len(idx)))
		return
	case q.block.Load() != nil:
		q.c.txLoop.Add(uint64(len(idx)))
		return
	}
	var full, tooBig, bad uint64
	q.tx.lock()
	for _, i := range idx {
		fr, h, vlan := b.frames[i], b.hdrs[i], b.vlans[i]
		if frameLen(fr, h) > q.maxLen {
			tooBig++
			continue
		}
		tag := q.egressTagged(vlan)
		if h.IsGSO() && q.gso == nil {
			// Cut into segments, straight into the queue's slots.
			switch r := q.segment(b, fr, h, vlan, tag); {
			case r == segNoRoom:
				full++
			case r == segFailed:
				bad++
			}
			continue
		}
		extra := 0
		if tag {
			extra = frames.TagLen
		}
		s := q.tx.reserve(len(fr) + extra)
		for s == nil && q.tx.waitRoom(b.hold) {
			s = q.tx.reserve(len(fr) + extra)
		}
		if s == nil {
			full++
			continue
		}
		if tag {
			frames.AppendTagged(s.buf[:0], fr, vlan)
			h = h.Shift(frames.TagLen)
		} else {
			copy(s.buf, fr)
		}
		if q.gso == nil && h.Flags&offload.FlagNeedsCsum != 0 {
			if offload.CompleteChecksum(h, s.buf) != nil {
				q.tx.cancel()
				bad++
				continue
			}
			h = offload.Header{}
		}
		s.hdr = h
		q.tx.commit(1)
	}
	q.tx.unlock()
	// Count before waking the writer, so that whoever sees a later frame
	// leave the port also sees the drops that came before it.
	if full > 0 {
		q.c.txQueueFull.Add(full)
	}
	if tooBig > 0 {
		q.c.txOversize.Add(tooBig)
	}
	if bad > 0 {
		q.c.txError.Add(bad)
	}
	q.tx.notify()
}

// Results of segment.
const (
	segOK     = iota
	segNoRoom // the queue stayed too full, or is shorter than the segments
	segFailed // the super-frame cannot be cut: counted as a transmit error
)

// segment cuts the super-frame fr into q's queue, tagging each segment if
// tag, waiting for room as b.hold allows until every segment fits. The
// caller holds q's queue locked.
func (q *port) segment(b *batch, fr frames.Frame, h offload.Header, vlan uint16, tag bool) int {
	need := offload.MaxSegments(h, len(fr))
	switch {
	case need == 0:
		return segFailed
	case need > q.tx.capacity():
		return segNoRoom // never fits: a queue shorter than the super-frame
	}
	segLen := offload.MaxSegmentLen(h, len(fr)) + frames.TagLen
	b.segs, b.segLen, b.slots = b.segs[:0], b.segLen[:0], b.slots[:0]
	for len(b.segs) < need {
		s := q.tx.reserve(segLen)
		if s == nil {
			b.segs, b.segLen, b.slots = b.segs[:0], b.segLen[:0], b.slots[:0]
			if !q.tx.waitRoom(b.hold) { // gives back what was reserved
				return segNoRoom
			}
			continue
		}
		b.segs = append(b.segs, s.buf[:segLen-frames.TagLen])
		b.segLen = append(b.segLen, 0)
		b.slots = append(b.slots, s)
	}
	n, err := offload.Segment(h, fr, b.segs, b.segLen)
	if err != nil {
		q.tx.cancel()
		clear(b.slots)
		return segFailed
	}
	for j := 0; j < n; j++ {
		size := b.segLen[j]
		if tag {
			size = frames.InsertTag(b.segs[j][:size+frames.TagLen], size, frames.EtherTypeVLAN, vlan)
		}
		b.slots[j].buf = b.slots[j].buf[:size]
	}
	q.tx.commit(n)
	clear(b.slots) // hold no pointers into q's queue
	return segOK
}

// logMove logs a MAC moving between ports, at most ten times a second.
func (f *Fabric) logMove(vlan uint16, mac frames.MAC, from, to *port) {
	if ok, suppressed := f.moveLog.allow(); ok {
		f.log.Info("mac moved", "mac", mac, "vlan", vlan, "from", from.Name, "to", to.Name, "suppressed_moves", suppressed)
	}
}

// rateLimiter lets one event through per interval and counts the rest.
type rateLimiter struct {
	mu         sync.Mutex
	every      time.Duration
	last       time.Time
	suppressed int
}

// allow reports whether to log now, and how many events were suppressed
// since the last one logged.
func (r *rateLimiter) allow() (bool, int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	now := time.Now()
	if now.Sub(r.last) < r.every {
		r.suppressed++
		return false, 0
	}
	r.last = now
	n := r.suppressed
	r.suppressed = 0
	return true, n
}
