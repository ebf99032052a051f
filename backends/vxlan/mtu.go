package vxlan

import (
	"fmt"
	"net"
	"net/netip"
)

// interfaceMTU returns the MTU of the interface holding o.local or, when
// local is unspecified, of the one the kernel would send to the first
// remote from (found by connecting a UDP socket, which sends nothing);
// 1500 when there is no remote to ask about.
func interfaceMTU(o options) (int, error) {
	addr := o.local
	if addr.IsUnspecified() {
		if len(o.remotes) == 0 {
			return 1500, nil
		}
		c, err := net.DialUDP("udp", nil, net.UDPAddrFromAddrPort(netip.AddrPortFrom(o.remotes[0], o.port)))
		if err != nil {
			return 0, fmt.Errorf("no route to %s: %w", o.remotes[0], err)
		}
		addr = c.LocalAddr().(*net.UDPAddr).AddrPort().Addr().Unmap()
		c.Close()
	}
	ifs, err := net.Interfaces()
	if err != nil {
		return 0, err
	}
	for _, ifc := range ifs {
		addrs, err := ifc.Addrs()
		if err != nil {
			continue
		}
		for _, a := range addrs {
			n, ok := a.(*net.IPNet)
			if !ok {
				continue
			}
			if ip, ok := netip.AddrFromSlice(n.IP); ok && ip.Unmap() == addr {
				return ifc.MTU, nil
			}
		}
	}
	return 0, fmt.Errorf("no interface has the address %s (local=)", addr)
}
