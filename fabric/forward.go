package fabric

import (
	"time"

	"github.com/l2fabric/l2fabric/fdb"
	"github.com/l2fabric/l2fabric/frames"
)

// batch is a reader goroutine's working memory, allocated once per port
// and reused for every batch so that forwarding allocates nothing.
type batch struct {
	bufs   [][]byte       // read buffers
	sizes  []int          // frame lengths from Read
	frames []frames.Frame // admitted frames, untagged, views into bufs
	vlans  []uint16       // VLAN of each admitted frame
	out    []egress       // frames per egress port
}

// egress lists the frames of a batch bound for one port.
type egress struct {
	port *port
	idx  []int // indexes into batch.frames
}

func newBatch(n, bufLen int) *batch {
	b := &batch{
		bufs:   make([][]byte, n),
		sizes:  make([]int, n),
		frames: make([]frames.Frame, 0, n),
		vlans:  make([]uint16, 0, n),
	}
	for i := range b.bufs {
		b.bufs[i] = make([]byte, bufLen)
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
	b.frames, b.vlans = b.frames[:0], b.vlans[:0]
	var rxBytes int
	for i := 0; i < n; i++ {
		size := b.sizes[i]
		rxBytes += max(size, 0)
		if size > len(b.bufs[i]) {
			p.c.oversize.Add(1)
			continue
		}
		fr := frames.Frame(b.bufs[i][:max(size, 0)])
		if fr, vlan, ok := f.admit(p, fr); ok {
			b.frames = append(b.frames, fr)
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
	var forwarded, flooded, filtered uint64
	now := time.Now() // one clock read per batch, not per frame
	for i, fr := range b.frames {
		vlan := b.vlans[i]
		src, dst := fr.Source(), fr.Destination()
		if !p.NoLearning {
			if o, from := f.fdb.LearnAt(now, vlan, src, p); o == fdb.Moved {
				f.logMove(vlan, src, from, p)
			}
		}
		unknown := false
		if !dst.IsMulticast() {
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
		flooded++
		for _, q := range set.vlans[vlan] {
			if q != p && !(unknown && q.NoFlood) {
				b.to(q, i)
			}
		}
	}
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

// admit applies the ingress checks to a frame from p and returns it
// untagged with its VLAN, or counts why it was dropped.
func (f *Fabric) admit(p *port, fr frames.Frame) (frames.Frame, uint16, bool) {
	if !fr.Valid() {
		p.c.runt.Add(1)
		return nil, 0, false
	}
	vlan := p.VLAN
	if fr.Tagged() {
		if !p.trunk {
			p.c.taggedOnAccess.Add(1)
			return nil, 0, false
		}
		if len(fr) > p.maxLen+frames.TagLen {
			p.c.oversize.Add(1)
			return nil, 0, false
		}
		if vid := fr.VLAN(); vid != 0 { // VID 0 is a priority tag: native VLAN
			vlan = vid
		}
		if vlan == 0 || !p.member(vlan) {
			p.c.vlan.Add(1)
			return nil, 0, false
		}
		fr = fr.PopTag()
	} else {
		if len(fr) > p.maxLen {
			p.c.oversize.Add(1)
			return nil, 0, false
		}
		if vlan == 0 {
			p.c.vlan.Add(1) // untagged on a trunk without a native VLAN
			return nil, 0, false
		}
	}
	src := fr.Source()
	switch {
	case !p.MAC.IsZero() && src != p.MAC:
		p.c.spoofed.Add(1)
		return nil, 0, false
	case !src.IsUnicast():
		p.c.badSource.Add(1)
		return nil, 0, false
	case fr.Destination().IsLinkLocal():
		p.c.linkLocal.Add(1)
		return nil, 0, false
	}
	return fr, vlan, true
}

// send queues frames idx of b for transmission on q, dropping and counting
// what does not fit its MTU or its queue.
func (q *port) send(b *batch, idx []int) {
	if q.stopping.Load() {
		return
	}
	if q.down.Load() {
		q.c.linkDown.Add(uint64(len(idx)))
		return
	}
	// Frames too large for q are rare (ports with different MTUs): filter
	// them out of idx in place.
	keep := idx[:0]
	for _, i := range idx {
		if len(b.frames[i]) > q.maxLen {
			q.c.txOversize.Add(1)
			continue
		}
		keep = append(keep, i)
	}
	queued, _ := q.tx.push(b.frames, b.vlans, keep, q.egressTagged)
	if dropped := len(keep) - queued; dropped > 0 {
		q.c.txQueueFull.Add(uint64(dropped))
	}
}

// logMove logs a MAC moving between ports, at most ten times a second.
func (f *Fabric) logMove(vlan uint16, mac frames.MAC, from, to *port) {
	if ok, suppressed := f.moveLog.allow(); ok {
		f.log.Info("mac moved", "mac", mac, "vlan", vlan, "from", from.Name, "to", to.Name, "suppressed_moves", suppressed)
	}
}
