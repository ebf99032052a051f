package fabric

import (
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/l2fabric/l2fabric/frames"
)

// Attach puts dev on the fabric under cfg and starts forwarding its frames.
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
	if p.gso == nil { // a GSOPort is read with ReadGSO
		p.views, _ = dev.(ViewReader)
	}
	p.id = f.loop.nextID.Add(1)
	if pps := cfg.Storm; pps > 0 || (pps == 0 && f.storm > 0) {
		if pps == 0 {
			pps = f.storm
		}
		p.storm = newTokenBucket(pps, p.attached)
	}
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
		return fmt.Errorf("port %q: %w (give the port another with name=)", cfg.Name, ErrNameInUse)
	}
	if _, dup := f.devices[cfg.Name]; dup {
		return fmt.Errorf("port %q: %w by a device (give the port another with name=)", cfg.Name, ErrNameInUse)
	}
	f.ports.Store(newPortSet(append(slices.Clone(old.list), p)))
	for _, s := range f.statics {
		if s.Port == p.Name {
			if !p.member(s.VLAN) {
				f.log.Warn("static entry not installed: the port is not a member of its VLAN", "port", p.Name, "mac", s.MAC, "vlan", s.VLAN, "port_vlans", DescribeVLANs(p.VLAN, FormatVLANList(p.Trunk)))
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
	f.log.Info("port attached", "port", p.Name, "kind", p.Kind, "info", p.Info, "vlans", DescribeVLANs(p.VLAN, FormatVLANList(p.Trunk)), "mtu", p.MTU)
	f.publish(Event{Type: EventPortAttached, Port: p.Name, Kind: p.Kind})
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

// detachCaller says which goroutine detaches a port: its own reader or
// writer must not wait for itself.
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
	p.tx.close() // senders waiting for room give up
	if err := p.dev.Close(); err != nil {
		f.log.Debug("closing port", "port", p.Name, "error", err)
	}
	if caller != detachFromReader {
		<-p.readerDone
	}
	f.mu.Lock()
	old := f.ports.Load()
	f.ports.Store(newPortSet(slices.DeleteFunc(slices.Clone(old.list), func(q *port) bool { return q == p })))
	f.detaching[p] = struct{}{}
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
	f.retire(p)
	f.log.Info("port detached", "port", p.Name, "reason", cause, "fdb_entries_flushed", n)
	f.publish(Event{Type: EventPortDetached, Port: p.Name, Kind: p.Kind, Reason: cause.Error(), Count: n})
	close(p.gone)
}

// retire folds the counters of p, detached, into the fabric's totals. What
// its transmit queue still holds was never sent: it is dropped as
// detached. (When the writer itself detaches the port, it has stopped
// taking from the queue.)
func (f *Fabric) retire(p *port) {
	p.c.detached.Add(uint64(p.tx.len()))
	c := p.counters()
	f.mu.Lock()
	f.retired.add(c)
	f.detached++
	delete(f.detaching, p)
	f.mu.Unlock()
}

// device is an open Device and how it was opened.
type device struct {
	name   string
	kind   string
	spec   string
	cfg    PortConfig
	dev    Device
	opened time.Time
}

// Open parses text as a port spec, opens its backend and attaches what it
// creates: the device it returns, if any, then the port it returns, if any.
// It returns the name of the device, or else of the port.
func (f *Fabric) Open(text string) (string, error) {
	k, spec, cfg, err := f.kinds.Parse(text)
	if err != nil {
		return "", err
	}
	f.mu.Lock()
	closed := f.closed
	f.mu.Unlock()
	if closed {
		return "", ErrClosed
	}
	o, err := k.Open(f.ctx, spec, cfg, &attacher{f: f})
	if err != nil {
		return "", f.explainInUse(text, err)
	}
	var d *device
	if o.Device != nil {
		if d, err = f.addDevice(o.Device, k.Name, text, cfg); err != nil {
			if o.Port != nil {
				o.Port.Close()
			}
			return "", fmt.Errorf("%s: %w", text, err)
		}
	}
	if o.Port != nil {
		if err := f.Attach(o.Port, o.Config); err != nil {
			o.Port.Close()
			if d != nil {
				f.closeDevice(d)
			}
			return "", fmt.Errorf("%s: %w", text, err)
		}
	}
	switch {
	case d != nil:
		return d.name, nil
	case o.Port != nil:
		return o.Config.Name, nil
	}
	return "", fmt.Errorf("%s: internal error: the %s backend opened neither a port nor a device", text, k.Name)
}

// addDevice keeps dev, opened by kind from spec with the common options
// cfg, until it is detached or the fabric stops. It closes dev if its name
// is taken.
func (f *Fabric) addDevice(dev Device, kind, spec string, cfg PortConfig) (*device, error) {
	name := dev.Name()
	f.mu.Lock()
	_, dup := f.devices[name]
	_, dupPort := f.ports.Load().byName[name]
	closed := f.closed
	d := &device{name: name, kind: kind, spec: spec, cfg: cfg.withDefaults(), dev: dev, opened: time.Now()}
	if !dup && !dupPort && !closed {
		f.devices[name] = d
	}
	f.mu.Unlock()
	switch {
	case dup || dupPort:
		dev.Close()
		return nil, fmt.Errorf("device %q: %w (give it another with name=)", name, ErrNameInUse)
	case closed:
		dev.Close()
		return nil, ErrClosed
	}
	return d, nil
}

// closeDevice closes d and forgets it.
func (f *Fabric) closeDevice(d *device) {
	f.mu.Lock()
	if f.devices[d.name] != d {
		f.mu.Unlock()
		return
	}
	delete(f.devices, d.name)
	f.mu.Unlock()
	if err := d.dev.Close(); err != nil {
		f.log.Warn("closing device", "device", d.name, "error", err)
	}
	if r, ok := d.dev.(RxDropper); ok {
		f.mu.Lock()
		f.retiredDevRx += r.RxDropped()
		f.mu.Unlock()
	}
	// Ports the device did not detach itself go now.
	for _, p := range f.ports.Load().list {
		if p.Device == d.name {
			f.detach(p, fmt.Errorf("device %s closed", d.name), detachExternal)
		}
	}
	f.log.Info("device closed", "device", d.name)
}

// attacher is the Attacher a backend gets from Open.
type attacher struct{ f *Fabric }

func (a *attacher) Attach(p Port, cfg PortConfig) error { return a.f.Attach(p, cfg) }

func (a *attacher) Detach(name string) error {
	p := a.f.ports.Load().byName[name]
	if p == nil {
		return fmt.Errorf("no port named %q", name)
	}
	a.f.detach(p, fmt.Errorf("detached by its device"), detachExternal)
	return nil
}

func (a *attacher) Logger() hclog.Logger { return a.f.log }

func (a *attacher) FlowControl() FlowControl { return a.f.flow }

// Devices returns the names of the open devices, sorted.
func (f *Fabric) Devices() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []string
	for n := range f.devices {
		out = append(out, n)
	}
	slices.Sort(out)
	return out
}
