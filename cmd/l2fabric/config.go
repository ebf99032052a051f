package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"github.com/pelletier/go-toml/v2"
	"github.com/pelletier/go-toml/v2/unstable"
	"github.com/spf13/pflag"

	"github.com/l2fabric/l2fabric/backends/vm"

	"github.com/l2fabric/l2fabric/internal/tomltype"
)

// configFile is a configuration file read and checked against the
// daemon's flags: each key is a flag of the same name.
type configFile struct {
	path     string
	settings []setting        // in the order of the file
	vms      []*vm.Definition // the [vm.NAME] tables
	vmLines  map[string]int   // the line of each VM's table
}

// readConfigFile reads the TOML file at path. Its keys are the flags of fs
// (see configKeys) and vm; a value has the type of its flag: a string, a
// duration as a string ("5m"), an integer, a boolean, or for repeatable
// flags a list of strings. Every error names the file, the line and the
// key, and for an unknown key lists the known ones.
func readConfigFile(path string, fs *pflag.FlagSet) (*configFile, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("--config: %w", err)
	}
	return parseConfig(path, data, fs)
}

func parseConfig(path string, data []byte, fs *pflag.FlagSet) (*configFile, error) {
	var doc map[string]any
	if err := toml.Unmarshal(data, &doc); err != nil {
		var de *toml.DecodeError
		if errors.As(err, &de) {
			line, _ := de.Position()
			return nil, fmt.Errorf("%s:%d: %s", path, line, strings.TrimPrefix(de.Error(), "toml: "))
		}
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	lines := keyLines(data)
	cf := &configFile{path: path, vmLines: map[string]int{}}
	at := func(key string) string { return fmt.Sprintf("%s:%d: %s", path, lines[key], key) }
	keys := make([]string, 0, len(doc))
	for k := range doc {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool { return lines[keys[i]] < lines[keys[j]] })
	for _, k := range keys {
		v := doc[k]
		if k == "vm" {
			if err := cf.readVMs(v, lines, filepath.Dir(path)); err != nil {
				return nil, err
			}
			continue
		}
		f := fs.Lookup(k)
		if f == nil || notConfigKeys[k] {
			return nil, fmt.Errorf("%s: unknown key (keys: %s)", at(k), strings.Join(configKeys(fs), ", "))
		}
		s := setting{name: k}
		if _, list := f.Value.(pflag.SliceValue); list {
			elems, ok := v.([]any)
			if !ok {
				elems = []any{v}
			}
			for i, e := range elems {
				str, ok := e.(string)
				if !ok {
					return nil, fmt.Errorf("%s:%d: %s: want a list of strings in quotes, e.g. %s = [\"...\"], and element %d is %s", path, elemLine(lines, k, i), k, k, i, tomltype.Of(e))
				}
				s.values = append(s.values, str)
				s.origins = append(s.origins, fmt.Sprintf("%s:%d: %s", path, elemLine(lines, k, i), k))
			}
		} else {
			str, err := flagText(f, v)
			if err != nil {
				return nil, fmt.Errorf("%s: %v", at(k), err)
			}
			s.values, s.origins = []string{str}, []string{at(k)}
		}
		cf.settings = append(cf.settings, s)
	}
	return cf, nil
}

// elemLine is the line of element i of the list at key, or the key's.
func elemLine(lines map[string]int, key string, i int) int {
	if l, ok := lines[key+"["+strconv.Itoa(i)+"]"]; ok {
		return l
	}
	return lines[key]
}

// flagText converts a TOML value to the text its flag parses.
func flagText(f *pflag.Flag, v any) (string, error) {
	switch f.Value.Type() {
	case "bool":
		if b, ok := v.(bool); ok {
			return strconv.FormatBool(b), nil
		}
		return "", fmt.Errorf("want true or false, not %s", tomltype.Of(v))
	case "int":
		if n, ok := v.(int64); ok {
			return strconv.FormatInt(n, 10), nil
		}
		return "", fmt.Errorf("want a whole number, not %s", tomltype.Of(v))
	case "duration":
		if s, ok := v.(string); ok {
			return s, nil
		}
		if n, ok := v.(int64); ok && n == 0 {
			return "0s", nil
		}
		return "", fmt.Errorf("want a duration in quotes, e.g. %s = \"5m\", not %s", f.Name, tomltype.Of(v))
	default:
		if s, ok := v.(string); ok {
			return s, nil
		}
		return "", fmt.Errorf("want a string in quotes, not %s", tomltype.Of(v))
	}
}

// readVMs reads the [vm.NAME] tables.
func (cf *configFile) readVMs(v any, lines map[string]int, base string) error {
	tables, ok := v.(map[string]any)
	if !ok {
		return fmt.Errorf("%s:%d: vm: want tables [vm.NAME], not %s", cf.path, lines["vm"], tomltype.Of(v))
	}
	names := make([]string, 0, len(tables))
	for n := range tables {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, name := range names {
		key := "vm." + name
		t, ok := tables[name].(map[string]any)
		if !ok {
			return fmt.Errorf("%s:%d: %s: want a table [%s], not %s", cf.path, lines[key], key, key, tomltype.Of(tables[name]))
		}
		d, err := vm.ParseTable(name, t, base, fmt.Sprintf("%s [%s]", cf.path, key))
		if err != nil {
			var ke *vm.KeyError
			if errors.As(err, &ke) {
				k := key + "." + ke.Key
				line := lines[k]
				if ke.Index >= 0 {
					line = elemLine(lines, k, ke.Index)
				}
				if line == 0 {
					line = lines[key]
				}
				return fmt.Errorf("%s:%d: %s.%v", cf.path, line, key, ke)
			}
			return fmt.Errorf("%s:%d: %s: %v", cf.path, lines[key], key, err)
		}
		cf.vms = append(cf.vms, d)
		cf.vmLines[name] = lines[key]
	}
	return nil
}

// keyLines maps every key of a TOML document, as a dotted path ("port",
// "vm.router.memory"), and every element of a list ("port[2]") to its
// line. go-toml's decoder gives positions only for its own errors, so the
// document is walked again with its parser for the errors found after
// decoding.
func keyLines(data []byte) map[string]int {
	lines := map[string]int{}
	var p unstable.Parser
	p.Reset(data)
	var table []string
	line := func(n *unstable.Node) int { return p.Shape(n.Raw).Start.Line }
	keyOf := func(it unstable.Iterator) ([]string, int) {
		var parts []string
		first := 0
		for it.Next() {
			if first == 0 {
				first = line(it.Node())
			}
			parts = append(parts, string(it.Node().Data))
		}
		return parts, first
	}
	for p.NextExpression() {
		e := p.Expression()
		switch e.Kind {
		case unstable.Table, unstable.ArrayTable:
			parts, l := keyOf(e.Key())
			table = parts
			for i := range parts {
				k := strings.Join(parts[:i+1], ".")
				if _, seen := lines[k]; !seen {
					lines[k] = l
				}
			}
		case unstable.KeyValue:
			parts, l := keyOf(e.Key())
			k := strings.Join(append(append([]string{}, table...), parts...), ".")
			lines[k] = l
			if v := e.Value(); v.Kind == unstable.Array {
				it := v.Children()
				for i := 0; it.Next(); {
					if it.Node().Kind == unstable.Comment {
						continue
					}
					lines[k+"["+strconv.Itoa(i)+"]"] = line(it.Node())
					i++
				}
			}
		}
	}
	return lines
}
