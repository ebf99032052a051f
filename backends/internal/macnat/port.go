package macnat

import (
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/l2fabric/l2fabric/fabric"
	"github.com/l2fabric/l2fabric/frames"
	"github.com/l2fabric/l2fabric/frames/offload"
)

// DefaultPollInterval is how often a Port asks for the host interface's
// MAC and addresses (they change: DHCP on the host, a Wi-Fi private
// address per network) and drops expired entries.
const DefaultPollInterval = 2 * time.Second

// HostAddrs returns the host interface's MAC and its own IP addresses.
type HostAddrs func() (frames.MAC, []netip.Addr, error)

// Config configures Wrap.
type Config struct {
	// Table configures the translation table.
	Table TableConfig
	// Host returns the host interface's MAC and addresses. Required.
	Host HostAddrs
	// PollInterval is how often Host is called; 0 means
	// DefaultPollInterval.
	PollInterval time.Duration
	// Logger receives the port's logs; nil discards them.
	Logger hclog.Logger
}

// port applies a Translator to a port's frames: Outbound to every frame
// written, Inbound to every frame read (keeping from the fabric what is
// the host's alone).
//
// Write rewrites the frames it is given in place: the fabric hands each
// port frames in buffers of its own transmit queue, so no other port
// sees the change.
type port struct {
	inner  fabric.Port
	filter fabric.AddressFilter // inner's, if it has one
	x      *Translator
	host   HostAddrs
	log    hclog.Logger

	mu     sync.Mutex   // serialises SetRemoteMACs with host MAC changes
	remote []frames.MAC // the last set the fabric gave, sorted

	done      chan struct{}
	wg        sync.WaitGroup
	closeOnce sync.Once
	closeErr  error
}

// Wrap returns inner with MAC-NAT applied, keeping inner's optional
// interfaces (fabric.GSOPort, fabric.Linker) visible. The returned port
// is also a fabric.AddressFilter (it learns which VMs have left the
// fabric, and passes the set on to inner's filter with the host's MAC
// added), a fabric.RxDropper and a fabric.NATPort. Closing it closes
// inner.
func Wrap(inner fabric.Port, cfg Config) (fabric.Port, error) {
	if cfg.Host == nil {
		return nil, errors.New("macnat: no source of the host's addresses")
	}
	if cfg.PollInterval <= 0 {
		cfg.PollInterval = DefaultPollInterval
	}
	if cfg.Logger == nil {
		cfg.Logger = hclog.NewNullLogger()
	}
	if cfg.Table.Logger == nil {
		cfg.Table.Logger = cfg.Logger
	}
	mac, addrs, err := cfg.Host()
	if err != nil {
		return nil, fmt.Errorf("macnat: the host interface's addresses: %w", err)
	}
	if !mac.IsUnicast() {
		return nil, fmt.Errorf("macnat: the host interface has no unicast MAC (%s)", mac)
	}
	t := NewTable(cfg.Table)
	t.SetHost(addrs, mac)
	p := &port{inner: inner, x: NewTranslator(t, mac), host: cfg.Host, log: cfg.Logger, done: make(chan struct{})}
	p.filter, _ = inner.(fabric.AddressFilter)
	p.wg.Add(1)
	go p.poll(cfg.PollInterval)
	return expose(p), nil
}

// poll follows the host interface's MAC and addresses and drops expired
// entries, until the port is closed.
func (p *port) poll(every time.Duration) {
	defer p.wg.Done()
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-p.done:
			return
		case <-t.C:
		}
		if n := p.x.table.Expire(); n > 0 {
			p.log.Debug("macnat entries expired", "count", n)
		}
		mac, addrs, err := p.host()
		if err != nil || !mac.IsUnicast() {
			continue // the interface is away; the link monitor reports it
		}
		if old := p.x.HostMAC(); old != mac {
			p.log.Info("host interface MAC changed: macnat follows", "from", old, "to", mac)
			p.mu.Lock()
			p.x.SetHostMAC(mac)
			p.pushFilter()
			p.mu.Unlock()
		}
		p.x.table.SetHost(addrs, mac)
	}
}

// Read implements fabric.Port.
func (p *port) Read(bufs [][]byte, sizes []int) (int, error) {
	for {
		n, err := p.inner.Read(bufs, sizes)
		k := p.inbound(bufs, sizes, nil, n)
		if k > 0 || n == 0 || err != nil {
			return k, err
		}
	}
}

// inbound translates the n frames read and moves those for the fabric to
// the front of bufs (exchanging buffers, as Read may), returning how many
// there are. A frame longer than its buffer passes untouched: the fabric
// counts it as oversize.
func (p *port) inbound(bufs [][]byte, sizes []int, hdrs []offload.Header, n int) int {
	k := 0
	for i := 0; i < n; i++ {
		if sizes[i] <= len(bufs[i]) && !p.x.Inbound(bufs[i][:sizes[i]]) {
			continue
		}
		if k != i {
			bufs[k], bufs[i] = bufs[i], bufs[k]
			sizes[k] = sizes[i]
			if hdrs != nil {
				hdrs[k] = hdrs[i]
			}
		}
		k++
	}
	return k
}

// Write implements fabric.Port.
func (p *port) Write(bufs [][]byte) (int, error) {
	for _, b := range bufs {
		p.x.Outbound(b, offload.Header{})
	}
	return p.inner.Write(bufs)
}

// BatchSize implements fabric.Port.
func (p *port) BatchSize() int { return p.inner.BatchSize() }

// Close implements fabric.Port: it stops following the host interface
// and closes the wrapped port.
func (p *port) Close() error {
	p.closeOnce.Do(func() {
		close(p.done)
		p.closeErr = p.inner.Close()
		p.wg.Wait()
	})
	return p.closeErr
}

// SetRemoteMACs implements fabric.AddressFilter. A MAC that was behind
// another port and no longer is belongs to a VM that has left (its port
// detached or went down) or has been silent for longer than the fabric's
// aging time: its entries are dropped, so that its addresses are free and
// no frame is sent to a MAC that is gone. A silent VM that is still there
// is learned again from the next frame it sends.
func (p *port) SetRemoteMACs(macs []frames.MAC) {
	p.mu.Lock()
	defer p.mu.Unlock()
	var gone []frames.MAC
	for _, m := range p.remote {
		if _, ok := slices.BinarySearchFunc(macs, m, compareMAC); !ok {
			gone = append(gone, m)
		}
	}
	if n := p.x.table.Forget(gone); n > 0 {
		p.log.Debug("macnat entries of departed stations flushed", "count", n, "macs", gone)
	}
	p.remote = slices.Clone(macs)
	p.pushFilter()
}

// pushFilter passes the remote MACs, and the host's own, to the wrapped
// port's filter: replies to VMs arrive addressed to the host's MAC. The
// caller holds p.mu.
func (p *port) pushFilter() {
	if p.filter == nil {
		return
	}
	host := p.x.HostMAC()
	macs := slices.Clone(p.remote)
	if i, ok := slices.BinarySearchFunc(macs, host, compareMAC); !ok {
		macs = slices.Insert(macs, i, host)
	}
	p.filter.SetRemoteMACs(macs)
}

// RxDropped implements fabric.RxDropper with the wrapped port's count.
// Frames the translator keeps from the fabric are in NATCounters.
func (p *port) RxDropped() uint64 {
	if d, ok := p.inner.(fabric.RxDropper); ok {
		return d.RxDropped()
	}
	return 0
}

// NATTable implements fabric.NATPort.
func (p *port) NATTable() []fabric.NATEntry {
	es := p.x.table.Entries()
	out := make([]fabric.NATEntry, len(es))
	for i, e := range es {
		out[i] = fabric.NATEntry{IP: e.IP, MAC: e.MAC, Host: e.Host, Age: e.Age.Seconds()}
	}
	return out
}

// NATCounters implements fabric.NATPort.
func (p *port) NATCounters() fabric.NATCounters {
	c := p.x.Counters()
	return fabric.NATCounters{
		TranslatedOut: c.TranslatedOut, TranslatedIn: c.TranslatedIn,
		ToHost: c.ToHost, Misses: c.Misses, Looped: c.Looped, TableFull: c.TableFull, Moves: c.Moves,
		HostConflicts: c.HostConflicts, Untranslatable: c.Untranslatable,
	}
}

// readGSO and writeGSO are the GSOPort methods, exposed only when the
// wrapped port has them (see expose). Only addresses are rewritten, never
// lengths: a super-frame stays one, and a checksum left to be completed
// is not touched (the Ethernet header is not checksummed; payload
// rewrites are covered when the checksum is completed).
func (p *port) readGSO(g fabric.GSOPort, bufs [][]byte, sizes []int, hdrs []offload.Header) (int, error) {
	for {
		n, err := g.ReadGSO(bufs, sizes, hdrs)
		k := p.inbound(bufs, sizes, hdrs, n)
		if k > 0 || n == 0 || err != nil {
			return k, err
		}
	}
}

func (p *port) writeGSO(g fabric.GSOPort, bufs [][]byte, hdrs []offload.Header) (int, error) {
	for i, b := range bufs {
		p.x.Outbound(b, hdrs[i])
	}
	return g.WriteGSO(bufs, hdrs)
}
