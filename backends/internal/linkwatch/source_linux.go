package linkwatch

import (
	"errors"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// System returns the kernel's link events: rtnetlink's RTNLGRP_LINK.
func System() (Source, error) { return netlinkSource{}, nil }

// netlinkSource is the rtnetlink link group, through vishvananda/netlink.
type netlinkSource struct{}

// Subscribe implements Source. The listing is netlink's own dump
// (ListExisting), sent on the subscribed socket before any change, so
// the two arrive in the kernel's order. When the socket fails (ENOBUFS:
// events were dropped) netlink's goroutine reports it and closes its
// channel, and so this one.
func (netlinkSource) Subscribe(done <-chan struct{}, updates chan<- Update, report func(error)) error {
	// The socket lives until the watcher is done or the subscription
	// ends (netlink closes raw): closing sub closes it either way, so a
	// subscription renewed after an overflow does not leak the old one.
	raw := make(chan netlink.LinkUpdate, 64)
	sub, ended := make(chan struct{}), make(chan struct{})
	err := netlink.LinkSubscribeWithOptions(raw, sub, netlink.LinkSubscribeOptions{
		ListExisting:  true,
		ErrorCallback: report,
	})
	if err != nil {
		close(sub)
		return err
	}
	go func() {
		select {
		case <-done:
		case <-ended:
		}
		close(sub)
	}()
	go func() {
		defer close(updates)
		defer close(ended)
		// Read raw until netlink closes it, so its goroutine never
		// blocks on a send nobody takes.
		for u := range raw {
			if u.Family != unix.AF_UNSPEC {
				// A bridge's news about its ports (AF_BRIDGE): an
				// RTM_DELLINK there is a port leaving the bridge, not
				// an interface deleted. The interface's own message
				// (AF_UNSPEC) follows with its new master.
				continue
			}
			up := Update{Link: fromNetlink(u.Link), Deleted: u.Header.Type == unix.RTM_DELLINK}
			select {
			case updates <- up:
			case <-done:
			}
		}
	}()
	return nil
}

// Lookup implements Source.
func (netlinkSource) Lookup(name string) (Link, bool, error) {
	l, err := netlink.LinkByName(name)
	var nf netlink.LinkNotFoundError
	switch {
	case errors.As(err, &nf):
		return Link{}, false, nil
	case err != nil:
		return Link{}, false, err
	}
	return fromNetlink(l), true, nil
}

// fromNetlink is the part of a netlink link a watcher needs.
func fromNetlink(l netlink.Link) Link {
	a := l.Attrs()
	return Link{
		Index:   a.Index,
		Name:    a.Name,
		Up:      a.RawFlags&iffUp != 0,
		Running: a.RawFlags&iffRunning != 0,
		Master:  a.MasterIndex,
		MTU:     a.MTU,
		Flags:   a.RawFlags,
	}
}
