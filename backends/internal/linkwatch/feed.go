package linkwatch

import (
	"slices"
	"sync"
)

// Feed is a Source driven by calls: a model of the kernel's interface
// list for tests of the packages that use a Supervisor. Set and Delete
// change an interface and report it to every subscription; Drop ends the
// subscriptions as the kernel does when its buffer overflows.
type Feed struct {
	mu    sync.Mutex
	links map[int]Link // by index
	subs  []*feedSub
	// subscribeErr, when set, fails the next subscriptions.
	subscribeErr error
}

// NewFeed returns a Feed holding links.
func NewFeed(links ...Link) *Feed {
	f := &Feed{links: make(map[int]Link)}
	for _, l := range links {
		f.links[l.Index] = l
	}
	return f
}

type feedSub struct {
	mu    sync.Mutex
	queue []Update
	ended bool
	wake  chan struct{}
}

func (s *feedSub) push(u Update, end bool) {
	s.mu.Lock()
	if !s.ended {
		if end {
			s.ended = true
		} else {
			s.queue = append(s.queue, u)
		}
	}
	s.mu.Unlock()
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// Subscribe implements Source.
func (f *Feed) Subscribe(done <-chan struct{}, updates chan<- Update, _ func(error)) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.subscribeErr != nil {
		return f.subscribeErr
	}
	s := &feedSub{wake: make(chan struct{}, 1)}
	idx := make([]int, 0, len(f.links))
	for i := range f.links {
		idx = append(idx, i)
	}
	slices.Sort(idx)
	for _, i := range idx {
		s.queue = append(s.queue, Update{Link: f.links[i]})
	}
	f.subs = append(f.subs, s)
	go func() {
		defer close(updates)
		for {
			s.mu.Lock()
			q, ended := s.queue, s.ended
			s.queue = nil
			s.mu.Unlock()
			for _, u := range q {
				select {
				case updates <- u:
				case <-done:
					return
				}
			}
			if ended {
				return
			}
			select {
			case <-s.wake:
			case <-done:
				return
			}
		}
	}()
	return nil
}

// Lookup implements Source.
func (f *Feed) Lookup(name string) (Link, bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, l := range f.links {
		if l.Name == name {
			return l, true, nil
		}
	}
	return Link{}, false, nil
}

// Set makes l the state of the interface with its index, and reports it.
func (f *Feed) Set(l Link) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.links[l.Index] = l
	for _, s := range f.subs {
		s.push(Update{Link: l}, false)
	}
}

// Delete removes the interface with index i, and reports it.
func (f *Feed) Delete(i int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	l, ok := f.links[i]
	if !ok {
		return
	}
	delete(f.links, i)
	for _, s := range f.subs {
		s.push(Update{Link: l, Deleted: true}, false)
	}
}

// Drop ends every subscription after the updates already reported, as an
// overflow of the kernel's buffer does; changes made until the watcher
// subscribes again are seen only in its new listing.
func (f *Feed) Drop() {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, s := range f.subs {
		s.push(Update{}, true)
	}
	f.subs = nil
}

// FailSubscribe makes subscriptions fail with err until it is called
// with nil.
func (f *Feed) FailSubscribe(err error) {
	f.mu.Lock()
	f.subscribeErr = err
	f.mu.Unlock()
}
