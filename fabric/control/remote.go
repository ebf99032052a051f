package control

import (
	"fmt"
	"net/netip"

	"github.com/l2fabric/l2fabric/fabric"
)

// remoteCommand changes or lists a tunnel port's flood list.
func remoteCommand(f *fabric.Fabric, a RemoteArgs) (any, error) {
	r, err := f.Remotes(a.Port)
	if err != nil {
		return nil, fmt.Errorf("vxlan.remote: %w", err)
	}
	if a.Op != "list" {
		addr, perr := netip.ParseAddr(a.Remote)
		if perr != nil {
			return nil, fmt.Errorf("vxlan.remote: remote %q is not an IP address", a.Remote)
		}
		switch a.Op {
		case "add":
			err = r.AddRemote(addr)
		case "del":
			err = r.DeleteRemote(addr)
		default:
			return nil, fmt.Errorf("vxlan.remote: op %q: want add, del or list", a.Op)
		}
		if err != nil {
			return nil, fmt.Errorf("vxlan.remote %s %s: %w", a.Op, a.Remote, err)
		}
	}
	res := RemotesResult{Remotes: []string{}}
	for _, x := range r.Remotes() {
		res.Remotes = append(res.Remotes, x.String())
	}
	return res, nil
}
