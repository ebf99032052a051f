package tomldoc

import (
	"strings"
	"testing"
	"time"
)

func TestLines(t *testing.T) {
	d, err := Parse("f.toml", []byte(`# comment
a = 1
list = [
  "x",   # first
  # between
  "y",
]

[t.u]
k = "v"
nested.key = true
inline = [{ a = 1 },
  { b = 2 }]
`))
	if err != nil {
		t.Fatal(err)
	}
	for key, want := range map[string]int{"a": 2, "list": 3, "t.u.nested": 11, "t": 9, "t.u": 9, "t.u.k": 10, "t.u.nested.key": 11, "t.u.inline": 12, "nosuch": 0} {
		if got := d.Line(key); got != want {
			t.Errorf("Line(%q) = %d, want %d", key, got, want)
		}
	}
	for _, tt := range []struct {
		key  string
		i    int
		want int
	}{{"list", 0, 4}, {"list", 1, 6}, {"list", 2, 3}, {"t.u.inline", 1, 13}, {"a", 0, 2}} {
		if got := d.ElemLine(tt.key, tt.i); got != tt.want {
			t.Errorf("ElemLine(%q, %d) = %d, want %d", tt.key, tt.i, got, tt.want)
		}
	}
	if got := d.At("t.u.k"); got != "f.toml:10: t.u.k" {
		t.Errorf("At = %q", got)
	}
	if d.Data["a"] != int64(1) {
		t.Errorf("a = %#v", d.Data["a"])
	}
}

func TestSyntaxErrorLine(t *testing.T) {
	for text, want := range map[string]string{
		"a = 1\nb = \n":      "f.toml:2:",
		"a = 1\na = 2\n":     "f.toml:2:",
		"x = [\"a\",\n":      "f.toml:1:",
		"\n\n[t\n":           "f.toml:3:",
		"s = \"unterminated": "f.toml:1:",
	} {
		if _, err := Parse("f.toml", []byte(text)); err == nil || !strings.HasPrefix(err.Error(), want) {
			t.Errorf("%q: %v, want %s...", text, err, want)
		}
	}
	if d, err := Parse("f.toml", nil); err != nil || d.Data == nil {
		t.Errorf("empty document: %v, %v", d, err)
	}
}

func TestTypeOf(t *testing.T) {
	for _, tt := range []struct {
		v    any
		want string
	}{
		{"x", "a string"}, {int64(1), "an integer"}, {1.5, "a float"}, {true, "a boolean"},
		{[]any{}, "a list"}, {map[string]any{}, "a table"}, {nil, "nothing"}, {time.Time{}, "a time.Time"},
	} {
		if got := TypeOf(tt.v); got != tt.want {
			t.Errorf("TypeOf(%#v) = %q, want %q", tt.v, got, tt.want)
		}
	}
}

// FuzzParse checks that no document makes Parse panic, and that every
// key of a decoded document has a line.
func FuzzParse(f *testing.F) {
	for _, s := range []string{"a = 1\n", "port = [\n \"x\",\n]\n[vm.r]\nkernel = \"k\"\nnic = [{}, { mac = \"m\" }]\n", "a.b.c = 1\n[[t]]\nx = 2\n", "x = [\n"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		d, err := Parse("f.toml", data)
		if err != nil {
			return
		}
		for k := range d.Data {
			if d.Line(k) < 1 {
				t.Fatalf("key %q of %q has no line", k, data)
			}
		}
	})
}
