package main

import (
	"sync/atomic"

	"github.com/l2fabric/l2fabric/fabric"
	"github.com/l2fabric/l2fabric/internal/privdrop"
)

// userFlagUsage is the help of the daemon's --user flag.
const userFlagUsage = "once the ports are open, give root up and run as USER[:GROUP] (l2fabric must start as root); " +
	"host, tap and feth ports can then no longer be attached"

// rootGuard keeps the daemon from trying to open a port that needs root
// once it has given root up: it wraps the Check of the kinds that need
// it (privdrop.NeedsRoot), so that attach and reload fail at once with a
// privdrop.NeedRootError that says why and what to do instead.
type rootGuard struct {
	dropped atomic.Pointer[privdrop.Credential]
}

// kinds returns ks with the checks of the kinds that need root wrapped.
func (g *rootGuard) kinds(ks fabric.Kinds) fabric.Kinds {
	out := make(fabric.Kinds, len(ks))
	for i, k := range ks {
		out[i] = k
		if _, ok := privdrop.NeedsRoot(k.Name); !ok {
			continue
		}
		check := k.Check
		out[i].Check = func(s fabric.Spec, cfg fabric.PortConfig) error {
			if c := g.dropped.Load(); c != nil {
				return privdrop.CheckKind(s.Kind, *c)
			}
			if check != nil {
				return check(s, cfg)
			}
			return nil
		}
	}
	return out
}

// drop gives root up for c; from then on the wrapped kinds refuse to
// open.
func (g *rootGuard) drop(c privdrop.Credential) error {
	g.dropped.Store(&c)
	return privdrop.Drop(c)
}
