//go:build linux || darwin

package feth

// The macOS port's portable logic: creating, peering, bridging and
// destroying a feth pair through ifOps, which ops_darwin.go implements
// with ioctls and the tests with a model of the kernel.

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"syscall"

	"github.com/hashicorp/go-hclog"
)

// ifOps are the interface operations the macOS feth port makes, each one
// system call. Errors are the kernel's errno (a syscall.Errno), possibly
// wrapped.
type ifOps interface {
	// create makes a feth (SIOCIFCREATE2): name "feth" lets the kernel
	// pick the unit; the name created is returned.
	create(name string) (string, error)
	// destroy removes an interface (SIOCIFDESTROY).
	destroy(name string) error
	// setPeer peers two feths (SIOCSDRVSPEC IF_FAKE_S_CMD_SET_PEER on
	// name).
	setPeer(name, peer string) error
	// peer returns a feth's peer, "" when it has none (SIOCGDRVSPEC
	// IF_FAKE_G_CMD_GET_PEER).
	peer(name string) (string, error)
	// isUp reports IFF_UP (SIOCGIFFLAGS).
	isUp(name string) (bool, error)
	// setUp sets IFF_UP (SIOCGIFFLAGS, SIOCSIFFLAGS).
	setUp(name string) error
	// mtu returns an interface's MTU (SIOCGIFMTU).
	mtu(name string) (int, error)
	// setMTU sets it (SIOCSIFMTU).
	setMTU(name string, mtu int) error
	// memberFlags returns member's flags in bridge (SIOCGDRVSPEC
	// BRDGGIFFLGS): ENOENT when it is not a member, ENXIO when there is
	// no such bridge.
	memberFlags(bridge, member string) (uint32, error)
	// addMember makes member a port of bridge (SIOCSDRVSPEC BRDGADD).
	addMember(bridge, member string) error
	// interfaces lists the interfaces' names.
	interfaces() ([]string, error)
}

// fethPrefix is the feth cloner's name: feth interfaces are feth<unit>.
const fethPrefix = "feth"

// maxUnit is xnu's IF_MAXUNIT, the largest unit a cloner gives.
const maxUnit = 0x7fff

// unitName reports whether name is prefix followed by a unit number, as
// the kernel's cloners name interfaces (no sign, no leading zero).
func unitName(name, prefix string) bool {
	digits, ok := strings.CutPrefix(name, prefix)
	if !ok || digits == "" || (len(digits) > 1 && digits[0] == '0') {
		return false
	}
	for _, c := range digits {
		if c < '0' || c > '9' {
			return false
		}
	}
	n, err := strconv.Atoi(digits)
	return err == nil && n <= maxUnit
}

// isBridgeName reports whether name is a bridge's: the bridge cloner
// names them bridge<unit>.
func isBridgeName(name string) bool { return unitName(name, "bridge") }

// bridgeList returns the bridges among names, sorted.
func bridgeList(names []string) []string {
	var out []string
	for _, n := range names {
		if isBridgeName(n) {
			out = append(out, n)
		}
	}
	slices.SortFunc(out, func(a, b string) int {
		// bridge2 before bridge10.
		if len(a) != len(b) {
			return len(a) - len(b)
		}
		return strings.Compare(a, b)
	})
	return out
}

// bridgesHintMac lists the bridges that exist, for error messages.
func bridgesHintMac(ops ifOps) string {
	names, err := ops.interfaces()
	if err != nil {
		return "could not list interfaces: " + err.Error()
	}
	if b := bridgeList(names); len(b) > 0 {
		return "bridges: " + strings.Join(b, ", ")
	}
	return "there is no bridge: create one with `sudo ifconfig bridge1 create up`"
}

// errNeedRoot is what the kernel's EPERM means here.
var errNeedRoot = errors.New("feth needs root: creating, peering and bridging feth interfaces is reserved to root on macOS (run l2fabric with sudo)")

// explain turns an EPERM into errNeedRoot, and wraps anything else.
func explain(what string, err error) error {
	if errors.Is(err, syscall.EPERM) || errors.Is(err, syscall.EACCES) {
		return fmt.Errorf("%s: %w", what, errNeedRoot)
	}
	return fmt.Errorf("%s: %w", what, err)
}

// gone reports whether err says the interface does not exist.
func gone(err error) bool { return errors.Is(err, syscall.ENXIO) }

// fethPair is a feth pair l2fabric created: member is in the bridge,
// switched is the end the fabric reads and writes through BPF and NDRV.
type fethPair struct {
	id       string // its record's id
	bridge   string
	member   string
	switched string
	dev      string // the member's name as dev= asked for it, or "feth"
	mtu      int    // the MTU set on both, 0 to leave them as created
}

// pairMaker creates and destroys pairs, keeping their record up to date.
type pairMaker struct {
	ops   ifOps
	store *pairStore
	self  procInfo
	log   hclog.Logger
}

// createPair creates a feth pair, peers it, sets its MTU (when mtu is not
// 0), brings both ends up and makes the first a member of bridge. dev is
// the member's name, or "feth" for any. On failure whatever was created
// is destroyed again.
func (m *pairMaker) createPair(bridge, dev string, mtu int) (_ *fethPair, err error) {
	p := &fethPair{id: m.self.newID(), bridge: bridge, dev: dev, mtu: mtu}
	defer func() {
		if err != nil {
			m.destroyPair(p)
		}
	}()
	if p.member, err = m.ops.create(dev); err != nil {
		if errors.Is(err, syscall.EEXIST) {
			return nil, fmt.Errorf("creating %s: it already exists (dev= must name a feth that does not)", dev)
		}
		return nil, explain("creating a feth interface", err)
	}
	if err := m.record(p); err != nil {
		return nil, err
	}
	if p.switched, err = m.ops.create(fethPrefix); err != nil {
		return nil, explain("creating a feth interface", err)
	}
	if err := m.record(p); err != nil {
		return nil, err
	}
	if err := m.ops.setPeer(p.member, p.switched); err != nil {
		return nil, explain(fmt.Sprintf("peering %s with %s", p.member, p.switched), err)
	}
	for _, n := range []string{p.member, p.switched} {
		if err := m.prepare(n, mtu); err != nil {
			return nil, err
		}
	}
	if err := m.ops.addMember(bridge, p.member); err != nil {
		return nil, m.joinError(p, err)
	}
	m.log.Info("feth pair created", "member", p.member, "switched", p.switched, "bridge", bridge)
	return p, nil
}

// prepare sets a new feth's MTU (unless mtu is 0) and brings it up.
func (m *pairMaker) prepare(name string, mtu int) error {
	if mtu != 0 {
		cur, err := m.ops.mtu(name)
		if err != nil {
			return explain("reading the MTU of "+name, err)
		}
		if cur != mtu {
			if err := m.ops.setMTU(name, mtu); errors.Is(err, syscall.EINVAL) {
				return fmt.Errorf("setting the MTU of %s to %d: the kernel refuses it (a feth's MTU is at most `sysctl net.link.fake.max_mtu`, 2048 unless raised, at most 16370): %w", name, mtu, err)
			} else if err != nil {
				return explain(fmt.Sprintf("setting the MTU of %s to %d", name, mtu), err)
			}
		}
	}
	if err := m.ops.setUp(name); err != nil {
		return explain("bringing "+name+" up", err)
	}
	return nil
}

// joinError describes a failed BRDGADD of p.member to p.bridge.
func (m *pairMaker) joinError(p *fethPair, err error) error {
	what := fmt.Sprintf("adding %s to bridge %s", p.member, p.bridge)
	switch {
	case gone(err):
		return fmt.Errorf("%s: bridge %s does not exist (%s)", what, p.bridge, bridgesHintMac(m.ops))
	case errors.Is(err, syscall.EINVAL):
		// The bridge takes a member only with its MTU (once it has one).
		if bm, merr := m.ops.mtu(p.bridge); merr == nil {
			if fm, ferr := m.ops.mtu(p.member); ferr == nil && fm != bm {
				return fmt.Errorf("%s: the bridge's MTU is %d, the feth's %d: give the port mtu=%d, or change the bridge's: %w", what, bm, fm, bm, err)
			}
		}
	}
	return explain(what, err)
}

// record writes p's names to the record of pairs.
func (m *pairMaker) record(p *fethPair) error {
	r := pairRecord{ID: p.id, Bridge: p.bridge, Member: p.member, Switched: p.switched, PID: m.self.pid, Run: m.self.run, Boot: m.self.boot}
	if err := m.store.put(r); err != nil {
		return fmt.Errorf("recording feth pair %s/%s: %w", p.member, p.switched, err)
	}
	return nil
}

// destroyPair destroys both ends of p (either may be "", or already
// gone) and forgets its record, unless an end could not be destroyed:
// then the record stays, for the next start to clean up.
func (m *pairMaker) destroyPair(p *fethPair) error {
	var errs []error
	for _, n := range []string{p.switched, p.member} {
		if n == "" {
			continue
		}
		if err := m.ops.destroy(n); err != nil && !gone(err) {
			errs = append(errs, explain("destroying "+n, err))
		}
	}
	if len(errs) > 0 {
		err := errors.Join(errs...)
		m.log.Warn("feth pair not destroyed: its record is kept, for the next start to clean up", "member", p.member, "switched", p.switched, "error", err)
		return err
	}
	if err := m.store.drop(p.id); err != nil {
		m.log.Warn("feth pair destroyed, but not removed from the record", "member", p.member, "switched", p.switched, "error", err)
	}
	if p.member != "" {
		m.log.Info("feth pair destroyed", "member", p.member, "switched", p.switched)
	}
	return nil
}
