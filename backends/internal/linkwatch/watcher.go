package linkwatch

import (
	"errors"
	"time"

	"github.com/hashicorp/go-hclog"
)

// Source is where link updates come from: the kernel (System), or a Feed
// in tests.
type Source interface {
	// Subscribe starts sending updates: first every interface that
	// exists, then each change, in the kernel's order, until done is
	// closed or the subscription fails (the kernel dropped events); then
	// it closes updates. Errors that do not end the subscription go to
	// report.
	Subscribe(done <-chan struct{}, updates chan<- Update, report func(error)) error
	// Lookup returns the interface called name now, and whether it
	// exists.
	Lookup(name string) (Link, bool, error)
}

// ErrUnsupported is returned by System where l2fabric has no link events.
var ErrUnsupported = errors.New("link events are not supported on this system")

// resubscribeWait is the pause before subscribing again after a
// subscription could not be made (not after one that ended: that is
// renewed at once).
const resubscribeWait = time.Second

// Watcher calls a function with the events of the interfaces it watches,
// in order, from a goroutine of its own, until Close.
type Watcher struct {
	src  Source
	t    *table
	fn   func(Event)
	log  hclog.Logger
	done chan struct{}
	exit chan struct{}
}

// Watch starts watching the interfaces called names (nil: every
// interface) through src, calling fn with each event. fn's first calls
// report the interfaces that exist (Event.Gone unset); it must not block
// for long, and must not call Close.
func Watch(src Source, names []string, log hclog.Logger, fn func(Event)) (*Watcher, error) {
	if log == nil {
		log = hclog.NewNullLogger()
	}
	w := &Watcher{src: src, t: newTable(names), fn: fn, log: log, done: make(chan struct{}), exit: make(chan struct{})}
	updates := make(chan Update, 64)
	if err := src.Subscribe(w.done, updates, w.report); err != nil {
		return nil, err
	}
	go w.run(updates)
	return w, nil
}

// Close stops the watcher and returns once fn is no longer called.
func (w *Watcher) Close() {
	select {
	case <-w.done:
	default:
		close(w.done)
	}
	<-w.exit
}

// report logs a source's error, unless it comes from closing.
func (w *Watcher) report(err error) {
	select {
	case <-w.done:
	default:
		w.log.Warn("link events", "error", err)
	}
}

// run delivers updates, and subscribes again when a subscription ends
// before Close: the kernel dropped events, so what was known is forgotten
// (reported gone) and learned again from the new subscription's listing.
func (w *Watcher) run(updates chan Update) {
	defer close(w.exit)
	for {
		for u := range updates {
			for _, ev := range w.t.apply(u) {
				w.fn(ev)
			}
		}
		select {
		case <-w.done:
			return
		default:
		}
		w.log.Warn("link events were lost: re-learning the interfaces")
		for _, ev := range w.t.forget() {
			w.fn(ev)
		}
		for {
			updates = make(chan Update, 64)
			err := w.src.Subscribe(w.done, updates, w.report)
			if err == nil {
				break
			}
			w.log.Warn("cannot subscribe to link events", "error", err)
			select {
			case <-w.done:
				return
			case <-time.After(resubscribeWait):
			}
		}
	}
}
