//go:build linux || darwin

package sockbuf

import (
	"testing"

	"golang.org/x/sys/unix"
)

// TestSet checks that both buffers grow to at least what was asked (the
// kernel doubles the value on Linux and may cap it without privileges, so
// the test asks for a size under the default caps).
func TestSet(t *testing.T) {
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_DGRAM, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fds[0])
	defer unix.Close(fds[1])
	before, _ := unix.GetsockoptInt(fds[0], unix.SOL_SOCKET, unix.SO_RCVBUF)
	Set(fds[0], 150<<10, 180<<10)
	snd, _ := unix.GetsockoptInt(fds[0], unix.SOL_SOCKET, unix.SO_SNDBUF)
	rcv, _ := unix.GetsockoptInt(fds[0], unix.SOL_SOCKET, unix.SO_RCVBUF)
	if snd < 150<<10 || rcv < 180<<10 {
		t.Errorf("buffers %d and %d after asking for %d and %d (receive was %d)", snd, rcv, 150<<10, 180<<10, before)
	}
	Set(fds[1], 0, 0) // leaves them alone, does not fail
}
