package main

import (
	"github.com/l2fabric/l2fabric/backends/dgram"
	"github.com/l2fabric/l2fabric/backends/feth"
	"github.com/l2fabric/l2fabric/backends/host"
	"github.com/l2fabric/l2fabric/backends/stream"
	"github.com/l2fabric/l2fabric/backends/tap"
	"github.com/l2fabric/l2fabric/backends/vm"
	"github.com/l2fabric/l2fabric/backends/vxlan"
	"github.com/l2fabric/l2fabric/fabric"
)

// haveVMs says whether l2fabric boots VMs here: only on macOS.
const haveVMs = false

// platformKinds are the port kinds l2fabric offers on Linux.
func platformKinds(*vm.Catalog) fabric.Kinds {
	return fabric.Kinds{dgram.Kind(), stream.Kind(), host.Kind(), tap.Kind(), feth.Kind(), vxlan.Kind()}
}

// clientKinds check the specs of 'l2fabric attach' before they are sent
// to the daemon.
func clientKinds() fabric.Kinds { return platformKinds(nil) }
