package vxlan

import (
	"errors"
	"fmt"
	"net/netip"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/l2fabric/l2fabric/fabric"
	"github.com/l2fabric/l2fabric/frames"
	"github.com/l2fabric/l2fabric/frames/offload"
)

// port is one vxlan port: the VNIs it carries on a shared socket, its
// remote table, and the ring its socket's reader fills.
type port struct {
	name  string
	o     options
	learn bool // flood-and-learn: record source MACs' VTEPs
	tbl   *table
	sh    *shared
	reg   *registry
	rx    *ring

	// Writer state (the fabric's writer goroutine only).
	hdrs     [][HeaderLen]byte // VXLAN header per mapping
	plan     *txPlan
	tx       *sender
	maxSize  int    // largest inner frame sent: MTU + Ethernet header
	arena    []byte // segments of super-frames, until the plan is sent
	used     int    // bytes of arena in the plan
	segs     [][]byte
	segSizes []int

	// Reader state (the socket's reader goroutine only).
	touched  bool
	lastFrom netip.Addr
	lastVTEP *vtep

	c         counters
	closeOnce sync.Once
	stopAging chan struct{}
	agingDone chan struct{}
}

// counters are the port's own drops, by reason.
type counters struct {
	rxQueueFull, rxOversize, learnLimit    atomic.Uint64
	txRunt, txVLAN, txOversize, txNoRemote atomic.Uint64
	txSendError, txBadOffload              atomic.Uint64
}

var (
	_ fabric.GSOPort        = (*port)(nil)
	_ fabric.RemoteLocator  = (*port)(nil)
	_ fabric.RemotePinner   = (*port)(nil)
	_ fabric.FloodRemotes   = (*port)(nil)
	_ fabric.BackendDropper = (*port)(nil)
	_ RemoteTable           = (*port)(nil)
)

// batchSize is the number of frames the fabric reads and writes per call.
const batchSize = 64

// newPort makes a port (not yet on a socket) for o under cfg, which has
// its defaults applied.
func newPort(o options, cfg fabric.PortConfig, tbl *table, flow fabric.FlowControl) *port {
	p := &port{name: cfg.Name, o: o, learn: !cfg.NoLearning, tbl: tbl,
		rx:        newRing(ringSlots(cfg.MTU+frames.HeaderLen+frames.TagLen), cfg.MTU+frames.HeaderLen+frames.TagLen, flow),
		hdrs:      make([][HeaderLen]byte, len(o.maps)),
		plan:      newPlan(haveGSO),
		tx:        newSender(),
		maxSize:   cfg.MTU + frames.HeaderLen,
		arena:     make([]byte, arenaLen),
		stopAging: make(chan struct{}),
		agingDone: make(chan struct{}),
	}
	for i, m := range o.maps {
		Header(p.hdrs[i][:]).Encode(m.VNI)
	}
	return p
}

// arenaLen is the room for the segments of super-frames cut up by one
// plan: a few 64 KiB super-frames.
const arenaLen = 256 << 10

// Read implements fabric.Port.
func (p *port) Read(bufs [][]byte, sizes []int) (int, error) { return p.rx.pop(bufs, sizes) }

// ReadGSO implements fabric.GSOPort: segments of one TCP flow that arrive
// together come out as one super-frame.
func (p *port) ReadGSO(bufs [][]byte, sizes []int, hdrs []offload.Header) (int, error) {
	return p.rx.popGSO(bufs, sizes, hdrs)
}

// BatchSize implements fabric.Port.
func (p *port) BatchSize() int { return batchSize }

// receive is called by the socket's reader for each inner frame of one of
// p's VNIs from the VTEP at from: learn where its source lives, then
// queue it. It reports whether the frame was queued.
func (p *port) receive(f frames.Frame, t target, from netip.Addr, now time.Time, hold *time.Duration, timer *time.Timer) bool {
	if p.learn {
		if src := f.Source(); src.IsUnicast() {
			if from != p.lastFrom || p.lastVTEP == nil {
				v, err := p.tbl.intern(from)
				if err != nil {
					p.c.learnLimit.Add(1)
					v = nil
				}
				p.lastFrom, p.lastVTEP = from, v
			}
			if p.lastVTEP != nil {
				p.tbl.learn(now, t.vlan, src, p.lastVTEP)
			}
		}
	}
	// The native VLAN of an access port enters untagged; a trunk's VLANs
	// tagged.
	switch p.rx.push(f, t.tag, t.vlan, hold, timer) {
	case pushFull:
		p.c.rxQueueFull.Add(1)
		return false
	case pushOversize:
		p.c.rxOversize.Add(1)
		return false
	}
	return true
}

// Write implements fabric.Port: each frame is encapsulated with its VNI
// (its VLAN tag, if any, stripped: the VNI carries the VLAN) and sent to
// the one VTEP its destination lives behind, or to every remote of its
// VNI (head-end replication) when the destination is broadcast, multicast
// or unknown. Frames that cannot be sent are counted by reason; Write
// returns no error: the fabric stops writing when the port is closed.
func (p *port) Write(bufs [][]byte) (int, error) {
	p.begin()
	for _, b := range bufs {
		p.writeOne(b, offload.Header{})
	}
	p.flush()
	return len(bufs), nil
}

// WriteGSO implements fabric.GSOPort: Write, with super-frames cut into
// segments and partial checksums completed first, since the far end of a
// tunnel takes only whole frames.
func (p *port) WriteGSO(bufs [][]byte, hdrs []offload.Header) (int, error) {
	p.begin()
	for i, b := range bufs {
		p.writeOne(b, hdrs[i])
	}
	p.flush()
	return len(bufs), nil
}

// begin starts a plan.
func (p *port) begin() {
	p.plan.reset()
	p.used = 0
	p.plan.gso = haveGSO && p.sh.pool[0].gso.Load()
}

// writeOne plans the datagrams of one frame from the fabric.
func (p *port) writeOne(b []byte, h offload.Header) {
	f := frames.Frame(b)
	if !f.Valid() {
		p.c.txRunt.Add(1)
		return
	}
	if !h.IsGSO() && offload.CompleteChecksum(h, f) != nil {
		p.c.txBadOffload.Add(1)
		return
	}
	vlan := p.accessVLAN()
	if f.Tagged() {
		vlan = f.VLAN()
		f = f.PopTag()
		if h.Flags&offload.FlagNeedsCsum != 0 {
			h.CsumStart -= frames.TagLen
		}
		h.HdrLen = uint16(max(int(h.HdrLen)-frames.TagLen, 0))
	}
	i := p.tbl.slot(vlan)
	if i < 0 {
		p.c.txVLAN.Add(1)
		return
	}
	one, flood := p.tbl.lookup(vlan, i, f.Destination())
	k := len(flood)
	if one != nil {
		k = 1
	}
	if k == 0 {
		p.c.txNoRemote.Add(1)
		return
	}
	if !h.IsGSO() {
		if len(f) > p.maxSize {
			p.c.txOversize.Add(1)
			return
		}
		if p.plan.full(k) {
			p.flush()
		}
		p.encap(i, f, one, flood)
		return
	}
	// A super-frame: cut it into the arena, then plan each segment.
	n, segLen := offload.MaxSegments(h, len(f)), offload.MaxSegmentLen(h, len(f))
	if n == 0 || n*segLen > len(p.arena) || n*k > maxPlanEntries || n*k > maxPlanMsgs {
		p.c.txBadOffload.Add(1)
		return
	}
	if p.used+n*segLen > len(p.arena) || p.plan.full(n*k) {
		p.flush()
	}
	p.segs, p.segSizes = p.segs[:0], p.segSizes[:0]
	for j := 0; j < n; j++ {
		p.segs = append(p.segs, p.arena[p.used+j*segLen:p.used+(j+1)*segLen])
		p.segSizes = append(p.segSizes, 0)
	}
	got, err := offload.Segment(h, f, p.segs, p.segSizes)
	if err != nil {
		p.c.txBadOffload.Add(1)
		return
	}
	p.used += n * segLen
	for j := 0; j < got; j++ {
		if p.segSizes[j] > p.maxSize {
			p.c.txOversize.Add(1)
			continue
		}
		p.encap(i, frames.Frame(p.segs[j][:p.segSizes[j]]), one, flood)
	}
}

// encap plans frame f of mapping i to one VTEP, or to each of flood. The
// caller has made room in the plan.
func (p *port) encap(i int, f frames.Frame, one *vtep, flood []*vtep) {
	sock := int(FlowHash(f) % uint32(len(p.sh.pool)))
	if one != nil {
		p.plan.add(sock, one, &p.hdrs[i], f)
		return
	}
	for _, v := range flood {
		p.plan.add(sock, v, &p.hdrs[i], f)
	}
}

// accessVLAN is the VLAN of untagged frames from the fabric: an access
// port's (vni=); 0 on a vnis= trunk, whose frames all come tagged.
func (p *port) accessVLAN() uint16 {
	if p.o.trunk {
		return 0
	}
	return p.o.maps[0].VLAN
}

// flush sends the plan: the messages of each pool socket with one
// sendmmsg, in their order (a flow keeps its socket, so its order). A
// message the kernel refuses is counted; one it refuses as a GSO message
// is sent again as single datagrams.
func (p *port) flush() {
	msgs := p.plan.bySocket(len(p.sh.pool))
	for len(msgs) > 0 {
		sock := msgs[0].sock
		run := 1
		for run < len(msgs) && msgs[run].sock == sock {
			run++
		}
		p.sendRun(p.sh.pool[sock], msgs[:run])
		msgs = msgs[run:]
	}
	p.plan.reset()
	p.used = 0
}

func (p *port) sendRun(u *udpSocket, msgs []txMsg) {
	for len(msgs) > 0 {
		n, err := u.send(p.tx, p.plan, msgs)
		msgs = msgs[n:]
		if err == nil {
			continue
		}
		if errors.Is(err, os.ErrClosed) {
			p.c.txSendError.Add(uint64(len(msgs)))
			return
		}
		// msgs[0] failed.
		m := msgs[0]
		msgs = msgs[1:]
		if m.count > 1 && gsoRejected(err) {
			if gsoBroken(err) {
				for _, s := range p.sh.pool {
					s.gso.Store(false)
				}
			}
			// Send its datagrams one by one.
			for j := m.first; j < m.first+m.count; j++ {
				one := [1]txMsg{{sock: m.sock, to: m.to, first: j, count: 1, seg: HeaderLen + len(p.plan.ents[j].frame)}}
				if _, err := u.send(p.tx, p.plan, one[:]); err != nil {
					p.c.txSendError.Add(1)
				}
			}
			continue
		}
		p.c.txSendError.Add(uint64(m.count))
	}
}

// Close implements fabric.Port: the port's VNIs leave the socket (closed
// with its last port) and Read returns.
func (p *port) Close() error {
	p.closeOnce.Do(func() {
		close(p.stopAging)
		<-p.agingDone
		if p.sh != nil {
			p.reg.leave(p.sh, p)
		}
		p.rx.close()
	})
	return nil
}

// age expires learned remote entries once a second until the port closes.
func (p *port) age() {
	defer close(p.agingDone)
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		select {
		case <-p.stopAging:
			return
		case <-t.C:
			p.tbl.macs.Expire()
		}
	}
}

// RemoteOf implements fabric.RemoteLocator: the VTEP mac in vlan was
// learned or pinned behind.
func (p *port) RemoteOf(vlan uint16, mac frames.MAC) (netip.Addr, bool) {
	return p.tbl.locate(vlan, mac)
}

// PinRemote implements fabric.RemotePinner.
func (p *port) PinRemote(vlan uint16, mac frames.MAC, remote netip.Addr) error {
	i := p.tbl.slot(vlan)
	if i < 0 {
		return errNotCarried
	}
	return p.AddMAC(p.o.maps[i].VNI, mac, remote)
}

// UnpinRemote implements fabric.RemotePinner.
func (p *port) UnpinRemote(vlan uint16, mac frames.MAC) {
	if i := p.tbl.slot(vlan); i >= 0 {
		_ = p.DeleteMAC(p.o.maps[i].VNI, mac)
	}
}

// AddRemote implements fabric.FloodRemotes: remote joins the flood list of
// every VNI of the port.
func (p *port) AddRemote(remote netip.Addr) error {
	for _, m := range p.o.maps {
		if err := p.AddFlood(m.VNI, remote); err != nil {
			return err
		}
	}
	return nil
}

// DeleteRemote implements fabric.FloodRemotes.
// remote leaves the flood list of every VNI it is on.
func (p *port) DeleteRemote(remote netip.Addr) error {
	found := false
	for _, m := range p.o.maps {
		found = p.DeleteFlood(m.VNI, remote) == nil || found
	}
	if !found {
		return fmt.Errorf("%s is not a remote of port %s", remote, p.name)
	}
	return nil
}

// Remotes implements fabric.FloodRemotes.
func (p *port) Remotes() []netip.Addr { return p.tbl.remotes() }

// AddFlood implements RemoteTable.
func (p *port) AddFlood(vni uint32, vtep netip.Addr) error { return p.tbl.AddFlood(vni, vtep) }

// DeleteFlood implements RemoteTable.
func (p *port) DeleteFlood(vni uint32, vtep netip.Addr) error { return p.tbl.DeleteFlood(vni, vtep) }

// AddMAC implements RemoteTable.
func (p *port) AddMAC(vni uint32, mac frames.MAC, vtep netip.Addr) error {
	return p.tbl.AddMAC(vni, mac, vtep)
}

// DeleteMAC implements RemoteTable.
func (p *port) DeleteMAC(vni uint32, mac frames.MAC) error { return p.tbl.DeleteMAC(vni, mac) }

// BackendDrops implements fabric.BackendDropper: the port's drops by
// reason, and those of its socket (packets that never reached a port:
// socket_*), which every port on the socket shows.
func (p *port) BackendDrops() map[string]uint64 {
	m := map[string]uint64{
		"rx_queue_full":      p.c.rxQueueFull.Load(),
		"rx_oversize":        p.c.rxOversize.Load(),
		"rx_learn_limit":     p.c.learnLimit.Load(),
		"tx_runt":            p.c.txRunt.Load(),
		"tx_vlan":            p.c.txVLAN.Load(),
		"tx_oversize":        p.c.txOversize.Load(),
		"tx_no_remote":       p.c.txNoRemote.Load(),
		"tx_send_error":      p.c.txSendError.Load(),
		"tx_bad_offload":     p.c.txBadOffload.Load(),
		"socket_truncated":   p.sh.truncated.Load(),
		"socket_bad_flags":   p.sh.badFlags.Load(),
		"socket_inner_runt":  p.sh.innerRunt.Load(),
		"socket_unknown_vni": p.sh.unknownVNI.Load(),
		"socket_oversize":    p.sh.oversize.Load(),
	}
	for k, v := range m {
		if v == 0 {
			delete(m, k)
		}
	}
	return m
}
