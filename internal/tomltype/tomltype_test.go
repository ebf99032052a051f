package tomltype

import (
	"testing"
	"time"
)

func TestOf(t *testing.T) {
	for _, tt := range []struct {
		v    any
		want string
	}{
		{"x", "a string"}, {int64(1), "an integer"}, {1.5, "a float"}, {true, "a boolean"},
		{[]any{}, "a list"}, {map[string]any{}, "a table"}, {nil, "nothing"}, {time.Time{}, "a time.Time"},
	} {
		if got := Of(tt.v); got != tt.want {
			t.Errorf("Of(%#v) = %q, want %q", tt.v, got, tt.want)
		}
	}
}
