package main

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"github.com/spf13/pflag"

	"github.com/l2fabric/l2fabric/backends/vm"
	"github.com/l2fabric/l2fabric/internal/tomldoc"
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
	doc, err := tomldoc.Parse(path, data)
	if err != nil {
		return nil, err
	}
	cf := &configFile{path: path, vmLines: map[string]int{}}
	keys := make([]string, 0, len(doc.Data))
	for k := range doc.Data {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool { return doc.Line(keys[i]) < doc.Line(keys[j]) })
	for _, k := range keys {
		v := doc.Data[k]
		if k == "vm" {
			if err := cf.readVMs(doc, v); err != nil {
				return nil, err
			}
			continue
		}
		f := fs.Lookup(k)
		if f == nil || notConfigKeys[k] || k == "vm" {
			return nil, fmt.Errorf("%s: unknown key (keys: %s)", doc.At(k), strings.Join(configKeys(fs), ", "))
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
					return nil, fmt.Errorf("%s:%d: %s: want a list of strings in quotes, e.g. %s = [\"...\"], and element %d is %s", path, doc.ElemLine(k, i), k, k, i, tomldoc.TypeOf(e))
				}
				s.values = append(s.values, str)
				s.origins = append(s.origins, fmt.Sprintf("%s:%d: %s", path, doc.ElemLine(k, i), k))
			}
		} else {
			str, err := flagText(f, v)
			if err != nil {
				return nil, fmt.Errorf("%s: %v", doc.At(k), err)
			}
			s.values, s.origins = []string{str}, []string{doc.At(k)}
		}
		cf.settings = append(cf.settings, s)
	}
	return cf, nil
}

// flagText converts a TOML value to the text its flag parses.
func flagText(f *pflag.Flag, v any) (string, error) {
	switch f.Value.Type() {
	case "bool":
		if b, ok := v.(bool); ok {
			return strconv.FormatBool(b), nil
		}
		return "", fmt.Errorf("want true or false, not %s", tomldoc.TypeOf(v))
	case "int":
		if n, ok := v.(int64); ok {
			return strconv.FormatInt(n, 10), nil
		}
		return "", fmt.Errorf("want a whole number, not %s", tomldoc.TypeOf(v))
	case "duration":
		if s, ok := v.(string); ok {
			return s, nil
		}
		if n, ok := v.(int64); ok && n == 0 {
			return "0s", nil
		}
		return "", fmt.Errorf("want a duration in quotes, e.g. %s = \"5m\", not %s", f.Name, tomldoc.TypeOf(v))
	default:
		if s, ok := v.(string); ok {
			return s, nil
		}
		return "", fmt.Errorf("want a string in quotes, not %s", tomldoc.TypeOf(v))
	}
}

// readVMs reads the [vm.NAME] tables; relative paths in them resolve
// against the file's directory.
func (cf *configFile) readVMs(doc *tomldoc.Doc, v any) error {
	tables, ok := v.(map[string]any)
	if !ok {
		return fmt.Errorf("%s: want tables [vm.NAME], not %s", doc.At("vm"), tomldoc.TypeOf(v))
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
			return fmt.Errorf("%s: want a table [%s], not %s", doc.At(key), key, tomldoc.TypeOf(tables[name]))
		}
		d, err := vm.ParseTable(name, t, filepath.Dir(cf.path), fmt.Sprintf("%s [%s]", cf.path, key))
		if err != nil {
			return vm.TableError(doc, key, err)
		}
		cf.vms = append(cf.vms, d)
		cf.vmLines[name] = doc.Line(key)
	}
	return nil
}
