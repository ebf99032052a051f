package main

import (
	"fmt"
	"os"
	"path/filepath"
)

// runtimeDir is where l2fabric puts its sockets by default: /var/run for
// root, $XDG_RUNTIME_DIR or the temporary directory for a user.
func runtimeDir() string {
	if os.Geteuid() == 0 {
		return "/var/run"
	}
	if d := os.Getenv("XDG_RUNTIME_DIR"); d != "" {
		return d
	}
	return os.TempDir()
}

// userSuffix keeps users' sockets apart in a shared temporary directory.
func userSuffix() string {
	if os.Geteuid() == 0 || os.Getenv("XDG_RUNTIME_DIR") != "" {
		return ""
	}
	return fmt.Sprintf("-%d", os.Geteuid())
}

// defaultControlPath is the control socket's path unless --control or
// L2FABRIC_CONTROL says otherwise.
func defaultControlPath() string {
	if p := os.Getenv("L2FABRIC_CONTROL"); p != "" {
		return p
	}
	return filepath.Join(runtimeDir(), "l2fabric"+userSuffix()+".sock")
}

// defaultPortSpec is the port l2fabric runs with when given no --port: one
// listening socket any number of VMs can attach to.
func defaultPortSpec() (spec, path string) {
	path = filepath.Join(runtimeDir(), "l2fabric"+userSuffix()+"-vms.sock")
	return "dgram:" + path + ",name=vms", path
}

// sameFile reports whether a and b are the same file.
func sameFile(a, b string) bool {
	fa, err := os.Stat(a)
	if err != nil {
		return false
	}
	fb, err := os.Stat(b)
	return err == nil && os.SameFile(fa, fb)
}
