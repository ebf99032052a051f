//go:build linux || darwin

package dgram

import (
	"testing"
	"unsafe"
)

func TestAddrPathBytes(t *testing.T) {
	off := uint32(unsafe.Offsetof(addr{}.raw.Path))
	mk := func(path []byte, n uint32) addr {
		var a addr
		for i, c := range path {
			a.raw.Path[i] = int8(c)
		}
		a.len = n
		return a
	}
	for _, tc := range []struct {
		name string
		a    addr
		want string
	}{
		{"pathname", mk([]byte("/tmp/a.sock"), off+12), "/tmp/a.sock"},
		{"pathname without NUL", mk([]byte("/tmp/a.sock"), off+11), "/tmp/a.sock"},
		{"unbound (Linux: family only)", mk(nil, off), ""},
		{"unbound (macOS: zeroed path)", mk(nil, 16), ""},
		{"abstract (Linux)", mk([]byte("\x00vm1"), off+4), "\x00vm1"},
	} {
		if got := string(tc.a.pathBytes()); got != tc.want {
			t.Errorf("%s: pathBytes = %q, want %q", tc.name, got, tc.want)
		}
	}
}
