package flowq_test

import (
	"testing"
	"time"

	"github.com/l2fabric/l2fabric/fabric/flowq"
)

// fill reserves and commits every free slot of q.
func fill(t *testing.T, q *flowq.Queue[int]) {
	t.Helper()
	q.Lock()
	defer q.Unlock()
	n := 0
	for q.Free() > 0 {
		*q.Reserve() = n
		n++
	}
	q.Commit(n)
	if q.Reserve() != nil {
		t.Fatal("a full queue gave a slot")
	}
	q.Cancel()
}

func TestRingKeepsOrderAcrossWraps(t *testing.T) {
	q := flowq.New[int](4)
	next, want := 0, 0
	for round := 0; round < 6; round++ {
		q.Lock()
		k := 0
		for q.Free() > 1 {
			*q.Reserve() = next
			next++
			k++
		}
		*q.Reserve() = -1 // reserved, then given back by Commit(k)
		if got := *q.Reserved(k); got != -1 {
			t.Fatalf("Reserved(%d) = %d, want the last slot reserved", k, got)
		}
		q.Commit(k)
		n := q.Take(2)
		for i := 0; i < n; i++ {
			if got := *q.Taken(i); got != want {
				t.Fatalf("round %d: took %d, want %d", round, got, want)
			}
			want++
		}
		q.Release()
		q.Unlock()
	}
	if q.Len() != 1 || want != 12 {
		t.Fatalf("Len = %d, took %d: want 1 and 12", q.Len(), want)
	}
}

func TestWaitRoomWaitsForABusyConsumer(t *testing.T) {
	q := flowq.New[int](2)
	h := flowq.NewHold(flowq.Policy{MaxHold: time.Minute, StallAfter: time.Minute})
	h.Start()
	fill(t, q)
	go func() {
		<-q.Wake() // WaitRoom wakes the consumer before it waits
		q.Lock()
		q.Take(1)
		q.Release()
		q.Unlock()
	}()
	q.Lock()
	defer q.Unlock()
	if !q.WaitRoom(h) {
		t.Fatal("WaitRoom gave up on a consumer that freed a slot")
	}
	if q.Reserve() == nil {
		t.Fatal("no slot after the consumer freed one")
	}
	q.Cancel()
	if q.Waits() != 1 {
		t.Errorf("Waits = %d, want 1", q.Waits())
	}
}

func TestWaitRoomDropsAtOnceForAStuckConsumer(t *testing.T) {
	q := flowq.New[int](2)
	h := flowq.NewHold(flowq.Policy{MaxHold: time.Minute, StallAfter: time.Millisecond})
	h.Start()
	fill(t, q)
	time.Sleep(5 * time.Millisecond) // the consumer takes nothing for longer than StallAfter
	q.Lock()
	defer q.Unlock()
	if q.WaitRoom(h) {
		t.Fatal("WaitRoom reported room in a queue nobody drains")
	}
	if q.Waits() != 0 {
		t.Errorf("Waits = %d: waited for a stuck consumer", q.Waits())
	}
}

func TestNoWaitNeverWaits(t *testing.T) {
	q := flowq.New[int](2)
	h := flowq.NewHold(flowq.Policy{NoWait: true, StallAfter: time.Minute})
	h.Start()
	fill(t, q)
	q.Lock()
	defer q.Unlock()
	if q.WaitRoom(h) || q.Waits() != 0 {
		t.Fatalf("NoWait waited (%d waits)", q.Waits())
	}
}

func TestCloseReleasesAWaitingProducer(t *testing.T) {
	q := flowq.New[int](1)
	h := flowq.NewHold(flowq.Policy{MaxHold: time.Minute, StallAfter: time.Minute})
	h.Start()
	fill(t, q)
	go func() {
		<-q.Wake()
		q.Lock()
		q.Close()
		q.Unlock()
	}()
	q.Lock()
	defer q.Unlock()
	if q.WaitRoom(h) {
		t.Fatal("WaitRoom reported room in a closed queue")
	}
	if q.Reserve() != nil {
		t.Fatal("a closed queue gave a slot")
	}
}

func TestPolicyDefaultsAndValidate(t *testing.T) {
	p := flowq.Policy{}.WithDefaults()
	if p.MaxHold != flowq.DefaultMaxHold || p.StallAfter != flowq.DefaultStallAfter || p.NoWait {
		t.Errorf("zero Policy with defaults = %+v", p)
	}
	if err := (flowq.Policy{MaxHold: -1}).Validate(); err == nil {
		t.Error("a negative MaxHold is valid")
	}
	if err := (flowq.Policy{NoWait: true}).Validate(); err != nil {
		t.Errorf("NoWait: %v", err)
	}
}

func TestQueueDoesNotAllocate(t *testing.T) {
	q := flowq.New[int](8)
	h := flowq.NewHold(flowq.Policy{})
	if n := testing.AllocsPerRun(100, func() {
		h.Start()
		q.Lock()
		*q.Reserve() = 1
		q.Commit(1)
		q.Take(1)
		q.Release()
		q.Unlock()
		q.Notify()
	}); n != 0 {
		t.Errorf("a round trip allocates %v times", n)
	}
}
