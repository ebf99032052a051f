//go:build linux || darwin

package feth

// The macOS feth port, apart from its system calls: the spec, opening (a
// feth pair, one end in the bridge, the fabric switching the other), the
// link state, and closing. feth_darwin.go binds it to the real system;
// the tests bind it to a model of the kernel.

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/l2fabric/l2fabric/backends/internal/linkwatch"
	"github.com/l2fabric/l2fabric/fabric"
)

var macForms = []string{"feth:BRIDGE[,dev=fethN]"}

// macOptions are the feth-specific parts of a spec on macOS.
type macOptions struct {
	bridge string
	dev    string // the member's name, or "feth" for the kernel's choice
}

// validIfName checks an interface name as the kernel takes it.
func validIfName(name string) error {
	switch {
	case name == "":
		return errors.New("interface name is empty")
	case len(name) >= ifNameSize:
		return fmt.Errorf("interface name %q is %d bytes, longer than the %d macOS allows", name, len(name), ifNameSize-1)
	case strings.ContainsAny(name, "/: \t\n\r\v\f\x00"):
		return fmt.Errorf("interface name %q contains '/', ':' or white space", name)
	}
	return nil
}

func parseMacOptions(s fabric.Spec) (macOptions, error) {
	o := macOptions{bridge: s.Arg, dev: fethPrefix}
	fail := func(part, reason string) (macOptions, error) {
		return macOptions{}, &fabric.SpecError{Spec: s.Text, Part: part, Reason: reason, Hint: "forms: " + strings.Join(macForms, " | ")}
	}
	if o.bridge == "" {
		return fail("", "missing bridge name")
	}
	if err := validIfName(o.bridge); err != nil {
		return fail(o.bridge, err.Error())
	}
	for _, opt := range s.Options {
		if opt.Key == "dev" {
			if !unitName(opt.Value, fethPrefix) {
				return fail("dev="+opt.Value, fmt.Sprintf("the kernel names a feth feth<unit>, the unit 0-%d", maxUnit))
			}
			o.dev = opt.Value
		}
	}
	return o, nil
}

// switchedPort is the port on the switched end of the pair: a
// bpfndrv.Port on macOS.
type switchedPort interface {
	fabric.Port
	fabric.Linker
	fabric.AddressFilter
	fabric.RxDropper
}

// Backoff of a check that failed in a way no link event will fix (a
// feth that could not be created again, an ioctl that failed): retried
// after minRetry, doubling up to maxRetry, until it works or an event
// comes.
const (
	minRetry = 50 * time.Millisecond
	maxRetry = 5 * time.Second
)

// system is what the macOS port runs on.
type system struct {
	ops   ifOps
	store *pairStore
	self  procInfo
	// isRoot reports whether the process may create interfaces.
	isRoot func() bool
	// openSwitched opens the port on the switched end.
	openSwitched func(ifname string, log hclog.Logger) (switchedPort, error)
	// links is where the link events that make the port check its pair
	// come from.
	links func() (linkwatch.Source, error)

	cleanOnce sync.Once
}

// kind returns the feth kind on sys.
func (sys *system) kind() fabric.Kind {
	return fabric.Kind{
		Name:    "feth",
		Summary: "the host through a bridge: a feth pair, one end in the bridge, the other switched (macOS)",
		Forms:   macForms,
		Keys:    []string{"dev"},
		Check: func(s fabric.Spec, _ fabric.PortConfig) error {
			_, err := parseMacOptions(s)
			return err
		},
		Open: sys.open,
	}
}

func (sys *system) open(_ context.Context, s fabric.Spec, cfg fabric.PortConfig, a fabric.Attacher) (fabric.Opened, error) {
	o, err := parseMacOptions(s)
	if err != nil {
		return fabric.Opened{}, err
	}
	log := a.Logger().Named("feth")
	if !sys.isRoot() {
		return fabric.Opened{}, errNeedRoot
	}
	sys.cleanOnce.Do(func() {
		sys.store.setLogger(log)
		if err := sys.store.cleanUp(sys.ops, sys.self); err != nil {
			log.Warn("feth pairs left by an earlier run not cleaned up", "record", sys.store.path, "error", err)
		}
	})
	bridgeMTU, err := sys.bridgeMTU(o.bridge)
	if err != nil {
		return fabric.Opened{}, err
	}
	mtu := cfg.MTU
	if mtu == 0 {
		// The bridge's, so that joining it neither fails (a bridge
		// with members takes only its MTU) nor lowers it (an empty
		// one takes its first member's).
		mtu = bridgeMTU
	}
	m := &pairMaker{ops: sys.ops, store: sys.store, self: sys.self, log: log}
	pair, err := m.createPair(o.bridge, o.dev, mtu)
	if err != nil {
		return fabric.Opened{}, err
	}
	sp, err := sys.openSwitched(pair.switched, log)
	if err != nil {
		m.destroyPair(pair)
		return fabric.Opened{}, fmt.Errorf("switching %s: %w", pair.switched, err)
	}
	if cfg.Name == "" {
		cfg.Name = "feth-" + o.bridge
	}
	cfg.Kind = "feth"
	cfg.MTU = mtu
	cfg.Info = fmt.Sprintf("%s in bridge %s, switched through its peer %s", pair.member, o.bridge, pair.switched)
	// The bridge's LAN: probe it for loops.
	cfg.LoopProbes = true
	p, err := sys.newPort(sp, m, pair, log) // pair is its supervisor's from here
	if err != nil {
		sp.Close()
		m.destroyPair(pair)
		return fabric.Opened{}, err
	}
	port, err := p.port()
	if err != nil {
		p.Close()
		return fabric.Opened{}, err
	}
	return fabric.Opened{Port: port, Config: cfg}, nil
}

// newPort makes the port of pair on the system's link events.
func (sys *system) newPort(sp switchedPort, m *pairMaker, pair *fethPair, log hclog.Logger) (*fethPort, error) {
	src, err := sys.links()
	if err != nil {
		return nil, fmt.Errorf("watching the links of %s: %w", pair.member, err)
	}
	p, err := newFethPort(sp, m, pair, src, log)
	if err != nil {
		return nil, fmt.Errorf("watching the links of %s: %w", pair.member, err)
	}
	return p, nil
}

// fethPort is a feth pair seen as a port (see port): frames move through
// the switched end's port, the link is up while that port's is and the
// member is in the bridge, and closing destroys the pair.
type fethPort struct {
	sw switchedPort // Read, Write, BatchSize, SetRemoteMACs, RxDropped

	m     *pairMaker
	k     *keeper
	pair  *fethPair
	inner <-chan fabric.LinkEvent // the switched port's link events
	link  *fabric.LinkState
	w     *linkwatch.Watcher // every interface's link events
	kick  chan struct{}      // a token when an interface changed

	done      chan struct{}
	supDone   chan struct{}
	closeOnce sync.Once
	closeErr  error

	// Supervisor state.
	innerUp, bridgeUp         bool
	innerReason, bridgeReason string
	up                        bool
	reason                    string
}

// port returns the port the fabric attaches: the switched end's port,
// with the pair's link and Close, and every optional interface of its own.
func (p *fethPort) port() (fabric.Port, error) {
	return fabric.Wrap(p.sw, fabric.Hooks{Close: p.Close, LinkEvents: p.LinkEvents})
}

// newFethPort makes the port of pair, switched through sp, and starts
// watching every interface's link events through src: a change of any of
// them (the member, the switched end, the bridge, or a feth that takes a
// recycled index) makes the keeper check the pair.
func newFethPort(sp switchedPort, m *pairMaker, pair *fethPair, src linkwatch.Source, log hclog.Logger) (*fethPort, error) {
	p := &fethPort{
		sw:       sp,
		m:        m,
		k:        &keeper{m: m, p: pair, log: log},
		pair:     pair,
		kick:     make(chan struct{}, 1),
		inner:    sp.LinkEvents(),
		link:     fabric.NewLinkState(),
		done:     make(chan struct{}),
		supDone:  make(chan struct{}),
		innerUp:  true,
		bridgeUp: true,
		up:       true,
	}
	w, err := linkwatch.Watch(src, nil, log, func(linkwatch.Event) {
		select {
		case p.kick <- struct{}{}:
		default:
		}
	})
	if err != nil {
		return nil, err
	}
	p.w = w
	go p.supervise()
	return p, nil
}

// LinkEvents reports the pair's link: the port's LinkEvents.
func (p *fethPort) LinkEvents() <-chan fabric.LinkEvent { return p.link.LinkEvents() }

// supervise checks the bridge side whenever an interface changes, and
// follows the switched port's link, until Close. A check that failed in
// a way no event will repair is retried with a backoff.
func (p *fethPort) supervise() {
	defer close(p.supDone)
	retry := time.NewTimer(time.Hour)
	retry.Stop()
	defer retry.Stop()
	var backoff time.Duration
	inner := p.inner
	for {
		select {
		case <-p.done:
			return
		case ev, ok := <-inner:
			if !ok {
				inner = nil
				continue
			}
			p.innerUp, p.innerReason = ev.Up, ev.Reason
			p.report(ev.Reason)
			continue
		case <-p.kick:
		case <-retry.C:
		}
		st := p.k.check()
		if st.retry || !st.known {
			backoff = min(max(2*backoff, minRetry), maxRetry)
			retry.Reset(backoff)
		} else {
			backoff = 0
		}
		if !st.known {
			continue
		}
		p.bridgeUp, p.bridgeReason = st.up, st.text
		p.report(st.text)
	}
}

// report sends the link's state if it changed (or, while down, if the
// reason did). note is what brought it up, if it is up.
func (p *fethPort) report(note string) {
	up := p.innerUp && p.bridgeUp
	reason := note
	switch {
	case !p.bridgeUp:
		reason = p.bridgeReason
	case !p.innerUp:
		reason = p.innerReason
	case reason == "":
		reason = "interface " + p.pair.member + " up"
	}
	if up == p.up && (up || reason == p.reason) {
		return
	}
	p.up, p.reason = up, reason
	p.link.Set(up, reason, true)
}

// Close closes the switched port and destroys the pair: the port's Close.
func (p *fethPort) Close() error {
	p.closeOnce.Do(func() {
		close(p.done)
		p.w.Close()
		<-p.supDone
		err := p.sw.Close()
		p.closeErr = errors.Join(err, p.m.destroyPair(p.pair))
		p.link.Close()
	})
	return p.closeErr
}
