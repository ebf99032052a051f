package fabric

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/l2fabric/l2fabric/fdb"
	"github.com/l2fabric/l2fabric/frames"
)

// Loop protection. Two ports that reach the same LAN (a host NIC and the
// host's bridge it is a member of; two host ports on one switch; two
// fabrics joined twice) make every broadcast circulate for ever. The
// fabric detects such a loop by two signals and blocks one of the ports:
//
//   - Probes: every ProbeInterval the fabric sends a probe on each port
//     that can reach a LAN (PortConfig.LoopProbes, set by the host, feth
//     and tap backends and by dgram ports in connect= or peer= mode; never
//     a VM's NIC). A probe is a broadcast of EtherType 0x9000, the
//     Ethernet Configuration Testing Protocol ("Loopback", the frame
//     Cisco's keepalive loop detection sends), as a reply message, which
//     stations pass up and ignore and bridges forward like any broadcast.
//     Its payload carries a random nonce drawn when the fabric starts and
//     the sending port's index. A probe with this fabric's nonce read on
//     any port means that port and the sender are looped (the same port:
//     the LAN behind it loops back). Probes are consumed, never forwarded,
//     and counted as probes_rx and probes_tx; another fabric's probes are
//     ordinary frames, forwarded, so that it can find loops through this
//     one.
//   - MAC flapping: the same source MAC moving between the same two ports
//     flapMoves times within flapWindow, as Cisco's and Juniper's "MAC
//     move limit" do. This catches loops through ports without probes.
//     Only the learning table's Moved outcome, never the known-unicast
//     path, pays for it.
//
// Which port is blocked: of two looped ports, the one with the lower
// loop= priority (default 128); of equal priorities, a port with probes
// rather than one without (a VM's NIC is a leaf: the second path to the
// LAN is the port that reaches it), then the one attached last; never a
// port with loop=off (two such ports are left looped, with
// a warning). A blocked port shows as "blocked (loop with PEER)", neither
// forwards nor learns (its learned entries are flushed), and what it reads
// and what would be sent to it is dropped and counted as drop_loop and
// drop_tx_loop; probes still go out of it and are still read from it, so
// the fabric sees when the loop is gone. It is unblocked once no evidence
// of the loop (a returning probe) has been seen for the hold-down time
// (loopHoldDown, doubled for a port blocked again soon after it was
// unblocked, up to maxLoopHoldDown), or at once with Unblock (l2fabric
// port unblock NAME). A probe goes out every 500 ms, so a loop through
// probed ports is broken within about half a second; a loop between ports
// without probes within a second of the storm starting.
//
// Config.NoLoopDetect turns all of it off.

// EtherTypeLoop is the EtherType of loop probes: 0x9000, the Ethernet
// Configuration Testing Protocol (Loopback).
const EtherTypeLoop = 0x9000

// ProbeInterval is how often a probe goes out on each port with probes.
const ProbeInterval = 500 * time.Millisecond

const (
	// loopHoldDown is how long after the last sign of a loop a blocked
	// port stays blocked.
	loopHoldDown = 5 * time.Second
	// maxLoopHoldDown caps the hold-down of a port blocked again and
	// again.
	maxLoopHoldDown = time.Minute
	// flapWindow and flapMoves: the same MAC moving between the same two
	// ports flapMoves times within flapWindow is a loop.
	flapWindow = time.Second
	flapMoves  = 10
	// maxFlapKeys bounds the flap table; a flood of random source MACs
	// clears it rather than growing it.
	maxFlapKeys = 4096
	// probeEvery rate-limits the handling of returned probes per port:
	// in a storm outside the fabric a probe may come back many times.
	probeEvery = 50 * time.Millisecond
)

// Probe layout: the Ethernet header, then the ECTP header (skip count 0,
// function 1 = reply, receipt number 0, all little-endian as ECTP has
// them), then this fabric's nonce and the sending port's index.
const (
	probeFunc  = frames.HeaderLen + 2
	probeNonce = frames.HeaderLen + 6
	probeIndex = probeNonce + 8
	probeLen   = 60 // the minimum Ethernet frame, FCS excluded
)

// loopGuard is the fabric's loop-protection state.
type loopGuard struct {
	off      bool
	holdDown time.Duration
	nonce    [8]byte
	mac      frames.MAC // probes' source: locally administered, from the nonce
	nextID   atomic.Uint32

	mu     sync.Mutex // serialises blocking decisions and the flap table
	window time.Time
	flaps  map[flapKey]int
	warned map[[2]uint32]bool // pairs of loop=off ports already warned about
}

// flapKey is a MAC in a VLAN moving between two ports (by index, lower
// first).
type flapKey struct {
	a, b uint32
	vlan uint16
	mac  frames.MAC
}

// blockState says why a port is blocked.
type blockState struct {
	peer  string // the port it is looped with (itself for a LAN that loops back)
	since time.Time
}

// init sets up a guard, drawing its nonce.
func (g *loopGuard) init(off bool) {
	g.off, g.holdDown = off, loopHoldDown
	g.flaps, g.warned = map[flapKey]int{}, map[[2]uint32]bool{}
	rand.Read(g.nonce[:])
	g.mac = frames.MAC{0x02 | g.nonce[0]&0xfc, g.nonce[1], g.nonce[2], g.nonce[3], g.nonce[4], g.nonce[5]}
}

// isProbe reports whether fr (untagged) is one of this fabric's probes.
// The nonce identifies it, not the source address, which a translating
// port (MAC-NAT) rewrites on the way out.
func (g *loopGuard) isProbe(fr frames.Frame) bool {
	return len(fr) >= probeIndex+4 && fr.EtherType() == EtherTypeLoop &&
		[8]byte(fr[probeNonce:probeIndex]) == g.nonce
}

// writeProbe writes the probe of the port with index id into b, which is
// probeLen bytes long.
func (g *loopGuard) writeProbe(b []byte, id uint32) {
	clear(b)
	fr := frames.Frame(b)
	fr.SetDestination(frames.MAC{0xff, 0xff, 0xff, 0xff, 0xff, 0xff})
	fr.SetSource(g.mac)
	binary.BigEndian.PutUint16(b[12:], EtherTypeLoop)
	binary.LittleEndian.PutUint16(b[probeFunc:], 1) // reply
	copy(b[probeNonce:], g.nonce[:])
	binary.BigEndian.PutUint32(b[probeIndex:], id)
}

// probing reports whether probes go out on p.
func (p *port) probing() bool { return p.LoopProbes && !p.NoLoopDetect }

// blockedState is the port's state for dumps when it is blocked.
func (p *port) blockedState() (string, bool) {
	b := p.block.Load()
	if b == nil {
		return "", false
	}
	return "blocked (loop with " + b.peer + ")", true
}

// loopRun sends probes and unblocks ports whose loop is gone, until ctx
// ends.
func (f *Fabric) loopRun(ctx context.Context) {
	tick := time.NewTicker(ProbeInterval)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-tick.C:
			for _, p := range f.ports.Load().list {
				if p.block.Load() != nil {
					f.maybeUnblock(p, now)
				}
				if p.probing() && !p.down.Load() && !p.stopping.Load() {
					f.sendProbe(p)
				}
			}
		}
	}
}

// sendProbe queues one probe on p, untagged in its native VLAN, or tagged
// in the first VLAN of a trunk without one. A full queue skips the probe.
func (f *Fabric) sendProbe(p *port) {
	vlan := p.VLAN
	if vlan == 0 && len(p.Trunk) > 0 {
		vlan = p.Trunk[0]
	}
	tag := p.egressTagged(vlan)
	n := probeLen
	if tag {
		n += frames.TagLen
	}
	p.tx.lock()
	s := p.tx.reserve(n)
	if s != nil {
		if tag {
			var probe [probeLen]byte
			f.loop.writeProbe(probe[:], p.id)
			frames.AppendTagged(s.buf[:0], probe[:], vlan)
		} else {
			f.loop.writeProbe(s.buf, p.id)
		}
		p.tx.commit(1)
	}
	p.tx.unlock()
	if s != nil {
		p.tx.notify()
		p.c.probesTx.Add(1)
	}
}

// probeIn handles one of this fabric's probes read on p: the port that
// sent it and p are looped.
func (f *Fabric) probeIn(p *port, fr frames.Frame, now time.Time) {
	t := now.UnixNano()
	if t-p.lastProbe.Load() < int64(probeEvery) {
		return
	}
	p.lastProbe.Store(t)
	id := binary.BigEndian.Uint32(fr[probeIndex:])
	for _, s := range f.ports.Load().list {
		if s.id == id {
			f.looped(s, p, now, "probe")
			return
		}
	}
}

// macMoved is called when the learning table moved mac from one port to
// another: the same MAC moving between the same two ports flapMoves times
// within flapWindow means they are looped.
func (f *Fabric) macMoved(vlan uint16, mac frames.MAC, from, to *port, now time.Time) {
	g := &f.loop
	if g.off {
		return
	}
	k := flapKey{a: from.id, b: to.id, vlan: vlan, mac: mac}
	if k.a > k.b {
		k.a, k.b = k.b, k.a
	}
	g.mu.Lock()
	if now.Sub(g.window) > flapWindow || len(g.flaps) >= maxFlapKeys {
		clear(g.flaps)
		g.window = now
	}
	g.flaps[k]++
	n := g.flaps[k]
	g.mu.Unlock()
	if n >= flapMoves {
		f.looped(from, to, now, fmt.Sprintf("mac %s flapping between them in vlan %d", mac, vlan))
	}
}

// looped acts on evidence that a and b (perhaps the same port) reach the
// same LAN: it blocks one of them by the rule above, or, when one is
// blocked already, notes that its loop is still there.
func (f *Fabric) looped(a, b *port, now time.Time, how string) {
	g := &f.loop
	if g.off {
		return
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	if a.stopping.Load() || b.stopping.Load() {
		return
	}
	ab, bb := a.block.Load() != nil, b.block.Load() != nil
	if ab || bb {
		if ab {
			a.loopSeen.Store(now.UnixNano())
		}
		if bb {
			b.loopSeen.Store(now.UnixNano())
		}
		return
	}
	victim, other := loopVictim(a, b)
	if victim == nil {
		k := [2]uint32{min(a.id, b.id), max(a.id, b.id)}
		if !g.warned[k] {
			g.warned[k] = true
			f.log.Warn("ports are looped but loop protection is off on both: every broadcast circulates", "ports", a.Name+","+b.Name, "detected_by", how)
		}
		return
	}
	f.setBlocked(victim, other, true, how, now)
}

// loopVictim picks which of two looped ports to block, by the documented
// rule: not a loop=off port, the lower loop= priority, a port with probes,
// the one attached last. It returns nil when both are loop=off.
func loopVictim(a, b *port) (victim, other *port) {
	switch {
	case a.NoLoopDetect && b.NoLoopDetect:
		return nil, nil
	case a.NoLoopDetect:
		return b, a
	case b.NoLoopDetect:
		return a, b
	case a.LoopPriority != b.LoopPriority:
		if a.LoopPriority < b.LoopPriority {
			return a, b
		}
		return b, a
	case a.probing() != b.probing():
		// A port without probes is a VM's NIC, a leaf: the second path
		// to the LAN is the port that reaches it.
		if a.probing() {
			return a, b
		}
		return b, a
	case a.id > b.id: // indexes grow with every attach
		return a, b
	}
	return b, a
}

// setBlocked blocks p, looped with peer, or unblocks it. It is the one
// place a port's loop state changes, and publishes EventPortBlocked (Count
// is the entries flushed) or EventPortUnblocked, their Reason naming the
// peer. how says what detected the loop, or why
// it is unblocked. The caller holds f.loop.mu.
func (f *Fabric) setBlocked(p, peer *port, on bool, how string, now time.Time) {
	if !on {
		b := p.block.Swap(nil)
		if b == nil {
			return
		}
		p.unblockedAt = now
		f.log.Warn("port unblocked", "port", p.Name, "loop_with", b.peer, "reason", how, "blocked_for", now.Sub(b.since).Round(time.Millisecond))
		f.publish(Event{Type: EventPortUnblocked, Port: p.Name, Reason: "loop with " + b.peer + " gone: " + how})
		return
	}
	// A port blocked again soon after it was unblocked waits longer.
	if !p.unblockedAt.IsZero() && now.Sub(p.unblockedAt) < 2*p.holdDown {
		p.holdDown = min(2*p.holdDown, maxLoopHoldDown)
	} else {
		p.holdDown = f.loop.holdDown
	}
	p.loopSeen.Store(now.UnixNano())
	p.block.Store(&blockState{peer: peer.Name, since: now})
	n := f.fdb.Flush(func(e fdb.Entry[*port]) bool { return e.Port == p })
	f.macsMayHaveChanged()
	fix := fmt.Sprintf("ports %s and %s reach the same LAN: remove one, or give the one to keep open a higher loop= priority (e.g. loop=200); loop=off on a port turns its protection off", p.Name, peer.Name)
	if p == peer {
		fix = fmt.Sprintf("port %s receives its own probes: the LAN behind it loops back to it; remove the loop there, or set loop=off on the port", p.Name)
	}
	f.log.Error("loop detected: port blocked", "port", p.Name, "loop_with", peer.Name, "detected_by", how,
		"hold_down", p.holdDown, "fdb_entries_flushed", n, "fix", fix)
	f.publish(Event{Type: EventPortBlocked, Port: p.Name, Reason: "loop with " + peer.Name + ", detected by " + how, Count: n})
}

// maybeUnblock unblocks p once nothing has shown its loop for its
// hold-down time.
func (f *Fabric) maybeUnblock(p *port, now time.Time) {
	f.loop.mu.Lock()
	defer f.loop.mu.Unlock()
	if quiet := now.Sub(time.Unix(0, p.loopSeen.Load())); quiet >= p.holdDown {
		f.setBlocked(p, nil, false, fmt.Sprintf("no sign of the loop for %v", quiet.Round(time.Millisecond)), now)
	}
}

// Unblock unblocks the port called name at once. If the loop is still
// there it is blocked again as soon as a probe returns or MACs flap.
func (f *Fabric) Unblock(name string) error {
	p := f.ports.Load().byName[name]
	if p == nil {
		return fmt.Errorf("no port named %q (see l2fabric ports)", name)
	}
	f.loop.mu.Lock()
	defer f.loop.mu.Unlock()
	if p.block.Load() == nil {
		return fmt.Errorf("port %q is not blocked", name)
	}
	f.setBlocked(p, nil, false, "unblocked by request", time.Now())
	return nil
}
