package vm

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// InlineForm is the syntax of --vm, for help and errors.
const InlineForm = `NAME:kernel=PATH[,initrd=PATH][,cmdline="..."][,cpus=N][,memory=SIZE][,disk=PATH]...[,mac=MAC]...`

// ParseInline parses a definition given on the command line (--vm):
//
//	NAME:KEY=VALUE[,KEY=VALUE]...
//
// with the keys of vm.conf. Options are separated by ','; a value that
// contains ',' (a kernel command line, a nic= with both mac= and mtu=) is
// written in double quotes, inside which \" is a quote and \\ a
// backslash: cmdline="console=hvc0 root=/dev/vda rw",nic="mac=02:00:00:00:00:01,mtu=9000".
// A '"' anywhere else in a value is an error. Relative paths resolve
// against the current directory; the console log defaults to NAME/console.log
// in the first of DefaultDirs. The result is checked like a vm.conf (not
// the files: see Validate).
func ParseInline(text string) (*Definition, error) {
	cwd, err := os.Getwd()
	if err != nil {
		return nil, err
	}
	name, _, _ := strings.Cut(text, ":")
	return parseInline(text, cwd, filepath.Join(DefaultDirs()[0], name))
}

func parseInline(text, cwd, consoleDir string) (*Definition, error) {
	name, rest, ok := strings.Cut(text, ":")
	if !ok {
		return nil, fmt.Errorf("--vm %q: no ':' after the VM name (want %s)", text, InlineForm)
	}
	if err := ValidName(name); err != nil {
		return nil, fmt.Errorf("--vm %q: %v", text, err)
	}
	source := "--vm " + name
	pairs, err := splitInline(rest)
	if err != nil {
		return nil, fmt.Errorf("--vm %s: %v", name, err)
	}
	b := newBuilder(name, cwd, source)
	for _, p := range pairs {
		if err := b.set(p[0], p[1]); err != nil {
			return nil, fmt.Errorf("--vm %s: %v", name, err)
		}
	}
	d, err := b.definition(consoleDir)
	if err != nil {
		return nil, fmt.Errorf("--vm %s: %v", name, err)
	}
	return d, nil
}

// splitInline splits KEY=VALUE[,KEY=VALUE]... into pairs, unquoting
// double-quoted values.
func splitInline(s string) ([][2]string, error) {
	var out [][2]string
	if s == "" {
		return nil, errors.New("no options (kernel= is required)")
	}
	for {
		eq := strings.IndexAny(s, "=,")
		if eq < 0 || s[eq] == ',' {
			elem := s
			if eq >= 0 {
				elem = s[:eq]
			}
			if elem == "" {
				return nil, errors.New("empty option (an extra ',')")
			}
			return nil, fmt.Errorf("%q is not KEY=VALUE", elem)
		}
		key := s[:eq]
		if !isKey(key) {
			return nil, fmt.Errorf("option key %q must be lower-case letters, digits and '-'", key)
		}
		s = s[eq+1:]
		var value string
		if strings.HasPrefix(s, `"`) {
			v, rest, err := unquote(s)
			if err != nil {
				return nil, fmt.Errorf("%s: %v", key, err)
			}
			if rest != "" && rest[0] != ',' {
				return nil, fmt.Errorf("%s: text %q after the closing quote (a ',' must follow it)", key, rest)
			}
			value, s = v, rest
		} else {
			end := strings.IndexByte(s, ',')
			if end < 0 {
				end = len(s)
			}
			value, s = s[:end], s[end:]
			if strings.Contains(value, `"`) {
				return nil, fmt.Errorf(`%s: a '"' inside a value: quote the whole value, writing '"' inside it as \"`, key)
			}
		}
		out = append(out, [2]string{key, value})
		if s == "" {
			return out, nil
		}
		s = s[1:] // the ','
		if s == "" {
			return nil, errors.New("empty option after the last ','")
		}
	}
}

// joinInline is the inverse of splitInline, quoting every value that
// needs it.
func joinInline(pairs [][2]string) string {
	var b strings.Builder
	for i, p := range pairs {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(p[0])
		b.WriteByte('=')
		if strings.ContainsAny(p[1], `,"\`) {
			b.WriteString(quote(p[1]))
		} else {
			b.WriteString(p[1])
		}
	}
	return b.String()
}

func isKey(s string) bool {
	if s == "" || s[0] < 'a' || s[0] > 'z' {
		return false
	}
	for i := 1; i < len(s); i++ {
		c := s[i]
		if (c < 'a' || c > 'z') && (c < '0' || c > '9') && c != '-' {
			return false
		}
	}
	return true
}
