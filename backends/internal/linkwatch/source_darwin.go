package linkwatch

import (
	"errors"
	"fmt"
	"os"
	"syscall"

	"golang.org/x/net/route"
	"golang.org/x/sys/unix"
)

// System returns the kernel's link events: a PF_ROUTE socket, read
// through golang.org/x/net/route.
func System() (Source, error) { return routeSource{}, nil }

// routeSource follows RTM_IFINFO messages on a PF_ROUTE socket, listing
// the interfaces (NET_RT_IFLIST) on each to learn arrivals and departures
// (see listing).
type routeSource struct{}

// Subscribe implements Source. The socket is opened before the first
// listing, so no change after it is missed. A read error (ENOBUFS: the
// kernel dropped messages) ends the subscription.
func (routeSource) Subscribe(done <-chan struct{}, updates chan<- Update, report func(error)) error {
	syscall.ForkLock.RLock()
	fd, err := unix.Socket(unix.AF_ROUTE, unix.SOCK_RAW, unix.AF_UNSPEC)
	if err == nil {
		unix.CloseOnExec(fd)
	}
	syscall.ForkLock.RUnlock()
	if err != nil {
		return fmt.Errorf("PF_ROUTE socket: %w", err)
	}
	if err := unix.SetNonblock(fd, true); err != nil {
		unix.Close(fd)
		return fmt.Errorf("PF_ROUTE socket: %w", err)
	}
	f := os.NewFile(uintptr(fd), "route")
	t := newListing()
	first, err := listInterfaces()
	if err != nil {
		f.Close()
		return err
	}
	ended := make(chan struct{})
	go func() {
		select {
		case <-done:
		case <-ended:
		}
		f.Close() // ends the read below, or releases the socket
	}()
	go func() {
		defer close(updates)
		defer close(ended)
		send := func(us []Update) bool {
			for _, u := range us {
				select {
				case updates <- u:
				case <-done:
					return false
				}
			}
			return true
		}
		if !send(t.update(first)) {
			return
		}
		buf := make([]byte, 2048)
		for {
			n, err := f.Read(buf)
			if err != nil {
				if !errors.Is(err, os.ErrClosed) {
					report(fmt.Errorf("reading the PF_ROUTE socket: %w", err))
				}
				return
			}
			index, flags, ok := ifInfoHeader(buf[:n])
			if !ok {
				continue
			}
			news := t.message(index, flags)
			now, err := listInterfaces()
			if err != nil {
				report(err)
				return // subscribe again: the watcher re-learns everything
			}
			if !send(append(news, t.update(now)...)) {
				return
			}
		}
	}()
	return nil
}

// listInterfaces lists every interface with its flags.
func listInterfaces() ([]Link, error) {
	rib, err := route.FetchRIB(unix.AF_UNSPEC, route.RIBTypeInterface, 0)
	if err != nil {
		return nil, fmt.Errorf("listing interfaces: %w", err)
	}
	return parseInterfaceList(rib)
}

// parseInterfaceList parses a NET_RT_IFLIST listing.
func parseInterfaceList(rib []byte) ([]Link, error) {
	msgs, err := route.ParseRIB(route.RIBTypeInterface, rib)
	if err != nil {
		return nil, fmt.Errorf("parsing the interface list: %w", err)
	}
	var out []Link
	for _, m := range msgs {
		if im, ok := m.(*route.InterfaceMessage); ok && im.Name != "" {
			out = append(out, interfaceLink(im.Index, im.Name, im.Flags))
		}
	}
	return out, nil
}

// Lookup implements Source.
func (routeSource) Lookup(name string) (Link, bool, error) {
	links, err := listInterfaces()
	if err != nil {
		return Link{}, false, err
	}
	for _, l := range links {
		if l.Name == name {
			return l, true, nil
		}
	}
	return Link{}, false, nil
}
