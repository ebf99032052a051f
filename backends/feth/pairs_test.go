//go:build linux || darwin

package feth

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"

	"github.com/hashicorp/go-hclog"
)

// logBuffer collects logs for assertions, and passes them to the test's.
type logBuffer struct {
	t   *testing.T
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *logBuffer) Write(b []byte) (int, error) {
	l.mu.Lock()
	l.buf.Write(b)
	l.mu.Unlock()
	l.t.Log(strings.TrimSuffix(string(b), "\n"))
	return len(b), nil
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

func testLogger(t *testing.T) (hclog.Logger, *logBuffer) {
	lb := &logBuffer{t: t}
	return hclog.New(&hclog.LoggerOptions{Name: "test", Output: lb, Level: hclog.Debug}), lb
}

func testStore(t *testing.T) (*pairStore, *logBuffer) {
	log, lb := testLogger(t)
	return &pairStore{path: filepath.Join(t.TempDir(), "state", recordFile), log: log}, lb
}

// recordFile is the record's name in the tests.
const recordFile = "feth-pairs.json"

func self(pid int, boot string) procInfo {
	return procInfo{pid: pid, run: newRunID(), boot: boot, alive: func(int) bool { return false }, seq: new(atomic.Uint64)}
}

// dirEntries lists the record's directory.
func dirEntries(t *testing.T, s *pairStore) []string {
	t.Helper()
	es, err := os.ReadDir(filepath.Dir(s.path))
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range es {
		out = append(out, e.Name())
	}
	return out
}

func TestPairStore(t *testing.T) {
	s, _ := testStore(t)
	if rs, err := s.list(); err != nil || len(rs) != 0 {
		t.Fatalf("new store: %v %v", rs, err)
	}
	fi, err := os.Stat(filepath.Dir(s.path))
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o700 {
		t.Errorf("directory mode %v, want 0700", fi.Mode().Perm())
	}

	a := pairRecord{ID: "a", Bridge: "bridge1", Member: "feth0", PID: 10, Boot: "b1"}
	if err := s.put(a); err != nil {
		t.Fatal(err)
	}
	a.Switched = "feth1"
	if err := s.put(a); err != nil {
		t.Fatal(err)
	}
	b := pairRecord{ID: "b", Bridge: "bridge2", Member: "feth2", Switched: "feth3", PID: 10, Boot: "b1"}
	if err := s.put(b); err != nil {
		t.Fatal(err)
	}
	rs, err := s.list()
	if err != nil {
		t.Fatal(err)
	}
	if len(rs) != 2 || rs[0].ID != "a" || rs[0].Switched != "feth1" || rs[1].Member != "feth2" || rs[0].Updated.IsZero() {
		t.Errorf("records %+v", rs)
	}
	fi, err = os.Stat(s.path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("record mode %v, want 0600", fi.Mode().Perm())
	}
	var f pairFile
	raw, _ := os.ReadFile(s.path)
	if err := json.Unmarshal(raw, &f); err != nil || len(f.Pairs) != 2 {
		t.Errorf("record file %s: %v", raw, err)
	}
	if !strings.Contains(string(raw), `"member": "feth0"`) || !strings.Contains(string(raw), `"switched": "feth1"`) {
		t.Errorf("record file %s", raw)
	}

	if err := s.drop("a"); err != nil {
		t.Fatal(err)
	}
	if err := s.drop("nope"); err != nil {
		t.Fatal(err)
	}
	if rs, _ := s.list(); len(rs) != 1 || rs[0].ID != "b" {
		t.Errorf("after drop: %+v", rs)
	}
	if err := s.drop("b"); err != nil {
		t.Fatal(err)
	}
	// No record left, and no temporary file either: only the lock.
	if es := dirEntries(t, s); !slices.Equal(es, []string{recordFile + ".lock"}) {
		t.Errorf("directory holds %v", es)
	}
}

func TestPairStoreTightensDirectory(t *testing.T) {
	s, _ := testStore(t)
	dir := filepath.Dir(s.path)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	os.Chmod(dir, 0o777)
	if err := s.put(pairRecord{ID: "a", Member: "feth0"}); err != nil {
		t.Fatal(err)
	}
	if fi, _ := os.Stat(dir); fi.Mode().Perm() != 0o700 {
		t.Errorf("directory mode %v, want 0700", fi.Mode().Perm())
	}
	// A file where the directory should be is an error, not a crash.
	s2 := &pairStore{path: filepath.Join(s.path, "x", recordFile), log: hclog.NewNullLogger()}
	if err := s2.put(pairRecord{ID: "a"}); err == nil {
		t.Error("a record under a file was written")
	}
}

func TestPairStoreCorrupt(t *testing.T) {
	s, lb := testStore(t)
	if err := s.put(pairRecord{ID: "a", Member: "feth0"}); err != nil {
		t.Fatal(err)
	}
	garbage := []byte(`{"pairs": [{"id": "a", "member": "feth0"`)
	if err := os.WriteFile(s.path, garbage, 0o600); err != nil {
		t.Fatal(err)
	}
	rs, err := s.list()
	if err != nil || len(rs) != 0 {
		t.Fatalf("corrupt record read as %+v, %v", rs, err)
	}
	if !strings.Contains(lb.String(), "record of feth pairs corrupt: starting a new one") {
		t.Errorf("corruption not logged:\n%s", lb)
	}
	if kept, err := os.ReadFile(s.path + ".corrupt"); err != nil || !bytes.Equal(kept, garbage) {
		t.Errorf("corrupt record not kept aside: %q %v", kept, err)
	}
	if err := s.put(pairRecord{ID: "b", Member: "feth4"}); err != nil {
		t.Fatal(err)
	}
	if rs, _ := s.list(); len(rs) != 1 || rs[0].ID != "b" {
		t.Errorf("fresh record %+v", rs)
	}
	// JSON of another shape is as bad.
	os.WriteFile(s.path, []byte(`[1, 2]`), 0o600)
	if rs, _ := s.list(); len(rs) != 0 {
		t.Errorf("records %+v", rs)
	}
}

func TestPairStoreConcurrent(t *testing.T) {
	s, _ := testStore(t)
	// Separate stores on one path stand for separate processes: only
	// the file lock keeps their updates from losing each other's.
	const n = 16
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			other := &pairStore{path: s.path, log: s.log}
			id := fmt.Sprint(i)
			if err := other.put(pairRecord{ID: id, Member: "feth" + id}); err != nil {
				t.Error(err)
			}
			if i%2 == 0 {
				if err := other.drop(id); err != nil {
					t.Error(err)
				}
			}
		}()
	}
	wg.Wait()
	rs, err := s.list()
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, r := range rs {
		ids = append(ids, r.ID)
	}
	slices.Sort(ids)
	if want := []string{"1", "11", "13", "15", "3", "5", "7", "9"}; !slices.Equal(ids, want) {
		t.Errorf("ids %v, want %v", ids, want)
	}
}

// pairIn creates a peered pair member/switched in bridge in k.
func pairIn(t *testing.T, k *fakeKernel, bridge string) (string, string) {
	t.Helper()
	m, _ := k.create("feth")
	s, _ := k.create("feth")
	if err := k.setPeer(m, s); err != nil {
		t.Fatal(err)
	}
	if bridge != "" {
		if err := k.addMember(bridge, m); err != nil {
			t.Fatal(err)
		}
	}
	return m, s
}

func TestCleanUp(t *testing.T) {
	k := newFakeKernel()
	k.addBridge("bridge1", 1500, "en0")
	s, lb := testStore(t)
	me := self(100, "boot-2")
	me.alive = func(pid int) bool { return pid == 200 }

	m0, s0 := pairIn(t, k, "bridge1") // feth0/feth1: a dead run's, left peered in its bridge
	m1, s1 := pairIn(t, k, "")        // feth2/feth3: of an earlier boot (the names someone else's now)
	m2, s2 := pairIn(t, k, "")        // feth4/feth5: a live l2fabric's
	m3, s3 := pairIn(t, k, "")        // feth6/feth7: this process's own
	m4, _ := k.create("feth")         // feth8: a dead run's, half-created (no peer yet)
	m5, s5 := pairIn(t, k, "")        // feth9/feth10: recorded as feth9/feth11, so not the record's
	f11, _ := k.create("feth")        // feth11
	lone, _ := k.create("feth")       // feth12: a dead run's, whose other end is gone
	m7, p7 := pairIn(t, k, "")        // feth13/feth14: recorded half-created, but peered since
	m8, s8 := pairIn(t, k, "")        // feth15/feth16: a dead run's that had this process's PID

	for _, r := range []pairRecord{
		{ID: "dead", Bridge: "bridge1", Member: m0, Switched: s0, PID: 300, Boot: "boot-2"},
		{ID: "oldboot", Member: m1, Switched: s1, PID: 300, Boot: "boot-1"},
		{ID: "live", Member: m2, Switched: s2, PID: 200, Boot: "boot-2"},
		{ID: "mine", Member: m3, Switched: s3, PID: 100, Run: me.run, Boot: "boot-2"},
		{ID: "mypid", Member: m8, Switched: s8, PID: 100, Run: "an earlier run's", Boot: "boot-2"},
		{ID: "half", Member: m4, PID: 301, Boot: "boot-2"},
		{ID: "other", Member: m5, Switched: f11, PID: 302, Boot: "boot-2"},
		{ID: "lone", Member: lone, Switched: "feth17", PID: 303, Boot: "boot-2"},
		{ID: "notours", Member: m7, PID: 304, Boot: "boot-2"},
		{ID: "gone", Member: "feth20", Switched: "feth21", PID: 305, Boot: "boot-2"},
		{ID: "badname", Member: "en0", Switched: "bridge1", PID: 306, Boot: "boot-2"},
	} {
		if err := s.put(r); err != nil {
			t.Fatal(err)
		}
	}
	k.fail("destroy", lone, syscall.EBUSY) // fails once, is retried at the next start
	if err := s.cleanUp(k, me); err != nil {
		t.Fatal(err)
	}
	for _, n := range []string{m0, s0, m4, m8, s8} {
		if st := k.state(n); st != "none" {
			t.Errorf("%s left: %s", n, st)
		}
	}
	for _, n := range []string{m1, s1, m2, s2, m3, s3, m5, s5, f11, lone, m7, p7, "en0", "bridge1"} {
		if k.state(n) == "none" {
			t.Errorf("%s destroyed", n)
		}
	}
	if st := k.state("bridge1"); st != "bridge up mtu=1500 members=en0" {
		t.Errorf("bridge1: %s", st)
	}
	rs, _ := s.list()
	var ids []string
	for _, r := range rs {
		ids = append(ids, r.ID)
	}
	if want := []string{"live", "mine", "lone"}; !slices.Equal(ids, want) {
		t.Errorf("records kept %v, want %v", ids, want)
	}
	if !strings.Contains(lb.String(), "could not destroy a feth interface left by an earlier run") {
		t.Errorf("failed destroy not logged:\n%s", lb)
	}

	// Next start: the lone end goes.
	k.fail("destroy", lone, nil)
	if err := s.cleanUp(k, me); err != nil {
		t.Fatal(err)
	}
	if k.state(lone) != "none" {
		t.Errorf("lone %s left", lone)
	}
	rs, _ = s.list()
	if len(rs) != 2 || rs[0].ID != "live" || rs[1].ID != "mine" {
		t.Errorf("records %+v", rs)
	}

	// Without knowing the boot, nothing is touched.
	if err := s.cleanUp(k, self(1, "")); err == nil {
		t.Error("clean-up without a boot id")
	}
	if rs, _ := s.list(); len(rs) != 2 {
		t.Errorf("records %+v", rs)
	}
}

func TestLeftovers(t *testing.T) {
	k := newFakeKernel()
	m, s := pairIn(t, k, "")
	for _, c := range []struct {
		r    pairRecord
		want []string
	}{
		{pairRecord{Member: m, Switched: s}, []string{s, m}},
		{pairRecord{Member: s, Switched: m}, []string{m, s}},
		{pairRecord{Member: m}, nil}, // recorded half-made, but peered: not as left
		{pairRecord{Member: m, Switched: "feth9"}, nil},
		{pairRecord{Member: "feth9", Switched: s}, nil},
		{pairRecord{Member: "en0", Switched: "feth9"}, nil},
		{pairRecord{Member: "feth01", Switched: s}, nil},
	} {
		if got := leftovers(k, c.r); !slices.Equal(got, c.want) {
			t.Errorf("%+v: %v, want %v", c.r, got, c.want)
		}
	}
	k.destroy(s)
	if got := leftovers(k, pairRecord{Member: m, Switched: s}); !slices.Equal(got, []string{m}) {
		t.Errorf("lone member: %v", got)
	}
	if got := leftovers(k, pairRecord{Member: s, Switched: m}); !slices.Equal(got, []string{m}) {
		t.Errorf("lone switched: %v", got)
	}
	if got := leftovers(k, pairRecord{Member: m}); !slices.Equal(got, []string{m}) {
		t.Errorf("half-made: %v", got)
	}
	// A query that fails is no licence to destroy.
	k.fail("peer", m, syscall.EIO)
	if got := leftovers(k, pairRecord{Member: m}); got != nil {
		t.Errorf("peer failing: %v", got)
	}
}

func TestProcInfoIDs(t *testing.T) {
	p := self(42, "b")
	if q := self(42, "b"); q.run == p.run || len(p.run) != 16 {
		t.Errorf("run ids %q %q", p.run, q.run)
	}
	seen := map[string]bool{}
	for range 100 {
		id := p.newID()
		if seen[id] || !strings.HasPrefix(id, p.run+"-") {
			t.Fatalf("id %q", id)
		}
		seen[id] = true
	}
}
