package vxlan

import (
	"context"
	"fmt"
	"strings"

	"github.com/l2fabric/l2fabric/fabric"
	"github.com/l2fabric/l2fabric/fdb"
)

// Kind returns the vxlan port kind. The ports of one Kind value share
// their sockets (one per local address and UDP port), so a daemon makes
// one and opens all its vxlan ports through it.
func Kind() fabric.Kind {
	reg := newRegistry()
	return fabric.Kind{
		Name:    "vxlan",
		Summary: "a VXLAN tunnel endpoint (RFC 7348) to remote VTEPs: Linux vxlan devices, Open vSwitch, switches, other l2fabrics",
		Forms:   forms,
		Keys:    keys,
		Check: func(s fabric.Spec, cfg fabric.PortConfig) error {
			_, err := parseOptions(s, cfg)
			return err
		},
		Open: func(ctx context.Context, s fabric.Spec, cfg fabric.PortConfig, a fabric.Attacher) (fabric.Opened, error) {
			return open(reg, s, cfg, a)
		},
	}
}

// open makes a vxlan port, for the fabric to attach.
func open(reg *registry, s fabric.Spec, cfg fabric.PortConfig, a fabric.Attacher) (fabric.Opened, error) {
	o, err := parseOptions(s, cfg)
	if err != nil {
		return fabric.Opened{}, err
	}
	_, mtuGiven := s.Get("mtu")
	underlay, err := underlayMTU(o)
	if err != nil && !mtuGiven {
		return fabric.Opened{}, err
	}
	cfg = o.portConfig(cfg, underlay, mtuGiven)
	if cfg.TxQueueLen == 0 {
		cfg.TxQueueLen = fabric.DefaultTxQueueLen
	}
	tbl, err := newTable(o, fdb.Config{})
	if err != nil {
		return fabric.Opened{}, err
	}
	flow := a.FlowControl()
	p := newPort(o, cfg, tbl, flow)
	sh, err := reg.join(o, p, a.Logger(), flow)
	if err != nil {
		return fabric.Opened{}, err
	}
	p.sh, p.reg = sh, reg
	go p.age()
	var rs []string
	for _, r := range o.remotes {
		rs = append(rs, r.String())
	}
	a.Logger().Info("vxlan port", "port", cfg.Name, "local", sh.key, "remotes", strings.Join(rs, ","),
		"inner_mtu", cfg.MTU, "underlay_mtu", underlay, "gso", sh.pool[0].gso.Load(), "gro", sh.rx.gro)
	return fabric.Opened{Port: p, Config: cfg}, nil
}

// underlayMTU is the MTU of the interface the tunnel's packets leave by:
// the one holding local, or else the one the route to the first remote
// takes; 1500 when neither tells.
func underlayMTU(o options) (int, error) {
	mtu, err := interfaceMTU(o)
	if err != nil {
		return 0, fmt.Errorf("vxlan: finding the underlay's MTU: %w (give the inner MTU with mtu=)", err)
	}
	return mtu, nil
}
