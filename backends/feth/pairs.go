//go:build linux || darwin

package feth

// The record of the feth pairs l2fabric created, so that a run that
// crashed, and so never destroyed its pairs, has them removed by the next.
// Only interfaces named in the record are ever destroyed, and only when
// they are still what was recorded.

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/go-hclog"
	"golang.org/x/sys/unix"
)

// pairRecord is one feth pair in the record.
type pairRecord struct {
	// ID identifies the record.
	ID string `json:"id"`
	// Bridge is the bridge Member was added to.
	Bridge string `json:"bridge"`
	// Member is the feth in the bridge.
	Member string `json:"member"`
	// Switched is its peer, the end l2fabric switches; empty while the
	// pair is being created.
	Switched string `json:"switched,omitempty"`
	// PID is the process that created the pair, and Run that process
	// (a PID may be reused by a later run).
	PID int    `json:"pid"`
	Run string `json:"run"`
	// Boot identifies the boot the pair was created in: interfaces do
	// not outlive a reboot, so a record of an earlier boot names nothing
	// of ours.
	Boot string `json:"boot"`
	// Updated is when the record was last written.
	Updated time.Time `json:"updated"`
}

// pairFile is the record file's content.
type pairFile struct {
	Pairs []pairRecord `json:"pairs"`
}

// procInfo is what the record needs to know about this process and the
// system.
type procInfo struct {
	pid  int
	run  string // random, this process's
	boot string
	// alive reports whether process pid exists.
	alive func(pid int) bool
	seq   *atomic.Uint64
}

// newRunID returns a random identifier for this process.
func newRunID() string { return fmt.Sprintf("%016x", rand.Uint64()) }

// newID returns a record id unique to this process.
func (p procInfo) newID() string {
	n := uint64(0)
	if p.seq != nil {
		n = p.seq.Add(1)
	}
	return fmt.Sprintf("%s-%d", p.run, n)
}

// pairStore reads and updates the record file. Updates are serialised
// within the process by mu and between processes by an flock on a lock
// file next to it, and written atomically (a temporary file renamed over
// the record).
type pairStore struct {
	path string
	log  hclog.Logger
	mu   sync.Mutex
}

// setLogger makes the store log to log.
func (s *pairStore) setLogger(log hclog.Logger) {
	s.mu.Lock()
	s.log = log
	s.mu.Unlock()
}

// lockPath is the lock file's path.
func (s *pairStore) lockPath() string { return s.path + ".lock" }

// prepareDir creates the record's directory, readable by its owner only,
// and tightens an existing one that is not.
func (s *pairStore) prepareDir() error {
	dir := filepath.Dir(s.path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	fi, err := os.Lstat(dir)
	if err != nil {
		return err
	}
	if !fi.IsDir() {
		return fmt.Errorf("%s is not a directory", dir)
	}
	if fi.Mode().Perm()&0o077 != 0 {
		return os.Chmod(dir, 0o700)
	}
	return nil
}

// update applies fn to the recorded pairs under the lock, and writes what
// it returns when that differs.
func (s *pairStore) update(fn func([]pairRecord) []pairRecord) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.prepareDir(); err != nil {
		return fmt.Errorf("record of feth pairs: %w", err)
	}
	lf, err := os.OpenFile(s.lockPath(), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return fmt.Errorf("record of feth pairs: %w", err)
	}
	defer lf.Close()
	if err := flock(lf, unix.LOCK_EX); err != nil {
		return fmt.Errorf("record of feth pairs: locking %s: %w", s.lockPath(), err)
	}
	defer flock(lf, unix.LOCK_UN)

	old := s.read()
	now := fn(slices.Clone(old))
	if slices.Equal(old, now) {
		return nil
	}
	return s.write(now)
}

// flock locks f, retrying when interrupted.
func flock(f *os.File, how int) error {
	for {
		err := unix.Flock(int(f.Fd()), how)
		if !errors.Is(err, unix.EINTR) {
			return err
		}
	}
}

// read returns the recorded pairs: none when there is no record, and none
// (after saying so, and keeping the file aside) when it cannot be parsed.
func (s *pairStore) read() []pairRecord {
	b, err := os.ReadFile(s.path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		s.log.Warn("record of feth pairs unreadable: starting a new one", "path", s.path, "error", err)
		return nil
	}
	var f pairFile
	if err := json.Unmarshal(b, &f); err != nil {
		aside := s.path + ".corrupt"
		if rerr := os.Rename(s.path, aside); rerr != nil {
			aside = ""
		}
		s.log.Warn("record of feth pairs corrupt: starting a new one; feth pairs of an earlier run that crashed may be left over (`ifconfig -l`, `sudo ifconfig fethN destroy`)",
			"path", s.path, "kept_as", aside, "error", err)
		return nil
	}
	return f.Pairs
}

// write replaces the record with pairs, or removes it when there are
// none.
func (s *pairStore) write(pairs []pairRecord) error {
	if len(pairs) == 0 {
		if err := os.Remove(s.path); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("record of feth pairs: %w", err)
		}
		return nil
	}
	b, err := json.MarshalIndent(pairFile{Pairs: pairs}, "", "  ")
	if err != nil {
		return err
	}
	b = append(b, '\n')
	tmp, err := os.CreateTemp(filepath.Dir(s.path), "."+filepath.Base(s.path)+".*")
	if err != nil {
		return fmt.Errorf("record of feth pairs: %w", err)
	}
	_, err = tmp.Write(b)
	if err == nil {
		err = tmp.Chmod(0o600)
	}
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), s.path)
	}
	if err != nil {
		os.Remove(tmp.Name())
		return fmt.Errorf("record of feth pairs: %w", err)
	}
	return nil
}

// list returns the recorded pairs.
func (s *pairStore) list() ([]pairRecord, error) {
	var out []pairRecord
	err := s.update(func(rs []pairRecord) []pairRecord {
		out = slices.Clone(rs)
		return rs
	})
	return out, err
}

// put records r, replacing the record of the same ID.
func (s *pairStore) put(r pairRecord) error {
	r.Updated = time.Now().UTC().Truncate(time.Second)
	return s.update(func(rs []pairRecord) []pairRecord {
		for i := range rs {
			if rs[i].ID == r.ID {
				rs[i] = r
				return rs
			}
		}
		return append(rs, r)
	})
}

// drop forgets the record of ID id.
func (s *pairStore) drop(id string) error {
	return s.update(func(rs []pairRecord) []pairRecord {
		return slices.DeleteFunc(rs, func(r pairRecord) bool { return r.ID == id })
	})
}

// cleanUp destroys the pairs that an earlier run, now dead, created in
// this boot and left behind, and forgets them. A record of another boot
// is forgotten without touching anything. One whose process is alive is
// kept: this run's, another l2fabric's (or, should a process have been
// given a dead run's PID, that run's pairs stay until a reboot). An
// interface is destroyed only if it still is what the record says: a
// feth peered with the other recorded end, or a lone feth with no peer
// when the other end is gone or was never created.
func (s *pairStore) cleanUp(ops ifOps, self procInfo) error {
	if self.boot == "" {
		return errors.New("cannot tell this boot from an earlier one: feth pairs left by an earlier run are not cleaned up")
	}
	return s.update(func(rs []pairRecord) []pairRecord {
		return slices.DeleteFunc(rs, func(r pairRecord) bool {
			switch {
			case r.Boot != self.boot:
				s.log.Debug("forgetting a feth pair of an earlier boot", "member", r.Member, "switched", r.Switched)
				return true
			case r.Run == self.run:
				return false // ours
			case r.PID != self.pid && self.alive != nil && self.alive(r.PID):
				return false // another l2fabric's, presumably
			}
			names := leftovers(ops, r)
			var failed bool
			for _, n := range names {
				if err := ops.destroy(n); err != nil && !gone(err) {
					failed = true
					s.log.Warn("could not destroy a feth interface left by an earlier run", "interface", n, "pid", r.PID, "error", err)
				}
			}
			if failed {
				return false
			}
			if len(names) > 0 {
				s.log.Info("destroyed feth interfaces left by an earlier run", "interfaces", names, "bridge", r.Bridge, "pid", r.PID)
			} else {
				s.log.Debug("forgetting a feth pair no longer there", "member", r.Member, "switched", r.Switched, "pid", r.PID)
			}
			return true
		})
	})
}

// leftovers returns the interfaces of r that still exist as they were
// left: both ends if they are still peered with each other, and a lone
// end without a peer if the other one is gone (or was never created, or
// lost). Anything else is not ours any more, and neither is anything
// whose state cannot be read.
func leftovers(ops ifOps, r pairRecord) []string {
	valid := func(n string) bool { return n == "" || unitName(n, fethPrefix) }
	if !valid(r.Member) || !valid(r.Switched) || r.Member == r.Switched {
		return nil // not names l2fabric gives
	}
	// probe returns n's peer and whether n exists; ok is false when
	// that cannot be told.
	probe := func(n string) (peer string, exists, ok bool) {
		if n == "" {
			return "", false, true
		}
		peer, err := ops.peer(n)
		switch {
		case err == nil:
			return peer, true, true
		case gone(err):
			return "", false, true
		}
		return "", false, false
	}
	pm, em, okM := probe(r.Member)
	ps, es, okS := probe(r.Switched)
	switch {
	case !okM || !okS:
		return nil
	case em && es && pm == r.Switched && ps == r.Member:
		return []string{r.Switched, r.Member}
	case em && !es && pm == "":
		return []string{r.Member}
	case es && !em && ps == "":
		return []string{r.Switched}
	}
	return nil
}
