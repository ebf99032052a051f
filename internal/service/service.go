// Package service makes l2fabric a service the system starts at boot: a
// launchd daemon on macOS, a systemd unit on Linux. It renders the file
// (pure, tested on every platform: `l2fabric service print`) and installs
// or removes it with the system's own tools (`service install`,
// `service uninstall`).
package service

import (
	"errors"
	"fmt"
	"path/filepath"
	"strings"
)

// Manager is a service manager l2fabric can be installed under.
type Manager string

// The managers.
const (
	// Launchd is macOS's: a daemon in /Library/LaunchDaemons.
	Launchd Manager = "launchd"
	// Systemd is Linux's: a unit in /etc/systemd/system.
	Systemd Manager = "systemd"
)

// ManagerFor returns the service manager of goos, as GOOS names it, or
// as the user names it ("macos", "linux").
func ManagerFor(goos string) (Manager, error) {
	switch goos {
	case "darwin", "macos":
		return Launchd, nil
	case "linux":
		return Systemd, nil
	}
	return "", fmt.Errorf("no service manager known for %q: want macos or linux", goos)
}

// Defaults of a Spec.
const (
	// DefaultLabel is the launchd label, also the unit's name
	// (l2fabric.service) without its prefix.
	DefaultLabel = "org.l2fabric"
	// DefaultLog is the file launchd appends the daemon's output to;
	// under systemd it goes to the journal.
	DefaultLog = "/var/log/l2fabric.log"
	// StopTimeout is how long the manager waits after SIGTERM before it
	// kills the daemon: enough for VMs to shut down (the vm: port
	// forces one off after 30 s).
	StopTimeout = 40
)

// Spec is what a service runs.
type Spec struct {
	// Binary is the absolute path of the l2fabric binary.
	Binary string
	// Args are the daemon's arguments (its flags: --port..., --config,
	// --user...).
	Args []string
	// Label names the service (launchd's Label); DefaultLabel if empty.
	Label string
	// Log is the file launchd appends output to; DefaultLog if empty.
	Log string
	// Command is the command line that made the file, written into it
	// as a comment (only its first three words in a plist, whose
	// comments cannot hold "--"); none if empty.
	Command string
}

// withDefaults fills in the defaults and checks the spec.
func (s Spec) withDefaults() (Spec, error) {
	if s.Label == "" {
		s.Label = DefaultLabel
	}
	if s.Log == "" {
		s.Log = DefaultLog
	}
	switch {
	case s.Binary == "" || !filepath.IsAbs(s.Binary):
		return s, fmt.Errorf("the binary %q is not an absolute path: a service must name it in full (--binary /usr/local/bin/l2fabric)", s.Binary)
	case !filepath.IsAbs(s.Log):
		return s, fmt.Errorf("the log file %q is not an absolute path (--log /var/log/l2fabric.log)", s.Log)
	case strings.ContainsAny(s.Label, "/ \t\n") || s.Label == "." || s.Label == "..":
		return s, fmt.Errorf("the label %q may not contain '/' or spaces (--label org.l2fabric)", s.Label)
	}
	for _, a := range append([]string{s.Binary, s.Log, s.Command}, s.Args...) {
		if strings.ContainsAny(a, "\x00\n\r") {
			return s, errors.New("an argument contains a NUL or a line break: a service file cannot hold it")
		}
	}
	return s, nil
}

// Render returns the file of service manager m for s.
func Render(m Manager, s Spec) ([]byte, error) {
	s, err := s.withDefaults()
	if err != nil {
		return nil, err
	}
	switch m {
	case Launchd:
		return launchdPlist(s), nil
	case Systemd:
		return systemdUnit(s), nil
	}
	return nil, fmt.Errorf("unknown service manager %q", m)
}

// Path returns where manager m's file for the service labelled label is
// installed.
func Path(m Manager, label string) string {
	if label == "" {
		label = DefaultLabel
	}
	if m == Launchd {
		return "/Library/LaunchDaemons/" + label + ".plist"
	}
	return "/etc/systemd/system/" + unitName(label)
}

// unitName is the systemd unit name for a label: org.l2fabric is
// l2fabric.service, anything else LABEL.service.
func unitName(label string) string {
	return strings.TrimPrefix(label, "org.") + ".service"
}
