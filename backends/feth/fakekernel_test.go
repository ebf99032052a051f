//go:build linux || darwin

package feth

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"

	"github.com/l2fabric/l2fabric/backends/internal/linkwatch"
)

// fakeKernel models what xnu does with the feth port's ioctls (read from
// xnu-11417's if.c, if_fake.c and if_bridge.c): cloning feth<unit>,
// peering, IFF_UP, MTU (a feth's at most net.link.fake.max_mtu, 2048),
// and bridge membership.
type fakeKernel struct {
	mu    sync.Mutex
	ifs   map[string]*fakeIf
	fails map[string]error // "op" or "op name": the error op returns
	calls []string

	// The link events xnu's PF_ROUTE socket would carry: every change of
	// an interface's existence or flags (IFF_UP, and IFF_PROMISC, which a
	// bridge sets on its members) is published to feed, each interface
	// with an index of its own, the lowest free one (xnu recycles them).
	feed      *linkwatch.Feed
	index     map[string]int
	published map[string]linkwatch.Link
}

type fakeIf struct {
	kind    string // "feth", "bridge", "en"
	peer    string
	up      bool
	mtu     int
	in      string   // the bridge it is a member of
	members []string // a bridge's
}

const fakeMaxMTU = 2048

func newFakeKernel() *fakeKernel {
	k := &fakeKernel{ifs: map[string]*fakeIf{
		"lo0": {kind: "lo", up: true, mtu: 16384},
		"en0": {kind: "en", up: true, mtu: 1500},
	}, fails: map[string]error{}, feed: linkwatch.NewFeed(), index: map[string]int{}, published: map[string]linkwatch.Link{}}
	k.publish()
	return k
}

// unlock publishes what changed and releases the kernel.
func (k *fakeKernel) unlock() {
	k.publish()
	k.mu.Unlock()
}

// publish reports to the feed the interfaces that appeared, changed or
// went since the last call. k.mu must be held.
func (k *fakeKernel) publish() {
	for name, l := range k.published {
		if _, ok := k.ifs[name]; !ok {
			k.feed.Delete(l.Index)
			delete(k.published, name)
			delete(k.index, name)
		}
	}
	names := make([]string, 0, len(k.ifs))
	for name := range k.ifs {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		i := k.ifs[name]
		idx, ok := k.index[name]
		if !ok {
			idx = 1
			for slices.ContainsFunc(names, func(n string) bool { return k.index[n] == idx }) {
				idx++
			}
			k.index[name] = idx
		}
		var flags uint32
		if i.up {
			flags |= syscall.IFF_UP | syscall.IFF_RUNNING
		}
		if i.in != "" {
			flags |= syscall.IFF_PROMISC
		}
		l := linkwatch.Link{Index: idx, Name: name, Up: i.up, Running: i.up, MTU: i.mtu, Flags: flags}
		if k.published[name] != l {
			k.feed.Set(l)
			k.published[name] = l
		}
	}
}

var _ ifOps = (*fakeKernel)(nil)

// fail makes op (on name, if given) return err from now on; nil clears it.
func (k *fakeKernel) fail(op, name string, err error) {
	k.mu.Lock()
	defer k.unlock()
	key := strings.TrimSpace(op + " " + name)
	if err == nil {
		delete(k.fails, key)
	} else {
		k.fails[key] = err
	}
}

// call logs op and returns the error injected for it.
func (k *fakeKernel) call(op, name string) error {
	k.calls = append(k.calls, op+" "+name)
	if err := k.fails[op+" "+name]; err != nil {
		return err
	}
	return k.fails[op]
}

func (k *fakeKernel) addBridge(name string, mtu int, members ...string) {
	k.mu.Lock()
	defer k.unlock()
	k.ifs[name] = &fakeIf{kind: "bridge", mtu: mtu, up: true}
	for _, m := range members {
		if k.ifs[m] == nil {
			k.ifs[m] = &fakeIf{kind: "en", mtu: mtu, up: true}
		}
		k.ifs[m].in = name
		k.ifs[name].members = append(k.ifs[name].members, m)
	}
}

// deletem takes member out of its bridge (ifconfig BRIDGE deletem).
func (k *fakeKernel) deletem(member string) {
	k.mu.Lock()
	defer k.unlock()
	k.unbridge(member)
}

func (k *fakeKernel) unbridge(member string) {
	m := k.ifs[member]
	if m == nil || m.in == "" {
		return
	}
	if b := k.ifs[m.in]; b != nil {
		b.members = slices.DeleteFunc(b.members, func(s string) bool { return s == member })
	}
	m.in = ""
}

// moveTo makes member a member of bridge instead of its own.
func (k *fakeKernel) moveTo(member, bridge string) {
	k.mu.Lock()
	defer k.unlock()
	k.unbridge(member)
	k.publish() // xnu: leaving bridge1 clears IFF_PROMISC (an RTM_IFINFO)
	k.ifs[member].in = bridge
	k.ifs[bridge].members = append(k.ifs[bridge].members, member)
}

// replace destroys name, and makes another feth of that name (unpeered,
// down), at once.
func (k *fakeKernel) replace(name string) {
	k.mu.Lock()
	defer k.unlock()
	if err := k.destroyLocked(name); err != nil {
		panic(err)
	}
	k.ifs[name] = &fakeIf{kind: "feth", mtu: 1500}
}

// setAdminUp sets IFF_UP by hand (ifconfig NAME up/down).
func (k *fakeKernel) setAdminUp(name string, up bool) {
	k.mu.Lock()
	defer k.unlock()
	k.ifs[name].up = up
}

// state describes an interface for assertions: "feth peer=feth1 up mtu=1500 in=bridge1".
func (k *fakeKernel) state(name string) string {
	k.mu.Lock()
	defer k.unlock()
	i := k.ifs[name]
	if i == nil {
		return "none"
	}
	s := i.kind
	if i.kind == "feth" {
		s += " peer=" + i.peer
	}
	if i.up {
		s += " up"
	}
	s += " mtu=" + strconv.Itoa(i.mtu)
	if i.in != "" {
		s += " in=" + i.in
	}
	if i.kind == "bridge" {
		s += " members=" + strings.Join(i.members, ",")
	}
	return s
}

// feths lists the feth interfaces.
func (k *fakeKernel) feths() []string {
	k.mu.Lock()
	defer k.unlock()
	var out []string
	for n, i := range k.ifs {
		if i.kind == "feth" {
			out = append(out, n)
		}
	}
	slices.Sort(out)
	return out
}

func (k *fakeKernel) create(name string) (string, error) {
	k.mu.Lock()
	defer k.unlock()
	if err := k.call("create", name); err != nil {
		return "", err
	}
	if name != fethPrefix {
		if !unitName(name, fethPrefix) {
			return "", syscall.EINVAL
		}
		if k.ifs[name] != nil {
			return "", syscall.EEXIST
		}
	} else {
		for u := 0; ; u++ {
			if n := fmt.Sprintf("feth%d", u); k.ifs[n] == nil {
				name = n
				break
			}
		}
	}
	k.ifs[name] = &fakeIf{kind: "feth", mtu: 1500}
	return name, nil
}

func (k *fakeKernel) destroy(name string) error {
	k.mu.Lock()
	defer k.unlock()
	if err := k.call("destroy", name); err != nil {
		return err
	}
	return k.destroyLocked(name)
}

func (k *fakeKernel) destroyLocked(name string) error {
	i := k.ifs[name]
	if i == nil {
		return syscall.ENXIO
	}
	if p := k.ifs[i.peer]; i.peer != "" && p != nil {
		p.peer = ""
	}
	k.unbridge(name)
	for _, m := range i.members {
		k.ifs[m].in = ""
	}
	delete(k.ifs, name)
	return nil
}

func (k *fakeKernel) setPeer(name, peer string) error {
	k.mu.Lock()
	defer k.unlock()
	if err := k.call("setPeer", name); err != nil {
		return err
	}
	i, p := k.ifs[name], k.ifs[peer]
	switch {
	case i == nil || p == nil:
		return syscall.ENXIO
	case i.kind != "feth" || p.kind != "feth":
		return syscall.EINVAL
	case i.peer != "" || p.peer != "":
		return syscall.EBUSY
	}
	i.peer, p.peer = peer, name
	return nil
}

func (k *fakeKernel) peer(name string) (string, error) {
	k.mu.Lock()
	defer k.unlock()
	if err := k.call("peer", name); err != nil {
		return "", err
	}
	i := k.ifs[name]
	switch {
	case i == nil:
		return "", syscall.ENXIO
	case i.kind != "feth":
		return "", syscall.EOPNOTSUPP
	}
	return i.peer, nil
}

func (k *fakeKernel) isUp(name string) (bool, error) {
	k.mu.Lock()
	defer k.unlock()
	if err := k.call("isUp", name); err != nil {
		return false, err
	}
	i := k.ifs[name]
	if i == nil {
		return false, syscall.ENXIO
	}
	return i.up, nil
}

func (k *fakeKernel) setUp(name string) error {
	k.mu.Lock()
	defer k.unlock()
	if err := k.call("setUp", name); err != nil {
		return err
	}
	i := k.ifs[name]
	if i == nil {
		return syscall.ENXIO
	}
	i.up = true
	return nil
}

func (k *fakeKernel) mtu(name string) (int, error) {
	k.mu.Lock()
	defer k.unlock()
	if err := k.call("mtu", name); err != nil {
		return 0, err
	}
	i := k.ifs[name]
	if i == nil {
		return 0, syscall.ENXIO
	}
	return i.mtu, nil
}

func (k *fakeKernel) setMTU(name string, mtu int) error {
	k.mu.Lock()
	defer k.unlock()
	if err := k.call("setMTU", name); err != nil {
		return err
	}
	i := k.ifs[name]
	switch {
	case i == nil:
		return syscall.ENXIO
	case i.kind == "feth" && (mtu > fakeMaxMTU || mtu < 72):
		return syscall.EINVAL
	}
	i.mtu = mtu
	return nil
}

func (k *fakeKernel) memberFlags(bridge, member string) (uint32, error) {
	k.mu.Lock()
	defer k.unlock()
	if err := k.call("memberFlags", bridge); err != nil {
		return 0, err
	}
	b := k.ifs[bridge]
	switch {
	case b == nil:
		return 0, syscall.ENXIO
	case b.kind != "bridge":
		return 0, syscall.EOPNOTSUPP
	case !slices.Contains(b.members, member):
		return 0, syscall.ENOENT
	}
	return 0x3, nil // IFBIF_LEARNING | IFBIF_DISCOVER
}

func (k *fakeKernel) addMember(bridge, member string) error {
	k.mu.Lock()
	defer k.unlock()
	if err := k.call("addMember", bridge); err != nil {
		return err
	}
	b, m := k.ifs[bridge], k.ifs[member]
	switch {
	case b == nil:
		return syscall.ENXIO
	case b.kind != "bridge":
		return syscall.EOPNOTSUPP
	case m == nil:
		return syscall.ENOENT
	case m.in == bridge:
		return syscall.EEXIST
	case m.in != "":
		return syscall.EBUSY
	case len(b.members) > 0 && b.mtu != m.mtu:
		return syscall.EINVAL
	}
	if len(b.members) == 0 {
		b.mtu = m.mtu
	}
	b.members = append(b.members, member)
	m.in = bridge
	return nil
}

func (k *fakeKernel) interfaces() ([]string, error) {
	k.mu.Lock()
	defer k.unlock()
	if err := k.call("interfaces", ""); err != nil {
		return nil, err
	}
	var out []string
	for n := range k.ifs {
		out = append(out, n)
	}
	slices.Sort(out)
	return out, nil
}
