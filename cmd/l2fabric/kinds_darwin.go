package main

import (
	"github.com/l2fabric/l2fabric/backends/dgram"
	"github.com/l2fabric/l2fabric/fabric"
)

// platformKinds are the port kinds l2fabric offers on macOS.
func platformKinds() fabric.Kinds {
	return fabric.Kinds{dgram.Kind()}
}
