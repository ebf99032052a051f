package linkwatch

import (
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/l2fabric/l2fabric/fabric"
)

// ErrNotFound is what Config.Open returns (wrapped) when the interface
// does not exist and it cannot create it.
var ErrNotFound = errors.New("no such network interface")

// Config says what a Supervisor keeps open, and how.
type Config[T any] struct {
	// Name is the interface.
	Name string
	// Also names other interfaces whose events matter to Check (the
	// bridge a TAP must be a port of).
	Also []string
	// Open opens a handle on the interface l and returns it with the
	// interface as opened. When the interface does not exist (l is zero
	// but for its name) it is called to create it: first by
	// NewSupervisor, then, with Create set, whenever it is deleted. A
	// port that cannot create its interface returns an error wrapping
	// ErrNotFound.
	Open func(l Link) (*T, Link, error)
	// Close releases a handle.
	Close func(*T)
	// Create makes the Supervisor create the interface again (through
	// Open) as soon as it is deleted, instead of waiting for it.
	Create bool
	// NeedCarrier makes the link down while the interface is up but has
	// no carrier (not IFF_RUNNING). A TAP has carrier while it is open,
	// so TAP ports leave it unset.
	NeedCarrier bool
	// Check, when set, is called with the interface after every event
	// (of it or of an Also interface), lookup giving the others' state.
	// It repairs what it can (re-joins a bridge) and returns an error
	// while the link cannot be up, the error's text the reason; else the
	// note to give if the link comes up (or ""). An error on the first
	// call fails NewSupervisor.
	Check func(dev Link, lookup func(name string) (Link, bool)) (note string, err error)
	// Log receives what happens to the interface. nil discards it.
	Log hclog.Logger
	// Source is where link events come from; nil means System().
	Source Source
}

// Supervisor keeps a handle of type *T open on an interface as it comes
// and goes, and reports the link's state as a fabric.Linker does:
//
//   - the interface deleted (or renamed away): the link goes down, the
//     handle is closed (with Create, the interface is created again at
//     once through Open);
//   - the interface back, under any index (xnu recycles them): the
//     handle is reopened, and the link comes up. A deletion and a return
//     are always reported down then up, so the fabric forgets what it
//     learned on the old interface;
//   - set down, or (with NeedCarrier) without carrier: the link is down,
//     the handle stays. (Right after a handle is opened, events still
//     queued may predate it, a TAP's creation before Open set it up: a
//     down they report is checked against the kernel's state now.)
//   - a handle its user found dead (Dead): it is reopened;
//   - an interface that exists but cannot be opened (a TAP another
//     process still holds): the link is down, and opening is retried
//     with a backoff (50 ms doubling to 5 s) until it works or the
//     interface goes. That is the only timer: nothing polls the
//     interface's state.
//
// Every decision is taken on one goroutine, in the order of the events.
type Supervisor[T any] struct {
	cfg  Config[T]
	src  Source
	log  hclog.Logger
	link *fabric.LinkState
	w    *Watcher

	cur     atomic.Pointer[T]
	mu      sync.Mutex // guards changed, pending, dead and the swap of cur
	changed chan struct{}
	pending []Event
	dead    *T
	retry   bool // a reopen failed and its backoff has passed

	wake      chan struct{}
	done      chan struct{}
	exit      chan struct{}
	closeOnce sync.Once

	// The run goroutine's.
	links    map[string]Link // the watched interfaces that exist
	index    int             // the index cur was opened on
	up       bool
	reason   string
	reopened string // why the handle was reopened, for when the link comes up
	// stale: the handle was just opened, and events still queued may
	// describe the interface before that (a TAP's creation, before Open
	// set it up): until one shows it up, a down is checked against the
	// kernel's state now.
	stale    bool
	lastWarn string
	backoff  time.Duration // before the next reopen attempt, 0 while none failed
	timer    *time.Timer
}

// Backoff of reopening an interface that exists but cannot be opened
// (a TAP another process still holds, a device still being set up):
// retried after minRetry, doubling up to maxRetry, until it opens, the
// interface goes, or an event comes.
const (
	minRetry = 50 * time.Millisecond
	maxRetry = 5 * time.Second
)

// NewSupervisor opens a handle on cfg.Name (cfg.Open may create the
// interface) and keeps it open until Close. Its link starts up unless the
// interface is down.
func NewSupervisor[T any](cfg Config[T]) (*Supervisor[T], error) {
	if cfg.Log == nil {
		cfg.Log = hclog.NewNullLogger()
	}
	src := cfg.Source
	if src == nil {
		var err error
		if src, err = System(); err != nil {
			return nil, err
		}
	}
	s := &Supervisor[T]{
		cfg:     cfg,
		src:     src,
		log:     cfg.Log,
		link:    fabric.NewLinkState(),
		changed: make(chan struct{}),
		wake:    make(chan struct{}, 1),
		done:    make(chan struct{}),
		exit:    make(chan struct{}),
		links:   make(map[string]Link),
		up:      true,
	}
	// Subscribe before looking: nothing that happens from here on is
	// missed.
	w, err := Watch(src, append([]string{cfg.Name}, cfg.Also...), cfg.Log, s.enqueue)
	if err != nil {
		return nil, fmt.Errorf("watching %s: %w", cfg.Name, err)
	}
	s.w = w
	fail := func(err error) (*Supervisor[T], error) {
		w.Close()
		return nil, err
	}
	for _, name := range cfg.Also {
		if l, ok, err := src.Lookup(name); err != nil {
			return fail(err)
		} else if ok {
			s.links[name] = l
		}
	}
	dev, ok, err := src.Lookup(cfg.Name)
	switch {
	case err != nil:
		return fail(err)
	case !ok:
		// Open decides: a port that creates its interface (a TAP)
		// does, one that needs it fails.
		dev = Link{Name: cfg.Name}
	}
	h, opened, err := cfg.Open(dev)
	if err != nil {
		return fail(err)
	}
	s.install(h)
	s.index, s.links[cfg.Name], s.stale = opened.Index, opened, true
	if cfg.Check != nil {
		if _, err := cfg.Check(opened, s.lookup); err != nil {
			s.cur.Store(nil)
			cfg.Close(h)
			return fail(err)
		}
	}
	if up, reason := s.judge(opened); !up {
		s.report(false, reason)
	}
	go s.run()
	return s, nil
}

// Current returns the handle now open, nil while there is none.
func (s *Supervisor[T]) Current() *T { return s.cur.Load() }

// Handle returns the handle now open (nil while there is none) and a
// channel closed at the next change: of the handle, or of the link's
// state.
func (s *Supervisor[T]) Handle() (*T, <-chan struct{}) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.cur.Load(), s.changed
}

// Up reports the link's state as last reported.
func (s *Supervisor[T]) Up() bool { return s.link.Up() }

// Done is closed when Close starts.
func (s *Supervisor[T]) Done() <-chan struct{} { return s.done }

// Dead tells the supervisor that h failed as a handle on an interface
// that is gone does: it is replaced, even if the interface seems the same
// (its index recycled before the events said so).
func (s *Supervisor[T]) Dead(h *T) {
	s.mu.Lock()
	if s.cur.Load() == h && h != nil {
		s.dead = h
	}
	s.mu.Unlock()
	s.kick()
}

// LinkEvents is the link's state changes, as fabric.Linker's.
func (s *Supervisor[T]) LinkEvents() <-chan fabric.LinkEvent { return s.link.LinkEvents() }

// Close stops watching, closes the handle and the link events channel.
// It is safe to call more than once.
func (s *Supervisor[T]) Close() {
	s.closeOnce.Do(func() {
		close(s.done)
		s.w.Close()
		<-s.exit
		s.mu.Lock()
		h := s.cur.Swap(nil)
		close(s.changed)
		s.changed = make(chan struct{})
		s.mu.Unlock()
		if h != nil {
			s.cfg.Close(h)
		}
		s.link.Close()
	})
}

// enqueue is the watcher's callback.
func (s *Supervisor[T]) enqueue(ev Event) {
	s.mu.Lock()
	s.pending = append(s.pending, ev)
	s.mu.Unlock()
	s.kick()
}

func (s *Supervisor[T]) kick() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// run handles events and dead handles, one at a time, until Close.
func (s *Supervisor[T]) run() {
	defer close(s.exit)
	defer func() {
		if s.timer != nil {
			s.timer.Stop()
		}
	}()
	for {
		select {
		case <-s.done:
			return
		case <-s.wake:
		}
		for {
			s.mu.Lock()
			evs, dead, retry := s.pending, s.dead != nil, s.retry
			s.pending, s.retry = nil, false
			s.mu.Unlock()
			if len(evs) == 0 && !dead && !retry {
				break
			}
			// One decision per event: a departure and an arrival in
			// the same batch must still close and reopen.
			for _, ev := range evs {
				name := ev.Link.Name
				if ev.Gone {
					if l, ok := s.links[name]; ok && l.Index == ev.Link.Index {
						delete(s.links, name)
					}
				} else {
					s.links[name] = ev.Link
				}
				s.reconcile()
				if !ev.Gone && name == s.cfg.Name && ev.Link.Index == s.index && ev.Link.Up {
					s.stale = false // the events have caught up with the handle
				}
			}
			if (dead || retry) && len(evs) == 0 {
				s.reconcile()
			}
		}
	}
}

// Closed reports whether Close was called.
func (s *Supervisor[T]) Closed() bool {
	select {
	case <-s.done:
		return true
	default:
		return false
	}
}

func (s *Supervisor[T]) lookup(name string) (Link, bool) {
	l, ok := s.links[name]
	return l, ok
}

// reconcile brings the handle and the link's state in line with what is
// known of the interface.
func (s *Supervisor[T]) reconcile() {
	name := s.cfg.Name
	dev, present := s.links[name]
	if cur := s.cur.Load(); cur != nil {
		s.mu.Lock()
		dead := s.dead == cur
		s.mu.Unlock()
		if !present || dev.Index != s.index || dead {
			s.install(nil)
			s.cfg.Close(cur)
			if !present {
				s.log.Warn("interface deleted", "interface", name)
				s.report(false, "interface "+name+" deleted")
			}
		}
	}
	if s.cur.Load() == nil {
		if s.Closed() {
			return
		}
		if !present && !s.cfg.Create {
			s.report(false, "interface "+name+" deleted")
			return
		}
		if !present {
			dev = Link{Name: name}
		}
		h, opened, err := s.cfg.Open(dev)
		if err != nil {
			if !present {
				s.warnOnce("cannot create the interface again", err)
				s.report(false, "interface "+name+" deleted")
				if s.cfg.Create {
					s.retryLater()
				}
				return
			}
			s.warnOnce("cannot reopen the interface", err)
			s.report(false, "cannot reopen "+name+": "+err.Error())
			s.retryLater()
			return
		}
		s.backoff = 0
		s.install(h)
		s.index, s.links[name], dev, s.stale = opened.Index, opened, opened, true
		if present {
			s.reopened = "interface " + name + " back"
			s.log.Info("interface back: reopened", "interface", name)
		} else {
			s.reopened = "interface " + name + " re-created"
			s.log.Info("interface created again", "interface", name)
		}
	}
	note := s.reopened
	if s.cfg.Check != nil {
		n, err := s.cfg.Check(dev, s.lookup)
		if err != nil {
			s.report(false, err.Error())
			return
		}
		if n != "" {
			note = n
		}
	}
	up, reason := s.judge(dev)
	if !up && s.stale {
		// The event may be older than the handle: the kernel's state
		// now decides. (Only then: a late but true down, as macOS's
		// RTM_IFINFO of a departure read after the index was reused,
		// must be reported.)
		if now, ok, err := s.src.Lookup(name); err == nil && ok && now.Index == dev.Index {
			s.links[name] = now
			up, reason = s.judge(now)
		}
	}
	if up && note != "" {
		reason = note
	}
	if up {
		s.lastWarn, s.reopened = "", ""
	}
	s.report(up, reason)
}

// retryLater schedules another reconcile after the backoff.
func (s *Supervisor[T]) retryLater() {
	s.backoff = min(max(2*s.backoff, minRetry), maxRetry)
	if s.timer != nil {
		s.timer.Stop()
	}
	s.timer = time.AfterFunc(s.backoff, func() {
		s.mu.Lock()
		s.retry = true
		s.mu.Unlock()
		s.kick()
	})
}

// judge says whether dev's flags let the link be up, and why not.
func (s *Supervisor[T]) judge(dev Link) (bool, string) {
	switch {
	case !dev.Up:
		return false, "interface " + dev.Name + " set down"
	case s.cfg.NeedCarrier && !dev.Running:
		return false, "interface " + dev.Name + " has no carrier"
	}
	return true, "interface " + dev.Name + " up"
}

// install makes h the current handle and wakes those waiting for a
// change.
func (s *Supervisor[T]) install(h *T) {
	s.mu.Lock()
	s.cur.Store(h)
	if s.dead != nil && s.dead != h {
		s.dead = nil
	}
	close(s.changed)
	s.changed = make(chan struct{})
	s.mu.Unlock()
}

// report sends the link's state if it changed (or, while down, if the
// reason did).
func (s *Supervisor[T]) report(up bool, reason string) {
	if up == s.up && (up || reason == s.reason) {
		return
	}
	s.up, s.reason = up, reason
	s.link.Set(up, reason, true)
	s.mu.Lock()
	close(s.changed)
	s.changed = make(chan struct{})
	s.mu.Unlock()
}

// warnOnce logs err unless it is the one logged last.
func (s *Supervisor[T]) warnOnce(msg string, err error) {
	if e := err.Error(); e != s.lastWarn {
		s.lastWarn = e
		s.log.Warn(msg, "interface", s.cfg.Name, "error", err)
	}
}
