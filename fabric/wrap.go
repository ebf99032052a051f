package fabric

import (
	"errors"

	"github.com/l2fabric/l2fabric/frames"
	"github.com/l2fabric/l2fabric/frames/offload"
)

// Hooks are the methods a wrapper supplies in place of those of the port it
// wraps (see Wrap). A nil hook leaves the wrapped port's own method.
type Hooks struct {
	// Read and Write replace the Port methods.
	Read  func(bufs [][]byte, sizes []int) (n int, err error)
	Write func(bufs [][]byte) (n int, err error)
	// ReadGSO and WriteGSO replace the GSOPort methods. They apply only
	// to a port that is a GSOPort, and must be set with Read and Write
	// respectively: the fabric calls the GSO methods of a GSOPort, so a
	// Read hook without a ReadGSO hook would never see a frame.
	ReadGSO  func(bufs [][]byte, sizes []int, hdrs []offload.Header) (n int, err error)
	WriteGSO func(bufs [][]byte, hdrs []offload.Header) (n int, err error)
	// Close replaces Close. A wrapper that holds anything of its own
	// sets it, and closes the wrapped port from it.
	Close func() error
	// LinkEvents, SetRemoteMACs and RxDropped replace the methods of
	// Linker, AddressFilter and RxDropper, and make the wrapper implement
	// the interface even when the wrapped port does not.
	LinkEvents    func() <-chan LinkEvent
	SetRemoteMACs func(macs []frames.MAC)
	RxDropped     func() uint64
}

// Wrap returns a port that is inner with the hooks' methods in place of
// inner's: the way to build a port on another one (a VM's NIC port on its
// socket's port, a MAC-translating port on a host NIC's).
//
// A wrapper that embeds the Port interface in a struct of its own hides
// every optional interface of the port it wraps: the fabric would no
// longer see it carry super-frames (GSOPort), filter addresses
// (AddressFilter), report its link (Linker) or count its drops
// (RxDropper). The port Wrap returns implements each of these that inner
// implements, and no other, plus those a hook adds (Linker with
// LinkEvents, AddressFilter with SetRemoteMACs, RxDropper with
// RxDropped). This is httpsnoop's answer to the same problem with
// http.ResponseWriter, and what gVisor's link/nested does by forwarding
// every method.
//
// ViewReader alone is not kept: a wrapped port is read through its Read
// (or the Read hook, which ReadViews would bypass), at the price of one
// copy per frame.
//
// Wrap returns an error for hooks that would let frames bypass them: Read
// without ReadGSO (or Write without WriteGSO, or the reverse) on a
// GSOPort, and GSO hooks on a port that is not one.
func Wrap(inner Port, h Hooks) (Port, error) {
	if inner == nil {
		return nil, errors.New("wrapping a port: the port is nil")
	}
	w := &wrapped{Port: inner, h: h}
	gso, isGSO := inner.(GSOPort)
	switch {
	case !isGSO && (h.ReadGSO != nil || h.WriteGSO != nil):
		return nil, errors.New("wrapping a port: ReadGSO and WriteGSO hooks on a port that is not a GSOPort")
	case isGSO && (h.Read == nil) != (h.ReadGSO == nil):
		return nil, errors.New("wrapping a GSO port: Read and ReadGSO must be hooked together, or frames bypass the hook")
	case isGSO && (h.Write == nil) != (h.WriteGSO == nil):
		return nil, errors.New("wrapping a GSO port: Write and WriteGSO must be hooked together, or frames bypass the hook")
	}
	w.gso = gso
	w.linker, _ = inner.(Linker)
	w.filter, _ = inner.(AddressFilter)
	w.dropper, _ = inner.(RxDropper)
	return w.compose(isGSO, w.filter != nil || h.SetRemoteMACs != nil,
		w.linker != nil || h.LinkEvents != nil, w.dropper != nil || h.RxDropped != nil), nil
}

// wrapped implements every method a port can have; compose exposes the
// ones the wrapped port and the hooks call for.
type wrapped struct {
	Port // BatchSize, and whatever is not hooked
	h    Hooks

	gso     GSOPort
	linker  Linker
	filter  AddressFilter
	dropper RxDropper
}

func (w *wrapped) Read(bufs [][]byte, sizes []int) (int, error) {
	if w.h.Read != nil {
		return w.h.Read(bufs, sizes)
	}
	return w.Port.Read(bufs, sizes)
}

func (w *wrapped) Write(bufs [][]byte) (int, error) {
	if w.h.Write != nil {
		return w.h.Write(bufs)
	}
	return w.Port.Write(bufs)
}

func (w *wrapped) Close() error {
	if w.h.Close != nil {
		return w.h.Close()
	}
	return w.Port.Close()
}

func (w *wrapped) ReadGSO(bufs [][]byte, sizes []int, hdrs []offload.Header) (int, error) {
	if w.h.ReadGSO != nil {
		return w.h.ReadGSO(bufs, sizes, hdrs)
	}
	return w.gso.ReadGSO(bufs, sizes, hdrs)
}

func (w *wrapped) WriteGSO(bufs [][]byte, hdrs []offload.Header) (int, error) {
	if w.h.WriteGSO != nil {
		return w.h.WriteGSO(bufs, hdrs)
	}
	return w.gso.WriteGSO(bufs, hdrs)
}

func (w *wrapped) LinkEvents() <-chan LinkEvent {
	if w.h.LinkEvents != nil {
		return w.h.LinkEvents()
	}
	return w.linker.LinkEvents()
}

func (w *wrapped) SetRemoteMACs(macs []frames.MAC) {
	if w.h.SetRemoteMACs != nil {
		w.h.SetRemoteMACs(macs)
		return
	}
	w.filter.SetRemoteMACs(macs)
}

func (w *wrapped) RxDropped() uint64 {
	if w.h.RxDropped != nil {
		return w.h.RxDropped()
	}
	return w.dropper.RxDropped()
}

// compose returns w as a value whose method set is Port plus the optional
// interfaces asked for, and nothing more: one struct of embedded
// interfaces per combination (TestWrapKeepsOptionalInterfaces checks all
// sixteen).
func (w *wrapped) compose(gso, filter, linker, dropper bool) Port {
	type (
		P = Port
		G = GSOPort
		F = AddressFilter
		L = Linker
		D = RxDropper
	)
	switch {
	case !gso && !filter && !linker && !dropper:
		return struct{ P }{w}
	case !gso && !filter && !linker && dropper:
		return struct {
			P
			D
		}{w, w}
	case !gso && !filter && linker && !dropper:
		return struct {
			P
			L
		}{w, w}
	case !gso && !filter && linker && dropper:
		return struct {
			P
			L
			D
		}{w, w, w}
	case !gso && filter && !linker && !dropper:
		return struct {
			P
			F
		}{w, w}
	case !gso && filter && !linker && dropper:
		return struct {
			P
			F
			D
		}{w, w, w}
	case !gso && filter && linker && !dropper:
		return struct {
			P
			F
			L
		}{w, w, w}
	case !gso && filter && linker && dropper:
		return struct {
			P
			F
			L
			D
		}{w, w, w, w}
	case gso && !filter && !linker && !dropper:
		return struct{ G }{w}
	case gso && !filter && !linker && dropper:
		return struct {
			G
			D
		}{w, w}
	case gso && !filter && linker && !dropper:
		return struct {
			G
			L
		}{w, w}
	case gso && !filter && linker && dropper:
		return struct {
			G
			L
			D
		}{w, w, w}
	case gso && filter && !linker && !dropper:
		return struct {
			G
			F
		}{w, w}
	case gso && filter && !linker && dropper:
		return struct {
			G
			F
			D
		}{w, w, w}
	case gso && filter && linker && !dropper:
		return struct {
			G
			F
			L
		}{w, w, w}
	default:
		return struct {
			G
			F
			L
			D
		}{w, w, w, w}
	}
}
