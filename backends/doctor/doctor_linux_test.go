package doctor

import (
	"slices"
	"testing"
)

// TestChecksForLinuxKinds: what each kind relies on, each check once.
func TestChecksForLinuxKinds(t *testing.T) {
	var names []string
	for _, c := range Plan([]Target{{"host", "eth0"}, {"tap", "t0"}, {"feth", "br0"}, {"dgram", "/tmp/x.sock"}, {"dgram", "/tmp/y.sock"}, {"stream", "/tmp/z.sock"}}, ChecksFor) {
		names = append(names, c.Name)
	}
	want := []string{"cap-net-raw", "packet-socket:eth0", "cap-net-admin", "tun", "bridge:br0", "unix-max-dgram-qlen"}
	if !slices.Equal(names, want) {
		t.Errorf("checks %v, want %v", names, want)
	}
	if got := Defaults()["host"]; got != "lo" {
		t.Errorf("host default %q", got)
	}
}
