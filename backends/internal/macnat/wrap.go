package macnat

import (
	"github.com/l2fabric/l2fabric/fabric"
	"github.com/l2fabric/l2fabric/frames/offload"
)

// The fabric finds a port's optional interfaces by type assertion, so a
// wrapper must have exactly the optional methods of the port it wraps:
// one type per combination of the optional interfaces the wrapper cannot
// always provide (GSOPort: the fabric would hand a plain port
// super-frames; Linker). The wrapper always provides AddressFilter,
// RxDropper and NATPort.

// gsoPort is a wrapped GSOPort.
type gsoPort struct {
	*port
	g fabric.GSOPort
}

// ReadGSO implements fabric.GSOPort.
func (w gsoPort) ReadGSO(bufs [][]byte, sizes []int, hdrs []offload.Header) (int, error) {
	return w.readGSO(w.g, bufs, sizes, hdrs)
}

// WriteGSO implements fabric.GSOPort.
func (w gsoPort) WriteGSO(bufs [][]byte, hdrs []offload.Header) (int, error) {
	return w.writeGSO(w.g, bufs, hdrs)
}

// linkPort is a wrapped Linker.
type linkPort struct {
	*port
	fabric.Linker
}

// gsoLinkPort is a wrapped GSOPort and Linker.
type gsoLinkPort struct {
	gsoPort
	fabric.Linker
}

// natPort is what every wrapper provides.
type natPort interface {
	fabric.Port
	fabric.AddressFilter
	fabric.RxDropper
	fabric.NATPort
}

var (
	_ natPort        = (*port)(nil)
	_ fabric.GSOPort = gsoPort{}
	_ fabric.Linker  = linkPort{}
	_ fabric.GSOPort = gsoLinkPort{}
	_ fabric.Linker  = gsoLinkPort{}
	_ natPort        = gsoLinkPort{}
)

// expose returns p as the type whose optional interfaces are its wrapped
// port's.
func expose(p *port) natPort {
	g, isGSO := p.inner.(fabric.GSOPort)
	l, isLinker := p.inner.(fabric.Linker)
	switch {
	case isGSO && isLinker:
		return gsoLinkPort{gsoPort{p, g}, l}
	case isGSO:
		return gsoPort{p, g}
	case isLinker:
		return linkPort{p, l}
	}
	return p
}
