package fabric

import "strconv"

// Count says how many of a thing there are, for people: "1 client", "2
// clients", "0 clients". noun is the singular; the plural adds "s".
func Count(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return strconv.Itoa(n) + " " + noun + "s"
}
