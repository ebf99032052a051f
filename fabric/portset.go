package fabric

import (
	"sort"
	"sync/atomic"
	"time"
)

// port is an attached Port with the fabric's state for it.
type port struct {
	PortConfig
	dev      Port
	attached time.Time
	maxLen   int     // largest untagged frame admitted: MTU + header
	tagged   VLANSet // VLANs carried tagged (trunk)
	trunk    bool
	tx       *txQueue
	gso      GSOPort    // dev, when it carries super-frames
	views    ViewReader // dev, when it hands over views of its own buffer
	c        portCounters
	id       uint32       // index in loop probes, unique in the fabric's life
	storm    *tokenBucket // storm control; nil when off. Reader only.

	// Loop protection (see loop.go).
	block     atomic.Pointer[blockState] // nil while not blocked
	loopSeen  atomic.Int64               // unix ns of the last sign of the loop it is blocked for
	lastProbe atomic.Int64               // unix ns of the last returned probe handled
	// holdDown and unblockedAt are guarded by the fabric's loop.mu.
	holdDown    time.Duration
	unblockedAt time.Time

	down       atomic.Bool // link down (see Linker)
	downReason atomic.Value
	stopping   atomic.Bool
	quit       chan struct{} // closed to stop the writer
	readerDone chan struct{}
	writerDone chan struct{}
	gone       chan struct{} // closed when detach has completed
}

// state is the port's state for dumps: "up", "blocked (loop with PORT)",
// or "down (reason)".
func (p *port) state() string {
	if s, ok := p.blockedState(); ok {
		return s
	}
	if !p.down.Load() {
		return "up"
	}
	if r, _ := p.downReason.Load().(string); r != "" {
		return "down (" + r + ")"
	}
	return "down"
}

// member reports whether the port carries vlan.
func (p *port) member(vlan uint16) bool { return p.VLAN == vlan || p.tagged.Has(vlan) }

// egressTagged reports whether frames of vlan leave the port tagged.
func (p *port) egressTagged(vlan uint16) bool { return vlan != p.VLAN }

// portSet is an immutable snapshot of the attached ports, replaced on every
// attach and detach, so the forwarding path reads it without locks.
type portSet struct {
	byName map[string]*port
	list   []*port            // sorted by name
	vlans  map[uint16][]*port // members of each VLAN, for flooding
}

func newPortSet(list []*port) *portSet {
	s := &portSet{byName: map[string]*port{}, vlans: map[uint16][]*port{}, list: list}
	sort.Slice(list, func(i, j int) bool { return list[i].Name < list[j].Name })
	for _, p := range list {
		s.byName[p.Name] = p
		if p.VLAN != 0 {
			s.vlans[p.VLAN] = append(s.vlans[p.VLAN], p)
		}
		for _, v := range p.Trunk {
			if v != p.VLAN {
				s.vlans[v] = append(s.vlans[v], p)
			}
		}
	}
	return s
}
