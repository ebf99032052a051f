//go:build !(darwin && cgo)

package good

import "errors"

// errUnsupported is what the package returns off darwin or without cgo.
var errUnsupported = errors.New("VMs need macOS and a cgo build")
