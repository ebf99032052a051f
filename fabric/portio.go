package fabric

import (
	"errors"

	"github.com/l2fabric/l2fabric/fdb"
	"github.com/l2fabric/l2fabric/frames"
	"github.com/l2fabric/l2fabric/frames/offload"
)

// readLoop reads p's frames in batches and forwards them until the port
// fails or is detached.
func (f *Fabric) readLoop(p *port) {
	defer f.wg.Done()
	defer close(p.readerDone)
	bs := batchSize(p.dev)
	bufLen := p.maxLen + frames.TagLen
	switch {
	case p.gso != nil:
		bufLen = MaxGSOFrame
	case p.views != nil:
		bufLen = 0 // the port's views take the buffers' place
	}
	b := newBatch(bs, bufLen, f.flow)
	for {
		var n int
		var err error
		switch {
		case p.gso != nil:
			n, err = p.gso.ReadGSO(b.bufs, b.sizes, b.rhdrs)
		case p.views != nil:
			n, err = p.views.ReadViews(b.bufs, b.sizes)
		default:
			n, err = p.dev.Read(b.bufs, b.sizes)
		}
		// Frames read are forwarded even while the port is being
		// detached: its backend may hand over what it held when it was
		// closed, and the port's entries are removed only once its
		// reader has stopped.
		if n > 0 {
			f.forward(p, b, n)
		}
		if err != nil {
			if !p.stopping.Load() {
				f.log.Warn("port down", "port", p.Name, "error", err)
				go f.detach(p, err, detachFromReader)
			}
			return
		}
	}
}

// writeLoop sends what p's transmit queue holds, in batches, until p is
// detached or its peer is gone.
func (f *Fabric) writeLoop(p *port) {
	defer f.wg.Done()
	defer close(p.writerDone)
	bs := batchSize(p.dev)
	out := make([][]byte, 0, bs)
	hdrs := make([]offload.Header, 0, bs)
	for {
		select {
		case <-p.quit:
			return
		case <-p.tx.wake():
		}
		for {
			out, hdrs = p.tx.take(out[:0], hdrs[:0], bs)
			if len(out) == 0 {
				break
			}
			gone := f.transmit(p, out, hdrs)
			p.tx.release()
			if gone != nil {
				f.log.Warn("port down", "port", p.Name, "error", gone)
				go f.detach(p, gone, detachFromWriter)
				<-p.quit
				return
			}
		}
	}
}

// linkLoop follows a port's link state until the port is detached.
func (f *Fabric) linkLoop(p *port, events <-chan LinkEvent) {
	defer f.wg.Done()
	for {
		select {
		case <-p.quit:
			return
		case ev, ok := <-events:
			if !ok {
				return
			}
			p.downReason.Store(ev.Reason)
			if p.down.Swap(!ev.Up) == !ev.Up {
				continue // no change
			}
			if ev.Up {
				f.log.Info("port link up", "port", p.Name, "reason", ev.Reason)
				f.publish(Event{Type: EventPortUp, Port: p.Name, Reason: ev.Reason})
				continue
			}
			n := f.fdb.Flush(func(e fdb.Entry[*port]) bool { return e.Port == p })
			f.macsMayHaveChanged()
			f.publish(Event{Type: EventPortDown, Port: p.Name, Reason: ev.Reason, Count: n})
			f.log.Warn("port link down", "port", p.Name, "reason", ev.Reason, "fdb_entries_flushed", n)
		}
	}
}

// transmit writes out through the port's backend and counts the result. It
// returns an error when the port is gone.
func (f *Fabric) transmit(p *port, out [][]byte, hdrs []offload.Header) error {
	for len(out) > 0 {
		var n int
		var err error
		if p.gso != nil {
			n, err = p.gso.WriteGSO(out, hdrs)
		} else {
			n, err = p.dev.Write(out)
		}
		if n > 0 {
			var bytes int
			for _, b := range out[:n] {
				bytes += len(b)
			}
			p.c.txFrames.Add(uint64(n))
			p.c.txBytes.Add(uint64(bytes))
			if c := f.captures.set.Load(); c != nil { // capture.go
				c.outbound(p, out[:n])
			}
		}
		n = min(n, len(out))
		out, hdrs = out[n:], hdrs[n:]
		switch {
		case len(out) == 0:
			return nil
		case errors.Is(err, ErrPeerGone):
			p.c.txError.Add(uint64(len(out)))
			return err
		case errors.Is(err, ErrTxFull):
			p.c.txQueueFull.Add(uint64(len(out)))
			return nil
		case errors.Is(err, ErrLinkDown):
			p.c.linkDown.Add(uint64(len(out)))
			return nil
		default:
			if err != nil && f.log.IsDebug() {
				f.log.Debug("transmit error", "port", p.Name, "error", err)
			}
			p.c.txError.Add(1)
			out, hdrs = out[1:], hdrs[1:]
		}
	}
	return nil
}

// maxBatch bounds the batch size a backend may ask for. Datagram
// backends ask for 64 at most; a stream port asks for 512 (its reads and
// writes carry that many frames in one system call, and each batch costs
// its writer goroutine a wake-up).
const maxBatch = 512

// batchSize is the port's batch size, within 1 and maxBatch.
func batchSize(p Port) int {
	return min(max(p.BatchSize(), 1), maxBatch)
}
