package main

import (
	"github.com/l2fabric/l2fabric/backends/dgram"
	"github.com/l2fabric/l2fabric/backends/feth"
	"github.com/l2fabric/l2fabric/backends/host"
	"github.com/l2fabric/l2fabric/backends/tap"
	"github.com/l2fabric/l2fabric/fabric"
)

// platformKinds are the port kinds l2fabric offers on Linux.
func platformKinds() fabric.Kinds {
	return fabric.Kinds{dgram.Kind(), host.Kind(), tap.Kind(), feth.Kind()}
}
