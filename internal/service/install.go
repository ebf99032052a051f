package service

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// System is what installing a service touches: files, and the service
// manager's command.
type System struct {
	// WriteFile replaces the file at path with data, mode perm.
	WriteFile func(path string, data []byte, perm fs.FileMode) error
	// Remove removes the file at path.
	Remove func(path string) error
	// Run runs a command to completion; its error holds its output.
	Run func(name string, args ...string) error
}

// LocalSystem is the machine's: files replaced atomically, commands run
// with os/exec.
func LocalSystem() System {
	return System{WriteFile: writeFileAtomic, Remove: os.Remove, Run: runCommand}
}

// Install writes file, manager m's file for the service labelled label,
// and has the manager load it and start it now and at every boot. An
// installed service of that label is replaced (and restarted).
func Install(sys System, m Manager, label string, file []byte) error {
	if label == "" {
		label = DefaultLabel
	}
	path := Path(m, label)
	switch m {
	case Launchd:
		// A loaded daemon keeps its old definition: unload it first
		// (an error here means it was not loaded).
		_ = sys.Run("launchctl", "bootout", "system/"+label)
		if err := sys.WriteFile(path, file, 0o644); err != nil {
			return fmt.Errorf("writing %s: %w", path, err)
		}
		// A daemon disabled once (launchctl disable) would not load.
		if err := sys.Run("launchctl", "enable", "system/"+label); err != nil {
			return err
		}
		return sys.Run("launchctl", "bootstrap", "system", path)
	case Systemd:
		if err := sys.WriteFile(path, file, 0o644); err != nil {
			return fmt.Errorf("writing %s: %w", path, err)
		}
		unit := unitName(label)
		for _, args := range [][]string{{"daemon-reload"}, {"enable", unit}, {"restart", unit}} {
			if err := sys.Run("systemctl", args...); err != nil {
				return err
			}
		}
		return nil
	}
	return fmt.Errorf("unknown service manager %q", m)
}

// Uninstall stops the service labelled label, keeps it from starting at
// boot and removes its file. A service that is not installed is an
// error that says so.
func Uninstall(sys System, m Manager, label string) error {
	if label == "" {
		label = DefaultLabel
	}
	path := Path(m, label)
	var stopErr error
	switch m {
	case Launchd:
		stopErr = sys.Run("launchctl", "bootout", "system/"+label)
	case Systemd:
		stopErr = sys.Run("systemctl", "disable", "--now", unitName(label))
	default:
		return fmt.Errorf("unknown service manager %q", m)
	}
	err := sys.Remove(path)
	if errors.Is(err, fs.ErrNotExist) {
		if stopErr != nil {
			return fmt.Errorf("no service %s is installed (%s does not exist)", label, path)
		}
		err = nil
	}
	if err != nil {
		return fmt.Errorf("removing %s: %w", path, err)
	}
	if m == Systemd {
		return sys.Run("systemctl", "daemon-reload")
	}
	return nil
}

// writeFileAtomic writes data to a temporary file next to path and
// renames it over path, so that the manager never reads half a file.
func writeFileAtomic(path string, data []byte, perm fs.FileMode) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Chmod(perm); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}

// runCommand runs name with args; a failure includes its output.
func runCommand(name string, args ...string) error {
	var out bytes.Buffer
	cmd := exec.Command(name, args...)
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("%s %s: %v: %s", name, strings.Join(args, " "), err, strings.TrimSpace(out.String()))
	}
	return nil
}
