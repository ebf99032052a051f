package vm

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"sync"
)

// EnvDir is the environment variable that, when set, is the one directory
// VM definitions are looked up in and created in.
const EnvDir = "L2FABRIC_VMS"

// SystemDir is the directory of root's VM definitions on goos:
// /Library/Application Support/l2fabric/vms on macOS,
// /var/lib/l2fabric/vms elsewhere.
func SystemDir(goos string) string {
	if goos == "darwin" {
		return "/Library/Application Support/l2fabric/vms"
	}
	return "/var/lib/l2fabric/vms"
}

// DefaultDirs returns the directories VM definitions are looked up in, in
// order, for this process: see the package documentation. The first is
// where Create writes.
func DefaultDirs() []string {
	return defaultDirs(runtime.GOOS, os.Geteuid(), os.Getenv)
}

func defaultDirs(goos string, euid int, getenv func(string) string) []string {
	if d := getenv(EnvDir); d != "" {
		return []string{d}
	}
	system := SystemDir(goos)
	if euid == 0 {
		return []string{system}
	}
	if user := userDir(goos, getenv); user != "" {
		return []string{user, system}
	}
	return []string{system}
}

// userDir is os.UserConfigDir()/l2fabric/vms, computed from getenv so that
// both platforms can be tested anywhere.
func userDir(goos string, getenv func(string) string) string {
	home := getenv("HOME")
	if goos == "darwin" {
		if home == "" {
			return ""
		}
		return filepath.Join(home, "Library", "Application Support", "l2fabric", "vms")
	}
	if x := getenv("XDG_CONFIG_HOME"); x != "" && filepath.IsAbs(x) {
		return filepath.Join(x, "l2fabric", "vms")
	}
	if home == "" {
		return ""
	}
	return filepath.Join(home, ".config", "l2fabric", "vms")
}

// Catalog finds VM definitions by name: the inline ones (--vm and the
// configuration file's tables) first, then
// NAME/vm.toml (or NAME/vm.conf) in each of Dirs. It is safe for
// concurrent use.
type Catalog struct {
	// Dirs are the directories searched, in order.
	Dirs []string

	mu     sync.Mutex
	inline map[string]*Definition
}

// NewCatalog returns a catalog searching dirs, or DefaultDirs when none
// are given.
func NewCatalog(dirs ...string) *Catalog {
	if len(dirs) == 0 {
		dirs = DefaultDirs()
	}
	return &Catalog{Dirs: dirs, inline: map[string]*Definition{}}
}

// AddInline parses a --vm definition (see ParseInline) and adds it. A
// name given twice is an error.
func (c *Catalog) AddInline(text string) error {
	d, err := ParseInline(text)
	if err != nil {
		return err
	}
	return c.Add(d)
}

// Add adds a definition, which takes precedence over the directories.
func (c *Catalog) Add(d *Definition) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.inline == nil {
		c.inline = map[string]*Definition{}
	}
	if _, dup := c.inline[d.Name]; dup {
		return fmt.Errorf("--vm %s: VM %s is defined twice", d.Name, d.Name)
	}
	c.inline[d.Name] = d
	return nil
}

// ErrNotFound is wrapped by Lookup's error for a VM that is defined
// nowhere.
var ErrNotFound = errors.New("no such VM")

// Lookup returns the definition of the VM called name, parsed but not
// validated (see Definition.Validate).
func (c *Catalog) Lookup(name string) (*Definition, error) {
	if err := ValidName(name); err != nil {
		return nil, err
	}
	c.mu.Lock()
	d := c.inline[name]
	c.mu.Unlock()
	if d != nil {
		return d, nil
	}
	for _, dir := range c.Dirs {
		d, err := LoadDir(dir, name)
		if err == nil {
			return d, nil
		}
		if !errors.Is(err, os.ErrNotExist) {
			return nil, err
		}
	}
	return nil, fmt.Errorf("%w %q: no --vm %s:..., no [vm.%s] table in --config, and no %s in %s (create one with: l2fabric vm create %s --kernel PATH)",
		ErrNotFound, name, name, name, filepath.Join(name, TableFile), strings.Join(c.Dirs, " or "), name)
}

// Entry is one VM a catalog knows, for listings.
type Entry struct {
	// Name is the VM's name.
	Name string
	// Dir is the VM's directory, "" for an inline definition.
	Dir string
	// Def is its definition, nil when it does not parse.
	Def *Definition
	// Err is why it does not parse or validate, or nil.
	Err error
	// Shadowed is set for a definition hidden by one of the same name
	// found earlier (inline, or in an earlier directory).
	Shadowed bool
}

// List returns every VM of the catalog: the inline ones, then those of
// each directory in order, each sorted by name, validated.
func (c *Catalog) List() []Entry {
	var out []Entry
	seen := map[string]bool{}
	c.mu.Lock()
	var inline []*Definition
	for _, d := range c.inline {
		inline = append(inline, d)
	}
	c.mu.Unlock()
	sort.Slice(inline, func(i, j int) bool { return inline[i].Name < inline[j].Name })
	for _, d := range inline {
		seen[d.Name] = true
		out = append(out, Entry{Name: d.Name, Def: d, Err: d.Validate()})
	}
	for _, dir := range c.Dirs {
		ents, err := os.ReadDir(dir)
		if err != nil {
			continue
		}
		for _, e := range ents {
			if !e.IsDir() || ValidName(e.Name()) != nil {
				continue
			}
			if !hasDefinition(filepath.Join(dir, e.Name())) {
				continue
			}
			ent := Entry{Name: e.Name(), Dir: filepath.Join(dir, e.Name()), Shadowed: seen[e.Name()]}
			ent.Def, ent.Err = LoadDir(dir, e.Name())
			if ent.Err == nil {
				ent.Err = ent.Def.Validate()
			}
			seen[e.Name()] = true
			out = append(out, ent)
		}
	}
	return out
}

// hasDefinition reports whether vmDir holds a vm.toml or a vm.conf.
func hasDefinition(vmDir string) bool {
	for _, f := range []string{TableFile, ConfigFile} {
		if _, err := os.Stat(filepath.Join(vmDir, f)); err == nil {
			return true
		}
	}
	return false
}

// SetInline replaces the inline definitions with defs, as a reload of the
// configuration file does. A name given twice is an error and changes
// nothing.
func (c *Catalog) SetInline(defs []*Definition) error {
	m := map[string]*Definition{}
	for _, d := range defs {
		if _, dup := m[d.Name]; dup {
			return fmt.Errorf("VM %s is defined twice", d.Name)
		}
		m[d.Name] = d
	}
	c.mu.Lock()
	c.inline = m
	c.mu.Unlock()
	return nil
}
