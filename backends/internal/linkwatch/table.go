package linkwatch

// table turns updates into events for the watched names. Its methods run
// on the watcher's goroutine only.
type table struct {
	names map[string]bool // nil: every interface
	links map[string]Link // the watched interfaces that exist, by name
}

func newTable(names []string) *table {
	t := &table{links: make(map[string]Link)}
	if names != nil {
		t.names = make(map[string]bool, len(names))
		for _, n := range names {
			t.names[n] = true
		}
	}
	return t
}

func (t *table) watched(name string) bool { return t.names == nil || t.names[name] }

// apply returns the events u means, in order.
func (t *table) apply(u Update) []Event {
	var evs []Event
	if u.Deleted {
		for name, l := range t.links {
			if l.Index == u.Link.Index {
				delete(t.links, name)
				evs = append(evs, Event{Link: l, Gone: true})
			}
		}
		return evs
	}
	// An interface we knew under another name was renamed away: gone,
	// as far as its old name goes.
	for name, l := range t.links {
		if l.Index == u.Link.Index && name != u.Link.Name {
			delete(t.links, name)
			evs = append(evs, Event{Link: l, Gone: true})
		}
	}
	if !t.watched(u.Link.Name) {
		return evs
	}
	if old, ok := t.links[u.Link.Name]; ok && old.Index != u.Link.Index {
		// Its deletion was not seen: the old one is gone all the same.
		evs = append(evs, Event{Link: old, Gone: true})
	}
	t.links[u.Link.Name] = u.Link
	return append(evs, Event{Link: u.Link})
}

// forget returns every known interface as gone, and forgets them: events
// were lost, so nothing known can be trusted.
func (t *table) forget() []Event {
	var evs []Event
	for name, l := range t.links {
		evs = append(evs, Event{Link: l, Gone: true})
		delete(t.links, name)
	}
	return evs
}
