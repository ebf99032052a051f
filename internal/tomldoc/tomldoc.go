// Package tomldoc decodes a TOML document and remembers the line of every
// key, so that errors found after decoding (a value out of range, an
// unknown key) can name the line and the key as syntax errors do.
//
// go-toml's decoder reports positions only for its own errors; the lines
// come from walking the document again with go-toml's parser.
package tomldoc

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/pelletier/go-toml/v2"
	"github.com/pelletier/go-toml/v2/unstable"
)

// Doc is a decoded document.
type Doc struct {
	// Path names the document in errors.
	Path string
	// Data is the document: strings, int64s, float64s, bools, times,
	// []any and map[string]any.
	Data  map[string]any
	lines map[string]int
}

// Parse decodes data. A syntax error is returned as "PATH:LINE: message".
func Parse(path string, data []byte) (*Doc, error) {
	var m map[string]any
	if err := toml.Unmarshal(data, &m); err != nil {
		var de *toml.DecodeError
		if errors.As(err, &de) {
			line, _ := de.Position()
			return nil, fmt.Errorf("%s:%d: %s", path, line, strings.TrimPrefix(de.Error(), "toml: "))
		}
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if m == nil {
		m = map[string]any{}
	}
	return &Doc{Path: path, Data: m, lines: keyLines(data)}, nil
}

// Line returns the line of key, a dotted path ("vm.router.memory"): where
// it is assigned, or its table's header. 0 when the key is not in the
// document.
func (d *Doc) Line(key string) int { return d.lines[key] }

// ElemLine returns the line of element i of the list at key, or the
// key's line.
func (d *Doc) ElemLine(key string, i int) int {
	if l, ok := d.lines[key+"["+strconv.Itoa(i)+"]"]; ok {
		return l
	}
	return d.lines[key]
}

// At returns "PATH:LINE: KEY", the start of an error about key.
func (d *Doc) At(key string) string { return fmt.Sprintf("%s:%d: %s", d.Path, d.Line(key), key) }

// keyLines maps every key of a document, as a dotted path, and every
// element of a list ("port[2]") to its line.
func keyLines(data []byte) map[string]int {
	lines := map[string]int{}
	var p unstable.Parser
	p.Reset(data)
	line := func(n *unstable.Node) int { return p.Shape(n.Raw).Start.Line }
	keyOf := func(it unstable.Iterator) (parts []string, first int) {
		for it.Next() {
			if first == 0 {
				first = line(it.Node())
			}
			parts = append(parts, string(it.Node().Data))
		}
		return parts, first
	}
	var table []string
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
			full := append(append([]string{}, table...), parts...)
			for i := len(table); i < len(full)-1; i++ { // a.b of a.b.c = 1
				if k := strings.Join(full[:i+1], "."); lines[k] == 0 {
					lines[k] = l
				}
			}
			k := strings.Join(full, ".")
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

// TypeOf names the TOML type of a decoded value, with its article, for
// errors that say what was written: "want a whole number, not a string".
func TypeOf(v any) string {
	switch v.(type) {
	case string:
		return "a string"
	case int64:
		return "an integer"
	case float64:
		return "a float"
	case bool:
		return "a boolean"
	case []any:
		return "a list"
	case map[string]any:
		return "a table"
	case nil:
		return "nothing"
	}
	return fmt.Sprintf("a %T", v)
}
