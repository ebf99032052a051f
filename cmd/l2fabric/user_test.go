package main

import (
	"errors"
	"testing"

	"github.com/l2fabric/l2fabric/fabric"
	"github.com/l2fabric/l2fabric/internal/privdrop"
)

// TestRootGuard: before the drop the kinds check as before; after it the
// kinds that need root are refused with the reason, the others not.
func TestRootGuard(t *testing.T) {
	var g rootGuard
	ks := g.kinds(platformKinds(nil))
	if _, _, _, err := ks.Parse("host:eth0"); err != nil {
		t.Fatalf("before the drop: %v", err)
	}
	if _, _, _, err := ks.Parse("host:"); err == nil {
		t.Error("before the drop, the kind's own check is gone")
	}
	g.dropped.Store(&privdrop.Credential{User: "nobody"})
	for _, spec := range []string{"host:eth0", "feth:bridge1"} {
		_, _, _, err := ks.Parse(spec)
		var nr *privdrop.NeedRootError
		if !errors.As(err, &nr) {
			t.Errorf("%s after the drop: %v, want a NeedRootError", spec, err)
		}
	}
	if _, _, _, err := ks.Parse("dgram:/tmp/x.sock"); err != nil {
		t.Errorf("dgram after the drop: %v", err)
	}
	if _, ok := fabric.Kinds(ks).Lookup("dgram"); !ok {
		t.Error("dgram is gone")
	}
}
