//go:build linux || darwin

package feth

import (
	"errors"
	"fmt"
	"syscall"

	"github.com/hashicorp/go-hclog"
)

// keeper keeps a pair's member in its bridge, checked whenever the macOS
// port sees a link event: a member taken out of the bridge is added back, a member destroyed
// is created again, peered and added, and a bridge deleted and created
// again is re-joined. It does not fight over a member someone made a port
// of another bridge. Its check runs on one goroutine at a time.
type keeper struct {
	m   *pairMaker
	p   *fethPair
	log hclog.Logger

	bridgeGone bool   // the bridge was seen deleted, and not re-joined since
	lost       string // the member's name when it was deleted, while it is not back
	lastWarn   string // the last error logged, not to repeat it every check
}

// linkState is a check's verdict on the bridge side of the link.
type linkState struct {
	known bool   // false: the check failed, nothing is known
	up    bool   // the member is in the bridge, and both ends are up
	text  string // why it is down; when up, what was repaired (or "")
	retry bool   // down for a failure no link event will repair: check again later
}

func down(format string, args ...any) linkState {
	return linkState{known: true, text: fmt.Sprintf(format, args...)}
}

// check repairs what it can and reports the bridge side's state.
func (k *keeper) check() linkState {
	ops, p := k.m.ops, k.p
	note := ""
	if p.member != "" {
		// Is the member still there, and ours? The switched end's
		// peer says: a feth destroyed leaves its peer without one,
		// whatever is given its name later.
		ps, err := ops.peer(p.switched)
		switch {
		case gone(err):
			return down("interface %s deleted", p.switched)
		case err != nil:
			k.warnOnce("checking the feth pair failed", err)
			return linkState{}
		case ps == "":
			k.lost = p.member
			p.member = ""
			k.log.Warn("feth deleted: creating it again", "member", k.lost, "bridge", p.bridge)
			if err := k.m.record(p); err != nil {
				k.log.Warn("feth pair record not updated", "error", err)
			}
		case ps != p.member:
			return down("interface %s was peered with %s", p.switched, ps)
		}
	}
	if p.member == "" {
		st := k.recreate()
		if !st.up {
			return st
		}
		note = st.text
	} else {
		_, err := ops.memberFlags(p.bridge, p.member)
		switch {
		case err == nil:
			return k.upCheck("")
		case gone(err):
			k.bridgeGone = true
			return down("bridge %s deleted", p.bridge)
		case !errors.Is(err, syscall.ENOENT):
			k.warnOnce("checking bridge membership failed", err)
			return linkState{}
		}
	}

	err := ops.addMember(p.bridge, p.member)
	switch {
	case err == nil || errors.Is(err, syscall.EEXIST):
	case errors.Is(err, syscall.EBUSY):
		return down("%s was moved to %s: not re-joining bridge %s", p.member, k.whichBridge(), p.bridge)
	case gone(err):
		k.bridgeGone = true
		return down("bridge %s deleted", p.bridge)
	case errors.Is(err, syscall.ENOENT):
		return down("interface %s deleted", p.member)
	default:
		return down("%v", k.m.joinError(p, err))
	}
	switch {
	case note != "":
		note += " and joined to bridge " + p.bridge
	case k.bridgeGone:
		note = "bridge " + p.bridge + " back"
		k.log.Info("bridge is back: feth re-joined it", "member", p.member, "bridge", p.bridge)
	default:
		note = "re-joined bridge " + p.bridge
		k.log.Warn("feth was taken out of the bridge: re-added it", "member", p.member, "bridge", p.bridge)
	}
	k.bridgeGone = false
	return k.upCheck(note)
}

// upCheck reports the link up with note, unless an end was set down (by
// hand: the port leaves that to whoever did it).
func (k *keeper) upCheck(note string) linkState {
	for _, n := range []string{k.p.member, k.p.switched} {
		up, err := k.m.ops.isUp(n)
		switch {
		case gone(err):
			return down("interface %s deleted", n)
		case err != nil:
			k.warnOnce("checking the feth pair failed", err)
			return linkState{}
		case !up:
			return down("interface %s set down", n)
		}
	}
	k.lastWarn = ""
	return linkState{known: true, up: true, text: note}
}

// recreate creates the member again (k.lost was its name), peers it with
// the switched end and brings it up. While that fails, the link is
// reported down for the loss.
func (k *keeper) recreate() linkState {
	m, p := k.m, k.p
	reason := "interface " + k.lost + " deleted"
	p.member = ""
	name, err := m.ops.create(p.dev)
	if err != nil {
		k.warnOnce("could not create the feth again", err)
		st := down("%s", reason)
		st.retry = true
		return st
	}
	p.member = name
	if err := m.record(p); err != nil {
		k.log.Warn("re-created feth not recorded", "member", name, "error", err)
	}
	err = m.ops.setPeer(name, p.switched)
	if err == nil {
		err = m.prepare(name, p.mtu)
	}
	if err != nil {
		m.ops.destroy(name)
		p.member = ""
		if rerr := m.record(p); rerr != nil {
			k.log.Warn("feth pair record not updated", "error", rerr)
		}
		k.warnOnce("could not set up the re-created feth", err)
		if gone(err) {
			return down("interface %s deleted", p.switched)
		}
		st := down("%s", reason)
		st.retry = true
		return st
	}
	k.lost = ""
	k.log.Info("feth re-created", "member", name, "switched", p.switched)
	return linkState{known: true, up: true, text: "interface " + name + " re-created"}
}

// whichBridge names the bridge the member is in, when it is not its own.
func (k *keeper) whichBridge() string {
	if names, err := k.m.ops.interfaces(); err == nil {
		for _, b := range bridgeList(names) {
			if b == k.p.bridge {
				continue
			}
			if _, err := k.m.ops.memberFlags(b, k.p.member); err == nil {
				return b
			}
		}
	}
	return "another bridge"
}

// warnOnce logs err unless it is the one logged last.
func (k *keeper) warnOnce(msg string, err error) {
	if s := err.Error(); s != k.lastWarn {
		k.lastWarn = s
		k.log.Warn(msg, "member", k.p.member, "switched", k.p.switched, "bridge", k.p.bridge, "error", err)
	}
}
