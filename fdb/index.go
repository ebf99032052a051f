package fdb

import (
	"encoding/binary"
	"math/bits"
	"sync/atomic"

	"github.com/l2fabric/l2fabric/frames"
)

// The index maps a packed (VLAN, MAC) key to its entry. It is an
// open-addressing hash table with linear probing whose slots are atomic
// pointers, so that readers need no lock at all:
//
//   - Readers load the current slot array from Table.idx and probe it with
//     atomic loads. They never write.
//   - Writers hold Table.mu. They publish a new entry with one atomic store
//     into a slot, so a reader sees either the old or the new pointer, never
//     a torn value. Entries are immutable once published except for their
//     atomic last-seen time and the list links, which readers do not touch.
//     A move to another port publishes a new entry rather than modifying the
//     old one.
//   - Deletion leaves a tombstone (Table.tomb) so that probes for keys
//     further along the run still find them; tombstones that end a run are
//     turned back into empty slots, which is safe for concurrent readers
//     because a probe passing through them would have stopped at the
//     following empty slot anyway.
//   - Growing, shrinking and cleaning out tombstones build a new slot array
//     and publish it with one atomic store; a reader still probing the old
//     array sees a consistent, momentarily stale table. Memory is reclaimed
//     by the garbage collector once no reader holds it, so there is no ABA
//     problem.
//
// A reader can therefore miss an entry that is being moved within the
// table, or see one that was removed an instant ago. That is harmless for a
// switch (the frame is flooded, or forwarded where it would have been a
// microsecond earlier), and Learn re-checks under the lock before it
// changes anything.

const (
	minSlots = 16 // smallest slot array
	// The slot array is rebuilt when more than half of its slots are used
	// (live entries plus tombstones), and rebuilt to the smallest power of
	// two that puts the load at or below 3/8. It is shrunk when fewer than
	// 1/16 of its slots hold live entries. Each rebuild costs O(slots) and
	// follows at least slots/8 insertions or removals, so the cost is
	// amortised O(1) per operation.
)

// index is one generation of the slot array.
type index[P comparable] struct {
	slots []atomic.Pointer[entry[P]]
	mask  uint64 // len(slots)-1; len(slots) is a power of two
}

func newIndex[P comparable](n int) *index[P] {
	return &index[P]{slots: make([]atomic.Pointer[entry[P]], n), mask: uint64(n - 1)}
}

// packKey packs a VLAN and MAC into 64 bits: the VLAN in the top 16, the
// MAC big-endian in the low 48, so that packed keys sort by VLAN then MAC.
func packKey(vlan uint16, m frames.MAC) uint64 {
	return uint64(vlan)<<48 | uint64(binary.BigEndian.Uint32(m[0:4]))<<16 | uint64(binary.BigEndian.Uint16(m[4:6]))
}

// unpackKey is the inverse of packKey.
func unpackKey(k uint64) (uint16, frames.MAC) {
	return uint16(k >> 48), frames.MAC{byte(k >> 40), byte(k >> 32), byte(k >> 24), byte(k >> 16), byte(k >> 8), byte(k)}
}

// hash mixes a packed key with the table's secret random seeds (the wyhash
// "mum" step), so that an attacker choosing source MACs cannot aim them at
// one probe run without knowing the seeds.
func (t *Table[P]) hash(k uint64) uint64 {
	hi, lo := bits.Mul64(k^t.seed0, t.seed1)
	return hi ^ lo
}

// find returns the entry for packed key k, or nil. It takes no lock and
// writes nothing.
func (t *Table[P]) find(k uint64) *entry[P] {
	ix := t.idx.Load()
	mask := ix.mask
	i := t.hash(k)
	for n := uint64(0); n <= mask; n++ {
		e := ix.slots[i&mask].Load()
		if e == nil {
			return nil
		}
		if e.key == k && e != t.tomb {
			return e
		}
		i++
	}
	return nil
}

// slotOf returns the slot index of packed key k in the current index, or
// -1. t.mu must be held.
func (t *Table[P]) slotOf(k uint64) int {
	ix := t.idx.Load()
	mask := ix.mask
	i := t.hash(k)
	for n := uint64(0); n <= mask; n++ {
		j := i & mask
		e := ix.slots[j].Load()
		if e == nil {
			return -1
		}
		if e.key == k && e != t.tomb {
			return int(j)
		}
		i++
	}
	return -1
}

// indexInsert publishes e, whose key must not be in the index. t.mu must
// be held.
func (t *Table[P]) indexInsert(e *entry[P]) {
	ix := t.idx.Load()
	mask := ix.mask
	i := t.hash(e.key)
	for n := uint64(0); n <= mask; n++ {
		s := &ix.slots[i&mask]
		switch cur := s.Load(); cur {
		case nil:
			s.Store(e)
			t.used++
			t.live++
			if t.used*2 > len(ix.slots) {
				t.rebuild()
			}
			return
		case t.tomb:
			s.Store(e)
			t.live++
			return
		}
		i++
	}
	// Unreachable: the index is never more than half full. Rebuild and
	// retry rather than lose the entry.
	t.rebuild()
	t.indexInsert(e)
}

// indexRemove replaces the entry in slot j with a tombstone, and turns
// tombstones that end the probe run back into empty slots. t.mu must be
// held.
func (t *Table[P]) indexRemove(j int) {
	ix := t.idx.Load()
	mask := ix.mask
	t.live--
	if ix.slots[(uint64(j)+1)&mask].Load() != nil {
		ix.slots[j].Store(t.tomb)
		return
	}
	// Slot j ends its run: empty it, then any tombstones just before it.
	for k := uint64(j); ; k = (k - 1) & mask {
		if k != uint64(j) && ix.slots[k].Load() != t.tomb {
			break
		}
		ix.slots[k].Store(nil)
		t.used--
		if t.used == 0 {
			break
		}
	}
}

// replaceAt publishes e in slot j in place of the entry there, which must
// have the same key. t.mu must be held.
func (t *Table[P]) replaceAt(j int, e *entry[P]) {
	t.idx.Load().slots[j].Store(e)
}

// entryAt returns the entry in slot j of the current index. t.mu must be
// held.
func (t *Table[P]) entryAt(j int) *entry[P] {
	return t.idx.Load().slots[j].Load()
}

// maybeShrink rebuilds the index smaller after many removals. t.mu must be
// held.
func (t *Table[P]) maybeShrink() {
	if n := len(t.idx.Load().slots); n > minSlots && t.live*16 < n {
		t.rebuild()
	}
}

// rebuild builds a fresh slot array sized for the live entries, without
// tombstones, and publishes it. t.mu must be held.
func (t *Table[P]) rebuild() {
	size := minSlots
	for size*3 < t.live*8 {
		size *= 2
	}
	old := t.idx.Load()
	nix := newIndex[P](size)
	mask := nix.mask
	for i := range old.slots {
		e := old.slots[i].Load()
		if e == nil || e == t.tomb {
			continue
		}
		for j := t.hash(e.key); ; j++ {
			if s := &nix.slots[j&mask]; s.Load() == nil {
				s.Store(e)
				break
			}
		}
	}
	t.used = t.live
	t.idx.Store(nix)
}
