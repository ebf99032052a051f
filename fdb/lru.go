package fdb

// This file holds the bookkeeping that is only touched with Table.mu held:
// the per-port lists of entries and the max-heap of ports ordered by their
// number of dynamic entries. Readers (Lookup and the refresh fast path of
// Learn) never look at any of it.

// list is an intrusive doubly linked list of entries. A port's dynamic list
// is kept in least-recently-seen order: entries are appended when learned
// and moved to the back when refreshed, so the head is the least recently
// seen entry (the one Expire and eviction look at first).
type list[P comparable] struct {
	head, tail *entry[P]
	n          int
}

// pushBack appends e, which must not be on any list.
func (l *list[P]) pushBack(e *entry[P]) {
	e.prev, e.next = l.tail, nil
	if l.tail != nil {
		l.tail.next = e
	} else {
		l.head = e
	}
	l.tail = e
	l.n++
}

// remove takes e, which must be on l, off l.
func (l *list[P]) remove(e *entry[P]) {
	if e.prev != nil {
		e.prev.next = e.next
	} else {
		l.head = e.next
	}
	if e.next != nil {
		e.next.prev = e.prev
	} else {
		l.tail = e.prev
	}
	e.prev, e.next = nil, nil
	l.n--
}

// moveToBack makes e, which must be on l, the most recently seen entry.
func (l *list[P]) moveToBack(e *entry[P]) {
	if l.tail == e {
		return
	}
	l.remove(e)
	l.pushBack(e)
}

// portState is what the table knows about one port: its entries and its
// position in the eviction heap. It exists while the port has at least one
// entry.
type portState[P comparable] struct {
	port P
	dyn  list[P] // dynamic entries, least recently seen first
	stat list[P] // static entries, in no particular order
	hi   int     // index in Table.heap
}

// portHeap is a binary max-heap of ports keyed by their number of dynamic
// entries, so that the port holding the most dynamic entries (the eviction
// victim, as in Open vSwitch) is found in O(1) and kept up to date in
// O(log ports) per change.
type portHeap[P comparable] []*portState[P]

func (h portHeap[P]) less(i, j int) bool { return h[i].dyn.n > h[j].dyn.n }

func (h portHeap[P]) swap(i, j int) {
	h[i], h[j] = h[j], h[i]
	h[i].hi = i
	h[j].hi = j
}

func (h portHeap[P]) up(i int) {
	for i > 0 {
		p := (i - 1) / 2
		if !h.less(i, p) {
			return
		}
		h.swap(i, p)
		i = p
	}
}

func (h portHeap[P]) down(i int) {
	n := len(h)
	for {
		l := 2*i + 1
		if l >= n {
			return
		}
		m := l
		if r := l + 1; r < n && h.less(r, l) {
			m = r
		}
		if !h.less(m, i) {
			return
		}
		h.swap(i, m)
		i = m
	}
}

// push adds ps to the heap.
func (h *portHeap[P]) push(ps *portState[P]) {
	ps.hi = len(*h)
	*h = append(*h, ps)
	h.up(ps.hi)
}

// remove takes the port at index i out of the heap.
func (h *portHeap[P]) remove(i int) {
	old := *h
	last := len(old) - 1
	if i != last {
		old.swap(i, last)
	}
	old[last].hi = -1
	old[last] = nil
	*h = old[:last]
	if i != last {
		h.down(i)
		h.up(i)
	}
}
