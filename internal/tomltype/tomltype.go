// Package tomltype names the type of a value decoded from TOML, for
// errors that say what was written and what is wanted: "want a whole
// number, not a string".
package tomltype

import "fmt"

// Of names the TOML type of v as TOML decoders give it (string, int64,
// float64, bool, []any, map[string]any, times), with its article.
func Of(v any) string {
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
