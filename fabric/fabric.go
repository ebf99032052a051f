package fabric

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/l2fabric/l2fabric/fdb"
	"github.com/l2fabric/l2fabric/frames"
	"github.com/l2fabric/l2fabric/frames/offload"
)

// Config configures a Fabric. Its zero value is usable: default FDB, no
// logging, no port kinds (ports can still be attached directly).
type Config struct {
	// FDB configures the learning table.
	FDB fdb.Config
	// Logger receives the fabric's logs; nil discards them.
	Logger hclog.Logger
	// Kinds are the port kinds Open accepts.
	Kinds Kinds
	// FlowControl bounds how long a port's reader may wait for room in a
	// busy port's transmit queue (see FlowControl).
	FlowControl FlowControl
}

// FlowControl configures how the fabric treats a port whose transmit
// queue is full. While that port keeps sending (it is busy, not stuck),
// the ports feeding it wait for room, up to MaxHold per batch they read,
// instead of reading frames only to drop them: the senders slow down to
// the busy port's pace, as with a blocking relay, and nothing is lost.
// Once the port has sent nothing for StallAfter it is stuck, and frames
// for it are dropped at once (counted as drop_tx_queue_full), so a stuck or
// dead port holds up the others for at most StallAfter. The price of
// waiting is head-of-line blocking within those bounds: frames a waiting
// port has for other ports wait too.
//
// The zero value is the default: MaxHold 5 ms, StallAfter 10 ms.
type FlowControl struct {
	// MaxHold is how long, in all, a port's reader may wait per batch;
	// 0 means 5 ms, and a negative value disables waiting: frames for a
	// full queue are dropped at once, as a hardware switch does.
	MaxHold time.Duration
	// StallAfter is how long a port may go without sending before it
	// counts as stuck; 0 means 10 ms.
	StallAfter time.Duration
}

// Defaults of FlowControl.
const (
	DefaultMaxHold    = 5 * time.Millisecond
	DefaultStallAfter = 10 * time.Millisecond
)

func (c FlowControl) withDefaults() FlowControl {
	switch {
	case c.MaxHold == 0:
		c.MaxHold = DefaultMaxHold
	case c.MaxHold < 0:
		c.MaxHold = 0
	}
	if c.StallAfter <= 0 {
		c.StallAfter = DefaultStallAfter
	}
	return c
}

// Fabric is the switch. Create it with New, attach ports (directly with
// Attach or from a spec with Open), and Run it.
type Fabric struct {
	log   hclog.Logger
	kinds Kinds
	fdb   *fdb.Table[*port]
	ctx   context.Context // cancelled when Run returns; backends' lifetime
	stop  context.CancelFunc

	mu      sync.Mutex // serialises attach, detach and static entries
	ports   atomic.Pointer[portSet]
	devices map[string]*device
	statics []Static // configured static entries, installed when their port is attached
	closed  bool
	wg      sync.WaitGroup // port goroutines

	flow     FlowControl // with defaults applied
	counters fabricCounters
	moveLog  rateLimiter
	started  time.Time

	// macsChanged is signalled when the set of MACs behind some port may
	// have changed; filters counts attached AddressFilter ports.
	macsChanged chan struct{}
	filters     atomic.Int32
}

// Static is a static FDB entry: MAC in VLAN always lives on the port named
// Port. It never ages and never moves.
type Static struct {
	VLAN uint16     `json:"vlan"`
	MAC  frames.MAC `json:"mac"`
	Port string     `json:"port"`
}

// New creates a fabric.
func New(cfg Config) (*Fabric, error) {
	table, err := fdb.New[*port](cfg.FDB)
	if err != nil {
		return nil, err
	}
	log := cfg.Logger
	if log == nil {
		log = hclog.NewNullLogger()
	}
	ctx, stop := context.WithCancel(context.Background())
	f := &Fabric{
		log:     log,
		kinds:   cfg.Kinds,
		fdb:     table,
		ctx:     ctx,
		stop:    stop,
		devices: map[string]*device{},
		flow:    cfg.FlowControl.withDefaults(),
		moveLog: rateLimiter{every: 100 * time.Millisecond},
		started: time.Now(),

		macsChanged: make(chan struct{}, 1),
	}
	f.ports.Store(newPortSet(nil))
	return f, nil
}

// ErrClosed is returned by operations on a fabric that has stopped.
var ErrClosed = errors.New("fabric stopped")

// Run ages the learning table until ctx is done, then stops the fabric:
// every device and port is closed (removing what their backends created)
// and Run returns once all port goroutines have ended.
func (f *Fabric) Run(ctx context.Context) error {
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	filtersDone := make(chan struct{})
	go func() {
		defer close(filtersDone)
		f.updateFilters(ctx)
	}()
	for {
		select {
		case <-ctx.Done():
			<-filtersDone
			f.shutdown()
			return nil
		case <-tick.C:
			if n := f.Expire(); n > 0 {
				f.log.Debug("fdb entries expired", "count", n)
			}
		}
	}
}

// macsMayHaveChanged wakes the filter updater, if any port needs it.
func (f *Fabric) macsMayHaveChanged() {
	if f.filters.Load() == 0 {
		return
	}
	select {
	case f.macsChanged <- struct{}{}:
	default:
	}
}

// filterInterval bounds how often AddressFilter ports are updated while
// addresses are being learned, so a burst of new MACs costs one update.
const filterInterval = 20 * time.Millisecond

// updateFilters tells each AddressFilter port which unicast MACs live
// behind the other ports, whenever that may have changed, until ctx ends.
func (f *Fabric) updateFilters(ctx context.Context) {
	last := map[*port][]frames.MAC{}
	for {
		select {
		case <-ctx.Done():
			return
		case <-f.macsChanged:
		}
		set := f.ports.Load()
		var entries []fdb.Entry[*port]
		for _, p := range set.list {
			af, ok := p.dev.(AddressFilter)
			if !ok {
				continue
			}
			if entries == nil {
				entries = f.fdb.Entries()
			}
			macs := remoteMACs(p, set, entries)
			if old, seen := last[p]; seen && slices.Equal(old, macs) {
				continue
			}
			last[p] = macs
			af.SetRemoteMACs(macs)
		}
		for p := range last {
			if set.byName[p.Name] != p {
				delete(last, p)
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(filterInterval):
		}
	}
}

// remoteMACs returns the sorted unicast MACs that live behind ports other
// than p: learned or static entries, and other ports' mac=.
func remoteMACs(p *port, set *portSet, entries []fdb.Entry[*port]) []frames.MAC {
	var macs []frames.MAC
	for _, e := range entries {
		if e.Port != p {
			macs = append(macs, e.MAC)
		}
	}
	for _, q := range set.list {
		if q != p && !q.MAC.IsZero() {
			macs = append(macs, q.MAC)
		}
	}
	slices.SortFunc(macs, func(a, b frames.MAC) int { return bytes.Compare(a[:], b[:]) })
	return slices.Compact(macs)
}

func (f *Fabric) shutdown() {
	f.mu.Lock()
	f.closed = true
	devs := make([]*device, 0, len(f.devices))
	for _, d := range f.devices {
		devs = append(devs, d)
	}
	f.mu.Unlock()
	f.stop()
	for _, d := range devs {
		f.closeDevice(d)
	}
	for _, p := range f.ports.Load().list {
		f.detach(p, errors.New("fabric stopping"), detachExternal)
	}
	f.wg.Wait()
}

// Logger returns the fabric's logger, for backends.
func (f *Fabric) Logger() hclog.Logger { return f.log }

// Expire runs one aging pass over the learning table now and returns how
// many entries it removed. Run does this every second.
func (f *Fabric) Expire() int {
	n := f.fdb.Expire()
	if n > 0 {
		f.macsMayHaveChanged()
	}
	return n
}

// port is an attached Port with the fabric's state for it.
type port struct {
	PortConfig
	dev      Port
	attached time.Time
	maxLen   int     // largest untagged frame admitted: MTU + header
	tagged   VLANSet // VLANs carried tagged (trunk)
	trunk    bool
	tx       *txQueue
	gso      GSOPort // dev, when it carries super-frames
	c        portCounters

	down       atomic.Bool // link down (see Linker)
	downReason atomic.Value
	stopping   atomic.Bool
	quit       chan struct{} // closed to stop the writer
	readerDone chan struct{}
	writerDone chan struct{}
	gone       chan struct{} // closed when detach has completed
}

// state is the port's state for dumps: "up", or "down (reason)".
func (p *port) state() string {
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

// Attach puts p on the fabric under cfg and starts forwarding its frames.
// Static entries configured for cfg.Name are installed.
func (f *Fabric) Attach(dev Port, cfg PortConfig) error {
	cfg = cfg.withDefaults()
	if err := cfg.validate(); err != nil {
		return fmt.Errorf("port %q: %w", cfg.Name, err)
	}
	p := &port{
		PortConfig: cfg,
		dev:        dev,
		attached:   time.Now(),
		maxLen:     cfg.MTU + frames.HeaderLen,
		trunk:      cfg.IsTrunk(),
		tx:         newTxQueue(cfg.TxQueueLen),
		quit:       make(chan struct{}),
		readerDone: make(chan struct{}),
		writerDone: make(chan struct{}),
		gone:       make(chan struct{}),
	}
	p.gso, _ = dev.(GSOPort)
	p.Trunk = slices.Clone(cfg.Trunk)
	for _, v := range cfg.Trunk {
		p.tagged.Add(v)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.closed {
		return ErrClosed
	}
	old := f.ports.Load()
	if _, dup := old.byName[cfg.Name]; dup {
		return fmt.Errorf("port name %q is already in use (give the port another with name=)", cfg.Name)
	}
	if _, dup := f.devices[cfg.Name]; dup {
		return fmt.Errorf("port name %q is already in use by a device (give the port another with name=)", cfg.Name)
	}
	f.ports.Store(newPortSet(append(slices.Clone(old.list), p)))
	for _, s := range f.statics {
		if s.Port == p.Name {
			if !p.member(s.VLAN) {
				f.log.Warn("static entry not installed: the port is not a member of its VLAN", "port", p.Name, "mac", s.MAC, "vlan", s.VLAN, "port_vlans", describeVLANs(p.PortConfig))
				continue
			}
			if err := f.fdb.AddStatic(s.VLAN, s.MAC, p); err != nil {
				f.log.Warn("static entry not installed", "port", p.Name, "mac", s.MAC, "vlan", s.VLAN, "error", err)
			}
		}
	}
	if _, ok := dev.(AddressFilter); ok {
		f.filters.Add(1)
	}
	f.macsMayHaveChanged()
	f.wg.Add(2)
	go f.readLoop(p)
	go f.writeLoop(p)
	if l, ok := dev.(Linker); ok {
		f.wg.Add(1)
		go f.linkLoop(p, l.LinkEvents())
	}
	f.log.Info("port attached", "port", p.Name, "kind", p.Kind, "info", p.Info, "vlans", describeVLANs(p.PortConfig), "mtu", p.MTU)
	return nil
}

// Detach removes the port or device called name: a device (a listening
// socket) takes all its ports with it. It returns once the port's
// goroutines have ended and its backend has been closed.
func (f *Fabric) Detach(name string) error {
	f.mu.Lock()
	d := f.devices[name]
	f.mu.Unlock()
	if d != nil {
		f.closeDevice(d)
		return nil
	}
	p := f.ports.Load().byName[name]
	if p == nil {
		return fmt.Errorf("no port or device named %q", name)
	}
	f.detach(p, errors.New("detached by request"), detachExternal)
	return nil
}

type detachCaller int

const (
	detachExternal detachCaller = iota
	detachFromReader
	detachFromWriter
)

// detach takes p off the fabric. The order matters: the port's reader is
// stopped before its FDB entries are removed, so it cannot learn them back,
// and it is removed from the port set before its writer stops.
func (f *Fabric) detach(p *port, cause error, caller detachCaller) {
	if !p.stopping.CompareAndSwap(false, true) {
		if caller == detachExternal {
			<-p.gone
		}
		return
	}
	if err := p.dev.Close(); err != nil {
		f.log.Debug("closing port", "port", p.Name, "error", err)
	}
	if caller != detachFromReader {
		<-p.readerDone
	}
	f.mu.Lock()
	old := f.ports.Load()
	f.ports.Store(newPortSet(slices.DeleteFunc(slices.Clone(old.list), func(q *port) bool { return q == p })))
	n := f.fdb.RemovePort(p)
	f.mu.Unlock()
	if _, ok := p.dev.(AddressFilter); ok {
		f.filters.Add(-1)
	}
	f.macsMayHaveChanged()
	close(p.quit)
	if caller != detachFromWriter {
		<-p.writerDone
	}
	f.log.Info("port detached", "port", p.Name, "reason", cause, "fdb_entries_flushed", n)
	close(p.gone)
}

func (f *Fabric) readLoop(p *port) {
	defer f.wg.Done()
	defer close(p.readerDone)
	bs := batchSize(p.dev)
	bufLen := p.maxLen + frames.TagLen
	if p.gso != nil {
		bufLen = MaxGSOFrame
	}
	b := newBatch(bs, bufLen)
	b.stallAfter = f.flow.StallAfter
	for {
		var n int
		var err error
		if p.gso != nil {
			n, err = p.gso.ReadGSO(b.bufs, b.sizes, b.rhdrs)
		} else {
			n, err = p.dev.Read(b.bufs, b.sizes)
		}
		if n > 0 && !p.stopping.Load() {
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
		case <-p.tx.wake:
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
				continue
			}
			n := f.fdb.Flush(func(e fdb.Entry[*port]) bool { return e.Port == p })
			f.macsMayHaveChanged()
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

// maxBatch bounds the batch size a backend may ask for.
const maxBatch = 256

func batchSize(p Port) int {
	return min(max(p.BatchSize(), 1), maxBatch)
}

// PortInfo describes an attached port for dumps.
type PortInfo struct {
	Name       string    `json:"name"`
	Kind       string    `json:"kind"`
	Device     string    `json:"device,omitempty"`
	Info       string    `json:"info,omitempty"`
	State      string    `json:"state"`
	VLAN       uint16    `json:"vlan,omitempty"`
	Trunk      string    `json:"trunk,omitempty"`
	MTU        int       `json:"mtu"`
	MAC        string    `json:"mac,omitempty"`
	Learning   bool      `json:"learning"`
	Flood      bool      `json:"flood"`
	TxQueueLen int       `json:"txqueue"`
	TxQueued   int       `json:"tx_queued"`
	FDB        int       `json:"fdb_entries"`
	Attached   time.Time `json:"attached"`
	Counters   Counters  `json:"counters"`
	// BackendDrops are the backend's own drops by reason (see
	// BackendDropper).
	BackendDrops map[string]uint64 `json:"backend_drops,omitempty"`
}

// Ports returns the attached ports, and devices that have no port (a
// listening socket with no client yet), sorted by name.
func (f *Fabric) Ports() []PortInfo {
	counts := map[*port]int{}
	for _, e := range f.fdb.Entries() {
		counts[e.Port]++
	}
	var out []PortInfo
	for _, p := range f.ports.Load().list {
		pi := PortInfo{
			Name: p.Name, Kind: p.Kind, Device: p.Device, Info: p.Info, State: p.state(),
			VLAN: p.VLAN, Trunk: FormatVLANList(p.Trunk), MTU: p.MTU,
			Learning: !p.NoLearning, Flood: !p.NoFlood,
			TxQueueLen: p.TxQueueLen, TxQueued: p.tx.len(), FDB: counts[p],
			Attached: p.attached, Counters: p.c.snapshot(),
		}
		if !p.MAC.IsZero() {
			pi.MAC = p.MAC.String()
		}
		if d, ok := p.dev.(RxDropper); ok {
			pi.Counters.RxBackend = d.RxDropped()
		}
		if d, ok := p.dev.(BackendDropper); ok {
			pi.BackendDrops = d.BackendDrops()
		}
		out = append(out, pi)
	}
	f.mu.Lock()
	for _, d := range f.devices {
		state := "listening"
		if ds, ok := d.dev.(DeviceStater); ok {
			state = ds.State()
		}
		out = append(out, PortInfo{Name: d.name, Kind: d.kind, Info: d.dev.Info(), State: state,
			VLAN: d.cfg.VLAN, Trunk: FormatVLANList(d.cfg.Trunk), MTU: d.cfg.MTU,
			Learning: !d.cfg.NoLearning, Flood: !d.cfg.NoFlood, TxQueueLen: d.cfg.TxQueueLen, Attached: d.opened})
	}
	f.mu.Unlock()
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// Entry is an FDB entry with its port's name, for dumps.
type Entry struct {
	Port   string     `json:"port"`
	VLAN   uint16     `json:"vlan"`
	MAC    frames.MAC `json:"mac"`
	Static bool       `json:"static"`
	Age    float64    `json:"age_seconds"`
	// Via is the remote endpoint (VTEP) the MAC lives behind, on a tunnel
	// port (see RemoteLocator).
	Via string `json:"via,omitempty"`
}

// Entries returns the learning table, sorted by port, VLAN and MAC.
func (f *Fabric) Entries() []Entry {
	var out []Entry
	for _, e := range f.fdb.Entries() {
		out = append(out, Entry{Port: e.Port.Name, VLAN: e.VLAN, MAC: e.MAC, Static: e.Static, Age: e.Age.Seconds(),
			Via: via(e.Port, e.VLAN, e.MAC)})
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Port < out[j].Port })
	return out
}

// Stats are the fabric-wide counters and the learning table's.
type Stats struct {
	Uptime   float64        `json:"uptime_seconds"`
	Ports    int            `json:"ports"`
	Fabric   FabricCounters `json:"fabric"`
	FDB      fdb.Stats      `json:"fdb"`
	FDBAging float64        `json:"fdb_aging_seconds"`
}

// Stats returns the fabric's counters.
func (f *Fabric) Stats() Stats {
	return Stats{
		Uptime: time.Since(f.started).Seconds(),
		Ports:  len(f.ports.Load().list),
		Fabric: FabricCounters{
			Forwarded: f.counters.forwarded.Load(),
			Flooded:   f.counters.flooded.Load(),
			Filtered:  f.counters.filtered.Load(),
		},
		FDB:      f.fdb.Stats(),
		FDBAging: f.fdb.Aging().Seconds(),
	}
}

// AddStatic adds a static entry. The port must be attached unless
// allowAbsent is set (command-line entries may name ports that attach
// later, like a listener's clients); the entry is installed whenever a port
// of that name is attached.
func (f *Fabric) AddStatic(s Static, allowAbsent bool) error {
	if s.VLAN == 0 {
		s.VLAN = DefaultVLAN
	}
	if s.VLAN > frames.MaxVLAN {
		return fmt.Errorf("VLAN %d is out of range 1-4094", s.VLAN)
	}
	if !s.MAC.IsUnicast() {
		return fmt.Errorf("%s is not a unicast MAC address: only unicast addresses can be static entries", s.MAC)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	p := f.ports.Load().byName[s.Port]
	if p == nil && !allowAbsent {
		return fmt.Errorf("no port named %q", s.Port)
	}
	if p != nil {
		if !p.member(s.VLAN) {
			return fmt.Errorf("port %q is not a member of VLAN %d", s.Port, s.VLAN)
		}
		if err := f.fdb.AddStatic(s.VLAN, s.MAC, p); err != nil {
			return err
		}
	}
	f.statics = slices.DeleteFunc(f.statics, func(o Static) bool { return o.VLAN == s.VLAN && o.MAC == s.MAC })
	f.statics = append(f.statics, s)
	f.macsMayHaveChanged()
	return nil
}

// DeleteEntry removes the entry for mac in vlan, static or learned.
func (f *Fabric) DeleteEntry(vlan uint16, mac frames.MAC) error {
	if vlan == 0 {
		vlan = DefaultVLAN
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	n := len(f.statics)
	f.statics = slices.DeleteFunc(f.statics, func(o Static) bool { return o.VLAN == vlan && o.MAC == mac })
	if !f.fdb.Delete(vlan, mac) && n == len(f.statics) {
		return fmt.Errorf("no entry for %s in VLAN %d", mac, vlan)
	}
	f.unpin(vlan, mac)
	f.macsMayHaveChanged()
	return nil
}

// Flush removes learned entries, of one port when portName is not empty,
// and returns how many. Static entries stay.
func (f *Fabric) Flush(portName string) (int, error) {
	defer f.macsMayHaveChanged()
	if portName == "" {
		return f.fdb.Flush(nil), nil
	}
	p := f.ports.Load().byName[portName]
	if p == nil {
		return 0, fmt.Errorf("no port named %q", portName)
	}
	return f.fdb.Flush(func(e fdb.Entry[*port]) bool { return e.Port == p }), nil
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

// describeVLANs formats a port's VLAN membership for logs and errors.
func describeVLANs(c PortConfig) string {
	if !c.IsTrunk() {
		return fmt.Sprintf("access vlan %d", c.VLAN)
	}
	s := "trunk " + FormatVLANList(c.Trunk)
	if c.VLAN != 0 {
		s += fmt.Sprintf(" native %d", c.VLAN)
	}
	return strings.TrimSpace(s)
}
