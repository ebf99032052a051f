package main

import (
	"github.com/l2fabric/l2fabric/backends/dgram"
	"github.com/l2fabric/l2fabric/backends/feth"
	"github.com/l2fabric/l2fabric/backends/host"
	"github.com/l2fabric/l2fabric/backends/stream"
	"github.com/l2fabric/l2fabric/backends/vm"
	"github.com/l2fabric/l2fabric/backends/vxlan"
	"github.com/l2fabric/l2fabric/fabric"
)

// haveVMs says whether l2fabric boots VMs here: vm: ports, --vm and
// 'l2fabric vm'.
const haveVMs = true

// platformKinds are the port kinds l2fabric offers on macOS; vm: ports
// find their VMs in vms (nil: the default directories only).
func platformKinds(vms *vm.Catalog) fabric.Kinds {
	return fabric.Kinds{dgram.Kind(), stream.Kind(), host.Kind(), feth.Kind(), vm.Kind(vms), vxlan.Kind()}
}

// clientKinds check the specs of 'l2fabric attach' before they are sent
// to the daemon, which alone knows its VMs.
func clientKinds() fabric.Kinds {
	return fabric.Kinds{dgram.Kind(), stream.Kind(), host.Kind(), feth.Kind(), vm.SpecKind(), vxlan.Kind()}
}
