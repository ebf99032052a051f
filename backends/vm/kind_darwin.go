package vm

import "github.com/l2fabric/l2fabric/fabric"

// Kind returns the vm port kind, finding VMs in c (NewCatalog() when nil:
// no inline definitions, the default directories). Each Kind value keeps
// track of the VMs it has booted: give each fabric its own.
//
// In a build without cgo the kind is still listed, so that vm: specs get a
// clear error (ErrNeedCgo) rather than "unknown port kind".
func Kind(c *Catalog) fabric.Kind {
	return newKind(kindConfig{catalog: c, hv: platformHypervisor, unavailable: platformUnavailable})
}

// SpecKind returns the vm kind for checking specs away from the daemon
// (the attach command): its Check looks only at the spec's syntax, since
// the VM may be defined with the daemon's --vm or in root's directories;
// its Open fails.
func SpecKind() fabric.Kind {
	return newKind(kindConfig{syntaxOnly: true, unavailable: platformUnavailable})
}
