package integration

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"testing"
)

// TestVanishingClientsAllAccountedFor: datagram clients that connect,
// send one broadcast and vanish (their socket closed and removed at once)
// have every frame flooded or counted as dropped, and their ports' counters
// stay in the fabric's totals once they are detached. (Before, of 3000
// such broadcasts some 650 appeared nowhere: a client detached with its
// frame still in its receive queue lost it.)
func TestVanishingClientsAllAccountedFor(t *testing.T) {
	t.Parallel()
	const n = 3000
	d, l, vms := startSwitch(t, 1)
	obs := vms[0]
	x := filepath.Join(l.dir, "x.sock")
	remote := &net.UnixAddr{Name: x, Net: "unixgram"}
	for i := range n {
		path := filepath.Join(l.dir, fmt.Sprintf("v%d.sock", i))
		c, err := net.DialUnix("unixgram", &net.UnixAddr{Name: path, Net: "unixgram"}, remote)
		if err != nil {
			t.Fatal(err)
		}
		src := mac{0x02, 0x10, 0, 0, byte(i >> 8), byte(i)}
		if _, err := c.Write([]byte("VFKT")); err != nil {
			t.Fatal(err)
		}
		if _, err := c.Write(testFrame(broadcast, src, uint64(i), 46)); err != nil {
			t.Fatal(err)
		}
		c.Close()
		removeFile(t, path)
	}
	var s stats
	eventually(t, "every client's frame read or dropped", func() error {
		s = d.stats()
		if got := s.Totals.RxFrames + s.Totals.RxBackend; got < n {
			return fmt.Errorf("%d of %d frames read or dropped by the listener", got, n)
		}
		return s.books()
	})
	t.Logf("of %d broadcasts from vanishing clients: %d flooded, %d dropped before being read; %d ports detached", n, s.Fabric.Flooded, s.Totals.RxBackend, s.Detached)
	if s.Fabric.Flooded+s.Totals.RxBackend != n {
		t.Errorf("flooded %d + dropped by the listener %d != %d sent", s.Fabric.Flooded, s.Totals.RxBackend, n)
	}
	// The observer receives every flooded frame: count them.
	got := 0
	for got < int(s.Fabric.Flooded) {
		f := obs.next(fmt.Sprintf("broadcast %d of %d", got+1, s.Fabric.Flooded))
		if f.valid() && f.etherType() == etherTest {
			got++
		}
	}
}

// removeFile removes path, failing the test if it cannot.
func removeFile(t testing.TB, path string) {
	t.Helper()
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
}
