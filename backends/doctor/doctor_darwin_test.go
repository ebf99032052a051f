package doctor

import (
	"slices"
	"testing"
)

// TestChecksForMacKinds: what each kind relies on, each check once; a
// kind given no argument skips the checks that need one.
func TestChecksForMacKinds(t *testing.T) {
	var names []string
	for _, c := range Plan([]Target{{"host", "en0"}, {"feth", "bridge1"}, {"dgram", "/tmp/x.sock"}, {"vm", "router"}, {"host", "en6"}, {"vm", ""}}, ChecksFor) {
		names = append(names, c.Name)
	}
	want := []string{"bpf:en0", "wifi:en0", "sysctl-bpf-maxbufsize", "feth-pair:bridge1", "sysctl-msgx", "msgx-roundtrip",
		"vz", "vz-entitlement", "vm-files:router", "bpf:en6", "wifi:en6", "vm-files"}
	if !slices.Equal(names, want) {
		t.Errorf("checks %v, want %v", names, want)
	}
}
