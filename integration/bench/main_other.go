//go:build !linux

// Command bench measures l2fabric's forwarding against vde_switch and a
// bare relay; it needs Linux (recvmmsg/sendmmsg, vde2).
package main

import (
	"fmt"
	"os"
)

func main() {
	fmt.Fprintln(os.Stderr, "bench: the forwarding benchmark runs on Linux only")
	os.Exit(1)
}
