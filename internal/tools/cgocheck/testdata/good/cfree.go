//go:build darwin

package good

/*
#include <stdlib.h>
*/
import "C"

import "unsafe"

// Free releases memory from C.malloc: the C side is not checked, but a
// cgo file must type-check without errors about C.
func Free(p unsafe.Pointer) { C.free(p) }

// CString copies s to C memory.
func CString(s string) *C.char { return C.CString(s) }
