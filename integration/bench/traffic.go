//go:build linux

package main

import (
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"
)

// counter counts what one endpoint received.
type counter struct {
	frames atomic.Uint64
	bytes  atomic.Uint64
}

// swCounters are a switch's own frame counters, where it has them.
type swCounters struct {
	ok        bool
	rx, tx    uint64 // frames in from, and out to, all ports
	drops     uint64 // frames it says it dropped (l2fabric)
	hasDrops  bool
	dropsNote string
}

func (a swCounters) sub(b swCounters) swCounters {
	if !a.ok || !b.ok {
		return swCounters{}
	}
	return swCounters{ok: true, rx: a.rx - b.rx, tx: a.tx - b.tx, drops: a.drops - b.drops, hasDrops: a.hasDrops, dropsNote: a.dropsNote}
}

// counters reads the switch's counters; a failure leaves ok false.
func (t *topo) counters() swCounters {
	switch t.kind {
	case l2fPeer, l2fListener, l2fPair, l2fStream:
		c, err := t.l2fCounters()
		if err != nil {
			return swCounters{}
		}
		return swCounters{ok: true, rx: c.RxFrames, tx: c.TxFrames, hasDrops: true,
			drops:     c.TxQueueFull + c.RxBackend + c.TxError,
			dropsNote: fmt.Sprintf("tx_queue_full=%d rx_backend=%d tx_error=%d", c.TxQueueFull, c.RxBackend, c.TxError)}
	case vde:
		in, out, err := t.vdeCounters()
		if err != nil {
			return swCounters{}
		}
		return swCounters{ok: true, rx: in, tx: out}
	}
	return swCounters{}
}

// rate is one forwarding measurement.
type rate struct {
	size    int
	secs    float64
	sent    uint64   // frames the sender got into the switch's socket
	recv    []uint64 // frames each receiver got
	recvB   []uint64 // bytes each receiver got
	stray   uint64   // frames that came back to the sender
	cpu     float64  // the switch process's CPU time, seconds
	selfCPU float64  // this process's (the endpoints') CPU time, seconds
	sw      swCounters
}

func (r rate) total() (frames, bytes uint64) {
	for i := range r.recv {
		frames += r.recv[i]
		bytes += r.recvB[i]
	}
	return
}

// fps is the received frames per second, over all receivers.
func (r rate) fps() float64 { f, _ := r.total(); return float64(f) / r.secs }

// gbps is the received frame bytes per second, over all receivers, in Gbit/s.
func (r rate) gbps() float64 { _, b := r.total(); return float64(b) * 8 / r.secs / 1e9 }

// perRecv returns the lowest, mean and highest frames/s of one receiver.
func (r rate) perRecv() (lo, mean, hi float64) {
	lo = -1
	for _, f := range r.recv {
		v := float64(f) / r.secs
		if lo < 0 || v < lo {
			lo = v
		}
		hi = max(hi, v)
		mean += v
	}
	return lo, mean / float64(len(r.recv)), hi
}

// sentFPS is the rate the sender got frames into the switch's socket.
func (r rate) sentFPS() float64 { return float64(r.sent) / r.secs }

// loss is the share of the frames sent that did not reach a receiver
// (every receiver should get every frame), over the measurement window.
func (r rate) loss() float64 {
	if r.sent == 0 {
		return 0
	}
	f, _ := r.total()
	return max(0, 1-float64(f)/float64(r.sent)/float64(len(r.recv)))
}

// cpuPct is the switch's CPU use in percent of one core.
func (r rate) cpuPct() float64 { return 100 * r.cpu / r.secs }

// blast measures forwarding: the sender sends frames of size bytes to dst
// as fast as the switch takes them (blocking sendmmsg of 64: it waits when
// the switch's socket is full), every receiver counts what arrives; warm,
// then dur, of which only dur counts.
func blast(t *topo, dst [6]byte, size int, warm, dur time.Duration) (rate, error) {
	s := t.sender()
	rs := t.receivers()
	fr := frame(dst, s.mac, size)
	bufs := make([][]byte, batch)
	for i := range bufs {
		bufs[i] = fr
	}
	var stop atomic.Bool
	var wg sync.WaitGroup
	var sendErr error
	var sent atomic.Uint64
	eps := append(append([]*endpoint(nil), rs...), s) // the last: strays back to the sender
	counts := make([]counter, len(eps))
	for i, ep := range eps {
		wg.Add(1)
		go func() {
			defer wg.Done()
			count(ep, &counts[i], &stop)
		}()
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		for !stop.Load() {
			n, err := s.send(bufs)
			if err != nil {
				if errors.Is(err, unix.EAGAIN) || errors.Is(err, unix.EINTR) {
					continue
				}
				sendErr = fmt.Errorf("%s: %w", s.name, err)
				return
			}
			sent.Add(uint64(n))
		}
	}()

	type snapshot struct {
		sent       uint64
		rx, rxB    []uint64
		cpu, self  float64
		sw         swCounters
		at         time.Time
		strayCount uint64
	}
	snap := func() snapshot {
		var x snapshot
		x.sw = t.counters()
		x.cpu, x.self = cpuSeconds(t.pid()), cpuSeconds(0)
		x.at = time.Now()
		x.sent = sent.Load()
		for i := range rs {
			x.rx = append(x.rx, counts[i].frames.Load())
			x.rxB = append(x.rxB, counts[i].bytes.Load())
		}
		x.strayCount = counts[len(rs)].frames.Load()
		return x
	}
	time.Sleep(warm)
	a := snap()
	time.Sleep(dur)
	b := snap()
	stop.Store(true)
	wg.Wait()

	r := rate{size: size, secs: b.at.Sub(a.at).Seconds(), sent: b.sent - a.sent, stray: b.strayCount - a.strayCount,
		cpu: b.cpu - a.cpu, selfCPU: b.self - a.self, sw: b.sw.sub(a.sw)}
	for i := range rs {
		r.recv = append(r.recv, b.rx[i]-a.rx[i])
		r.recvB = append(r.recvB, b.rxB[i]-a.rxB[i])
	}
	if sendErr != nil {
		return r, sendErr
	}
	if err := t.proc.alive(); err != nil {
		return r, err
	}
	time.Sleep(50 * time.Millisecond)
	for _, e := range t.eps {
		e.drain()
	}
	if f, _ := r.total(); f == 0 {
		return r, fmt.Errorf("%v: no frame of %d bytes arrived in %v", t.kind, size, dur)
	}
	return r, nil
}

// count receives on ep until stop, counting frames and bytes.
func count(ep *endpoint, c *counter, stop *atomic.Bool) {
	bufs := make([][]byte, batch)
	for i := range bufs {
		bufs[i] = make([]byte, 2048)
	}
	sizes := make([]int, batch)
	for !stop.Load() {
		n, err := ep.recv(bufs, sizes)
		if err != nil {
			continue
		}
		var b uint64
		for _, s := range sizes[:n] {
			b += uint64(s)
		}
		c.frames.Add(uint64(n))
		c.bytes.Add(b)
	}
}

// latencyResult is a one-way latency measurement.
type latencyResult struct {
	rate           int
	p50, p99, pmax time.Duration
	samples        int
	lost           int
}

// latency sends perSec frames of 64 bytes a second from the sender to the
// first receiver, each stamped with the monotonic time it was sent and a
// sequence number, and records when each arrives (sender and receiver are
// goroutines of this process, so they share the clock). Frames sent
// during warm are not counted.
func latency(t *topo, perSec int, warm, dur time.Duration) (latencyResult, error) {
	s, r := t.sender(), t.receivers()[0]
	base := time.Now()
	interval := time.Second / time.Duration(perSec)
	skip := int(warm / interval)
	total := skip + int(dur/interval)
	lat := make([]time.Duration, 0, total)
	var stop atomic.Bool
	done := make(chan struct{})
	go func() {
		defer close(done)
		bufs := make([][]byte, batch)
		for i := range bufs {
			bufs[i] = make([]byte, 2048)
		}
		sizes := make([]int, batch)
		for !stop.Load() {
			n, err := r.recv(bufs, sizes)
			if err != nil {
				continue
			}
			now := time.Since(base)
			for i := 0; i < n; i++ {
				if sizes[i] < 30 {
					continue
				}
				seq := int(binary.LittleEndian.Uint64(bufs[i][22:]))
				if seq >= skip && seq < total {
					lat = append(lat, now-time.Duration(binary.LittleEndian.Uint64(bufs[i][14:])))
				}
			}
		}
	}()
	fr := frame(r.mac, s.mac, 64)
	one := [][]byte{fr}
	next := time.Now()
	var sendErr error
	for seq := 0; seq < total; seq++ {
		if d := time.Until(next); d > 0 {
			time.Sleep(d)
		}
		next = next.Add(interval)
		binary.LittleEndian.PutUint64(fr[22:], uint64(seq))
		binary.LittleEndian.PutUint64(fr[14:], uint64(time.Since(base)))
		if err := s.sendAll(one, time.Now().Add(time.Second)); err != nil {
			sendErr = err
			break
		}
	}
	time.Sleep(100 * time.Millisecond)
	stop.Store(true)
	<-done
	if sendErr != nil {
		return latencyResult{}, sendErr
	}
	if err := t.proc.alive(); err != nil {
		return latencyResult{}, err
	}
	if len(lat) == 0 {
		return latencyResult{}, fmt.Errorf("%v: no timestamped frame arrived", t.kind)
	}
	slices.Sort(lat)
	pct := func(p float64) time.Duration { return lat[min(len(lat)-1, int(p*float64(len(lat))))] }
	return latencyResult{rate: perSec, p50: pct(0.50), p99: pct(0.99), pmax: lat[len(lat)-1],
		samples: len(lat), lost: total - skip - len(lat)}, nil
}
