package vxlan

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/l2fabric/l2fabric/fabric"
)

// registry holds the sockets of one set of vxlan ports (one Kind, so one
// daemon): ports with the same local address and UDP port share a socket,
// demultiplexed by VNI, as the Linux kernel shares one between vxlan
// devices.
type registry struct {
	mu      sync.Mutex
	sockets map[netip.AddrPort]*shared
}

func newRegistry() *registry { return &registry{sockets: map[netip.AddrPort]*shared{}} }

// poolSize is the number of sending sockets of a shared socket, each bound
// to its own port in SourcePortMin-SourcePortMax. A hash of the inner flow
// picks one, so a flow keeps its UDP source port and flows spread over
// poolSize ports (for the underlay's ECMP and RSS).
const poolSize = 8

// shared is one local address and UDP port: the receiving socket, the
// sending pool, and the VNIs of the ports on it.
type shared struct {
	key  netip.AddrPort
	so   sockOptions
	rx   *udpSocket
	pool []*udpSocket
	log  hclog.Logger
	flow fabric.FlowControl

	targets atomic.Pointer[map[uint32]target] // VNI -> port, replaced on join and leave
	ports   int                               // under registry.mu
	closing atomic.Bool                       // set before the sockets are closed
	done    chan struct{}                     // closed when the reader has returned

	// Drops before a packet reaches a port, counted for the socket (each
	// of its ports shows them).
	truncated, badFlags, innerRunt, unknownVNI, oversize atomic.Uint64
}

// target is where a VNI's frames go.
type target struct {
	p    *port
	vlan uint16
	tag  bool // the port is a vnis= trunk: frames enter tagged
}

// join puts p's VNIs on the socket for o's local address and port,
// opening it if p is the first.
func (r *registry) join(o options, p *port, log hclog.Logger, flow fabric.FlowControl) (*shared, error) {
	key := netip.AddrPortFrom(o.local, o.port)
	so := sockOptions{ttl: o.ttl, df: o.df}
	r.mu.Lock()
	defer r.mu.Unlock()
	s := r.sockets[key]
	if s == nil {
		var err error
		if s, err = openShared(key, so, log, flow); err != nil {
			return nil, err
		}
		r.sockets[key] = s
	} else if s.so != so {
		return nil, fmt.Errorf("vxlan ports on %s share one socket and must agree on ttl= and df=", key)
	}
	old := *s.targets.Load()
	next := make(map[uint32]target, len(old)+len(o.maps))
	for vni, t := range old {
		next[vni] = t
	}
	for _, m := range o.maps {
		if t, dup := old[m.VNI]; dup {
			return nil, fmt.Errorf("VNI %d on %s is already carried by port %q: ports sharing a UDP port need different VNIs", m.VNI, key, t.p.name)
		}
		next[m.VNI] = target{p: p, vlan: m.VLAN, tag: o.trunk}
	}
	s.targets.Store(&next)
	s.ports++
	return s, nil
}

// leave takes p's VNIs off its socket, closing it after the last port.
func (r *registry) leave(s *shared, p *port) {
	r.mu.Lock()
	old := *s.targets.Load()
	next := make(map[uint32]target, len(old))
	for vni, t := range old {
		if t.p != p {
			next[vni] = t
		}
	}
	s.targets.Store(&next)
	s.ports--
	last := s.ports == 0
	if last {
		delete(r.sockets, s.key)
	}
	r.mu.Unlock()
	if last {
		s.close()
	}
}

// openShared opens the receiving socket and the sending pool, and starts
// the reader.
func openShared(key netip.AddrPort, so sockOptions, log hclog.Logger, flow fabric.FlowControl) (*shared, error) {
	rxo := so
	rxo.rx = true
	rx, err := openUDP(key, rxo)
	if err != nil {
		hint := ""
		if errors.Is(err, syscall.EADDRINUSE) {
			hint = " (a kernel vxlan device or another program has this UDP port here: stop it, or give l2fabric another with port= or local=)"
		}
		return nil, fmt.Errorf("vxlan socket %s: %w%s", key, err, hint)
	}
	s := &shared{key: key, so: so, rx: rx, log: log, flow: flow, done: make(chan struct{})}
	empty := map[uint32]target{}
	s.targets.Store(&empty)
	for len(s.pool) < poolSize {
		u, err := openSourcePort(key.Addr(), so)
		if err != nil {
			s.closeSockets()
			return nil, fmt.Errorf("vxlan source ports on %s: %w", key.Addr(), err)
		}
		s.pool = append(s.pool, u)
	}
	go s.read()
	return s, nil
}

// openSourcePort binds a sending socket to a free port in
// SourcePortMin-SourcePortMax, starting at a random one.
func openSourcePort(local netip.Addr, so sockOptions) (*udpSocket, error) {
	const span = SourcePortMax - SourcePortMin + 1
	start := rand.IntN(span)
	var err error
	for i := 0; i < 64; i++ {
		port := uint16(SourcePortMin + (start+i*977)%span)
		var u *udpSocket
		if u, err = openUDP(netip.AddrPortFrom(local, port), so); err == nil {
			return u, nil
		}
	}
	return nil, err
}

func (s *shared) closeSockets() {
	if s.rx != nil {
		s.rx.close()
	}
	for _, u := range s.pool {
		u.close()
	}
}

// close closes the sockets and waits for the reader to return.
func (s *shared) close() {
	s.closing.Store(true)
	s.closeSockets()
	<-s.done
}

// rxBatchLen is the number of datagrams one recvmmsg reads; with GRO each
// may hold up to 64 coalesced datagrams.
const rxBatchLen = 32

// rxBufLen is the size of each receive buffer: a GRO super-datagram, or
// the largest datagram.
const rxBufLen = 1 << 16

// read receives, decapsulates and hands each inner frame to the port of
// its VNI, until the socket is closed.
func (s *shared) read() {
	defer close(s.done)
	r := newReceiver(rxBatchLen, rxBufLen)
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	touched := make([]*port, 0, 8)
	flow := s.flow
	for {
		n, err := s.rx.recv(r)
		if err != nil {
			if s.closing.Load() || errors.Is(err, os.ErrClosed) {
				return
			}
			// A transient error (ICMP-reported, ENOBUFS): carry on,
			// but not in a tight loop.
			s.log.Debug("vxlan receive", "socket", s.key, "error", err)
			time.Sleep(time.Millisecond)
			continue
		}
		now := time.Now()
		hold := flow.MaxHold
		if hold == 0 {
			hold = fabric.DefaultMaxHold
		}
		targets := *s.targets.Load()
		for i := 0; i < n; i++ {
			size := r.sizes[i]
			if size > len(r.bufs[i]) {
				s.oversize.Add(1)
				continue
			}
			seg := r.seg[i]
			if seg <= 0 || seg > size {
				seg = size
			}
			for off := 0; off < size; off += seg {
				pkt := Packet(r.bufs[i][off:min(off+seg, size)])
				if p := s.deliver(targets, pkt, r.from[i], now, &hold, timer); p != nil && !p.touched {
					p.touched = true
					touched = append(touched, p)
				}
			}
		}
		for _, p := range touched {
			p.touched = false
			p.rx.wakeReader()
		}
		clear(touched)
		touched = touched[:0]
	}
}

// deliver decapsulates one packet and queues its frame on its port, or
// counts why not. It returns the port, if any got a frame.
func (s *shared) deliver(targets map[uint32]target, pkt Packet, from netip.Addr, now time.Time, hold *time.Duration, timer *time.Timer) *port {
	vni, inner, v := pkt.Decode()
	switch v {
	case Truncated:
		s.truncated.Add(1)
		return nil
	case BadFlags:
		s.badFlags.Add(1)
		return nil
	case InnerRunt:
		s.innerRunt.Add(1)
		return nil
	}
	t, ok := targets[vni]
	if !ok {
		s.unknownVNI.Add(1)
		return nil
	}
	if !t.p.receive(inner, t, from, now, hold, timer) {
		return nil
	}
	return t.p
}
