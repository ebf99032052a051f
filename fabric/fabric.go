package fabric

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/l2fabric/l2fabric/fabric/flowq"
	"github.com/l2fabric/l2fabric/fdb"
)

// Config configures a Fabric. Its zero value is usable: default FDB, no
// logging, no port kinds (ports can still be attached directly), default
// flow control.
type Config struct {
	// FDB configures the learning table.
	FDB fdb.Config
	// Logger receives the fabric's logs; nil discards them.
	Logger hclog.Logger
	// Kinds are the port kinds Open accepts.
	Kinds Kinds
	// FlowControl says how long a port's reader may wait for room in a
	// busy port's transmit queue before it drops (see FlowControl).
	FlowControl FlowControl
	// NoLoopDetect turns loop protection off: no probes, no blocking
	// (see loop.go).
	NoLoopDetect bool
	// Storm is the storm= limit of ports that have none, in broadcast,
	// multicast and unknown-unicast frames per second; 0 means no limit
	// (see storm.go).
	Storm int
}

// FlowControl says how the fabric treats a port whose transmit queue is
// full: the ports feeding it wait for room while it keeps sending, up to
// MaxHold per batch they read, and drop at once when it has sent nothing
// for StallAfter (it is stuck), or always with NoWait. The policy, and its
// price, are described once, in package flowq; the dgram listener applies
// the same one to its clients' receive queues.
//
// The zero value is the default: MaxHold 5 ms, StallAfter 10 ms, waiting
// on.
type FlowControl = flowq.Policy

// Defaults of FlowControl.
const (
	DefaultMaxHold    = flowq.DefaultMaxHold
	DefaultStallAfter = flowq.DefaultStallAfter
)

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
	loop     loopGuard
	storm    int // default storm= limit

	// retired holds the counters of detached ports, and detaching the
	// ports between leaving the port set and being retired, so that the
	// totals (Stats.Totals) survive ports coming and going; both are
	// guarded by mu.
	retired      Counters
	detaching    map[*port]struct{}
	detached     int    // ports retired
	retiredDevRx uint64 // RxDropped of closed devices

	// macsChanged is signalled when the set of MACs behind some port may
	// have changed; filters counts attached AddressFilter ports.
	macsChanged chan struct{}
	filters     atomic.Int32

	captures captureHub // running captures (capture.go)
	events   eventHub   // monitor subscribers (events.go)
}

// New creates a fabric.
func New(cfg Config) (*Fabric, error) {
	if err := cfg.FlowControl.Validate(); err != nil {
		return nil, err
	}
	if cfg.Storm < 0 || cfg.Storm > MaxStorm {
		return nil, fmt.Errorf("storm default %d: want 0 (off) to %d frames per second", cfg.Storm, MaxStorm)
	}
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
		flow:    cfg.FlowControl.WithDefaults(),
		moveLog: rateLimiter{every: 100 * time.Millisecond},
		started: time.Now(),
		storm:   cfg.Storm,

		detaching:   map[*port]struct{}{},
		macsChanged: make(chan struct{}, 1),
	}
	f.loop.init(cfg.NoLoopDetect)
	f.ports.Store(newPortSet(nil))
	table.SetObserver(fdbObserver{f})
	return f, nil
}

// Errors of the fabric's operations, for errors.Is.
var (
	// ErrClosed is returned by operations on a fabric that has stopped.
	ErrClosed = errors.New("fabric stopped")
	// ErrNameInUse is wrapped by the error of an Attach or Open whose
	// port or device name is taken by an attached port or an open device.
	ErrNameInUse = errors.New("name already in use")
)

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
	loopDone := make(chan struct{})
	go func() {
		defer close(loopDone)
		if !f.loop.off {
			f.loopRun(ctx)
		}
	}()
	for {
		select {
		case <-ctx.Done():
			<-filtersDone
			<-loopDone
			f.shutdown()
			return nil
		case <-tick.C:
			if n := f.Expire(); n > 0 {
				f.log.Debug("fdb entries expired", "count", n)
			}
		}
	}
}

// shutdown closes every device and port and waits for the port goroutines.
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
