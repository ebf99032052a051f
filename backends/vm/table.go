package vm

import (
	"errors"
	"fmt"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"github.com/l2fabric/l2fabric/internal/tomldoc"
)

// TableKeys are the keys of a VM table in l2fabric's TOML configuration
// file ([vm.NAME]), the same as vm.conf's. kernel, initrd, cmdline,
// memory, console and restart are strings; cpus, mtu and nics integers;
// disk is a list whose elements are a path (read-write) or a table
// {path = "...", read-only = true}, in device order; disk-ro and mac are
// lists of strings; nic is a list of tables {mac = "...", mtu = N}.
var TableKeys = []string{"kernel", "initrd", "cmdline", "cpus", "memory", "disk", "disk-ro", "console", "restart", "nic", "mac", "mtu", "nics"}

// KeyError is an error in one key of a VM table; Index is the element of
// a list the error is about, -1 for the key as a whole.
type KeyError struct {
	Key   string
	Index int
	Err   error
}

// Error says "key: why" or "key[i]: why".
func (e *KeyError) Error() string {
	if e.Index >= 0 {
		return fmt.Sprintf("%s[%d]: %v", e.Key, e.Index, e.Err)
	}
	return fmt.Sprintf("%s: %v", e.Key, e.Err)
}

// Unwrap returns why.
func (e *KeyError) Unwrap() error { return e.Err }

// TableError places an error of ParseTable for the table at key of doc
// ("vm.router" in a configuration file, "" for a file that is one VM's
// table): "FILE:LINE: vm.router.memory: ...", the line of the key or list
// element at fault, else of the table.
func TableError(doc *tomldoc.Doc, key string, err error) error {
	prefix := key
	if prefix != "" {
		prefix += "."
	}
	var ke *KeyError
	if !errors.As(err, &ke) {
		if key == "" {
			return fmt.Errorf("%s: %v", doc.Path, err)
		}
		return fmt.Errorf("%s: %v", doc.At(key), err)
	}
	k := prefix + ke.Key
	line := doc.Line(k)
	if ke.Index >= 0 {
		line = doc.ElemLine(k, ke.Index)
	}
	if line == 0 {
		line = doc.Line(key)
	}
	if line == 0 {
		line = 1
	}
	return fmt.Errorf("%s:%d: %s%v", doc.Path, line, prefix, ke)
}

// ParseTableFile parses NAME/vm.toml of the VM name whose directory is dir
// (relative paths resolve against it): the keys of a VM table (see
// TableKeys) at the top level. Errors name the file, the line and the key.
func ParseTableFile(data []byte, name, dir string) (*Definition, error) {
	source := filepath.Join(dir, TableFile)
	doc, err := tomldoc.Parse(source, data)
	if err != nil {
		return nil, err
	}
	d, err := parseTable(name, doc.Data, dir, dir, source)
	if err != nil {
		return nil, TableError(doc, "", err)
	}
	d.Dir = dir
	return d, nil
}

// ParseTable builds the definition of VM name from a TOML table, decoded
// as map[string]any (strings, int64s, []any and map[string]any, as TOML
// decoders give them). Relative paths resolve against base; source says
// where the table is, for Validate's errors. Errors about a key are
// *KeyError.
func ParseTable(name string, table map[string]any, base, source string) (*Definition, error) {
	return parseTable(name, table, base, filepath.Join(DefaultDirs()[0], name), source)
}

// parseTable is ParseTable with the directory of the default console log.
func parseTable(name string, table map[string]any, base, consoleDir, source string) (*Definition, error) {
	if err := ValidName(name); err != nil {
		return nil, err
	}
	b := newBuilder(name, base, source)
	keys := make([]string, 0, len(table))
	for k := range table {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	if _, ok := table["nic"]; ok {
		if _, ok := table["mac"]; ok {
			return nil, &KeyError{Key: "mac", Index: -1, Err: fmt.Errorf("give the NICs either as nic = [{mac = ..., mtu = ...}] or as mac = [...], not both")}
		}
	}
	if _, ok := table["kernel"]; !ok {
		return nil, &KeyError{Key: "kernel", Index: -1, Err: fmt.Errorf(`missing: a VM needs kernel = "PATH", the Linux kernel it boots`)}
	}
	for _, k := range keys {
		if err := setTableKey(b, k, table[k]); err != nil {
			return nil, err
		}
	}
	d, err := b.definition(consoleDir)
	if err != nil {
		// What is left to check there is the NICs: how many, their MACs.
		key := "nics"
		for _, k := range []string{"nic", "mac"} {
			if _, ok := table[k]; ok {
				key = k
			}
		}
		return nil, &KeyError{Key: key, Index: -1, Err: err}
	}
	return d, nil
}

func setTableKey(b *builder, key string, v any) error {
	fail := func(i int, format string, args ...any) error {
		return &KeyError{Key: key, Index: i, Err: fmt.Errorf(format, args...)}
	}
	set := func(i int, k, s string) error {
		if err := b.set(k, s); err != nil {
			return &KeyError{Key: key, Index: i, Err: err}
		}
		return nil
	}
	switch key {
	case "kernel", "initrd", "cmdline", "memory", "console", "restart":
		s, ok := v.(string)
		if !ok {
			return fail(-1, "want a string in quotes, not %s", tomldoc.TypeOf(v))
		}
		return set(-1, key, s)
	case "cpus", "mtu", "nics":
		n, ok := v.(int64)
		if !ok {
			return fail(-1, "want a whole number, not %s", tomldoc.TypeOf(v))
		}
		return set(-1, key, strconv.FormatInt(n, 10))
	case "disk", "disk-ro", "mac", "nic":
		list, ok := v.([]any)
		if !ok {
			return fail(-1, "want a list [...], not %s", tomldoc.TypeOf(v))
		}
		for i, e := range list {
			var err error
			switch key {
			case "disk":
				err = setDisk(b, i, e, fail)
			case "nic":
				err = setNIC(b, i, e, fail)
			default:
				s, ok := e.(string)
				if !ok {
					return fail(i, "want a string in quotes, not %s", tomldoc.TypeOf(e))
				}
				err = set(i, key, s)
			}
			if err != nil {
				return err
			}
		}
		return nil
	}
	return &KeyError{Key: key, Index: -1, Err: fmt.Errorf("unknown key (keys: %s)", strings.Join(TableKeys, ", "))}
}

func setDisk(b *builder, i int, e any, fail func(int, string, ...any) error) error {
	switch e := e.(type) {
	case string:
		if err := b.set("disk", e); err != nil {
			return fail(i, "%v", err)
		}
		return nil
	case map[string]any:
		path, ok := e["path"].(string)
		if !ok {
			return fail(i, `want {path = "IMAGE"} or {path = "IMAGE", read-only = true}`)
		}
		ro := false
		for k, v := range e {
			switch k {
			case "path":
			case "read-only":
				if ro, ok = v.(bool); !ok {
					return fail(i, "read-only: want true or false, not %s", tomldoc.TypeOf(v))
				}
			default:
				return fail(i, "unknown key %q (keys: path, read-only)", k)
			}
		}
		k := "disk"
		if ro {
			k = "disk-ro"
		}
		if err := b.set(k, path); err != nil {
			return fail(i, "%v", err)
		}
		return nil
	}
	return fail(i, `want a path in quotes or {path = "IMAGE", read-only = true}, not %s`, tomldoc.TypeOf(e))
}

func setNIC(b *builder, i int, e any, fail func(int, string, ...any) error) error {
	t, ok := e.(map[string]any)
	if !ok {
		return fail(i, `want a table {mac = "MAC", mtu = N}, not %s`, tomldoc.TypeOf(e))
	}
	var parts []string
	for _, k := range []string{"mac", "mtu"} {
		switch v := t[k].(type) {
		case nil:
		case string:
			parts = append(parts, k+"="+v)
		case int64:
			parts = append(parts, k+"="+strconv.FormatInt(v, 10))
		default:
			return fail(i, "%s: not %s", k, tomldoc.TypeOf(v))
		}
	}
	for k := range t {
		if k != "mac" && k != "mtu" {
			return fail(i, "unknown key %q (keys: mac, mtu)", k)
		}
	}
	if err := b.set("nic", strings.Join(parts, ",")); err != nil {
		return fail(i, "%v", err)
	}
	return nil
}

// FormatTable returns the definition as a TOML table [vm.NAME] for
// l2fabric's configuration file: every setting explicit, the derived MACs
// written out, paths absolute.
func (d *Definition) FormatTable() []byte {
	return d.formatTOML(fmt.Sprintf("[vm.%s]\n", d.Name), "")
}

// FormatFile returns the definition as NAME/vm.toml in dir: every setting
// explicit, the derived MACs written out so that they survive a rename,
// paths inside dir relative to it.
func (d *Definition) FormatFile(dir string) []byte {
	return d.formatTOML(fmt.Sprintf("# l2fabric VM %s: attach it with --port vm:%s\n", d.Name, d.Name), dir)
}

// formatTOML writes the keys of d after header, paths inside dir (if not
// empty) relative to it.
func (d *Definition) formatTOML(header, dir string) []byte {
	var b strings.Builder
	q := func(s string) string { return tomlString(s) }
	rel := func(p string) string {
		if dir != "" {
			if r, err := filepath.Rel(dir, p); err == nil && r != ".." && !strings.HasPrefix(r, "../") {
				return r
			}
		}
		return p
	}
	b.WriteString(header)
	fmt.Fprintf(&b, "kernel = %s\n", q(rel(d.Kernel)))
	if d.Initrd != "" {
		fmt.Fprintf(&b, "initrd = %s\n", q(rel(d.Initrd)))
	}
	fmt.Fprintf(&b, "cmdline = %s\n", q(d.Cmdline))
	fmt.Fprintf(&b, "cpus = %d\n", d.CPUs)
	fmt.Fprintf(&b, "memory = %s\n", q(FormatSize(d.Memory)))
	if len(d.Disks) > 0 {
		var disks []string
		for _, disk := range d.Disks {
			if disk.ReadOnly {
				disks = append(disks, fmt.Sprintf("{ path = %s, read-only = true }", q(rel(disk.Path))))
			} else {
				disks = append(disks, q(rel(disk.Path)))
			}
		}
		fmt.Fprintf(&b, "disk = [%s]\n", strings.Join(disks, ", "))
	}
	console := NoConsole
	if d.Console != "" {
		console = rel(d.Console)
	}
	fmt.Fprintf(&b, "console = %s\n", q(console))
	fmt.Fprintf(&b, "restart = %s\n", q(string(d.Restart)))
	var nics []string
	for _, n := range d.NICs {
		nics = append(nics, fmt.Sprintf("{ mac = %s, mtu = %d }", q(n.MAC.String()), n.MTU))
	}
	fmt.Fprintf(&b, "nic = [%s]\n", strings.Join(nics, ", "))
	return []byte(b.String())
}

// tomlString quotes s as a TOML basic string.
func tomlString(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for _, r := range s {
		switch {
		case r == '"' || r == '\\':
			b.WriteByte('\\')
			b.WriteRune(r)
		case r < 0x20 || r == 0x7f:
			fmt.Fprintf(&b, "\\u%04x", r)
		default:
			b.WriteRune(r)
		}
	}
	b.WriteByte('"')
	return b.String()
}
