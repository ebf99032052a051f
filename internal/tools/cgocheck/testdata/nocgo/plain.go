// Package nocgo has no file that needs darwin and cgo.
package nocgo

// Answer is a constant.
const Answer = 42
