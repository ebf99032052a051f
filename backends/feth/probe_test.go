//go:build linux || darwin

package feth

import (
	"context"
	"errors"
	"slices"
	"strings"
	"syscall"
	"testing"

	"github.com/hashicorp/go-hclog"
)

// TestProbeSequence pins what doctor's feth check asks of the kernel:
// the bridge looked up, a pair created, peered, brought up, added to the
// bridge, its membership read with BRDGGIFFLGS, then both destroyed and
// seen gone; and the record of pairs is empty afterwards.
func TestProbeSequence(t *testing.T) {
	e := newMacEnv(t)
	e.k.addBridge("bridge1", 1500, "en1")
	e.k.calls = nil
	got, err := e.sys.probe(context.Background(), "bridge1", hclog.NewNullLogger())
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(got, "feth0 and feth1") || !strings.Contains(got, "member of bridge1") || !strings.Contains(got, "flags 0x3") {
		t.Errorf("probe says %q", got)
	}
	want := []string{
		"interfaces ", "mtu bridge1",
		"create feth", "create feth", "setPeer feth0",
		"mtu feth0", "setUp feth0", "mtu feth1", "setUp feth1",
		"addMember bridge1", "memberFlags bridge1",
		"destroy feth1", "destroy feth0", "interfaces ",
	}
	// The clean-up of an earlier run's pairs reads nothing here: the
	// record is empty.
	if !slices.Equal(e.k.calls, want) {
		t.Errorf("calls\n%q\nwant\n%q", e.k.calls, want)
	}
	if f := e.k.feths(); len(f) != 0 {
		t.Errorf("left behind: %v", f)
	}
	if st := e.k.state("bridge1"); st != "bridge up mtu=1500 members=en1" {
		t.Errorf("bridge1 after the probe: %s", st)
	}
	if recs, err := e.sys.store.list(); err != nil || len(recs) != 0 {
		t.Errorf("record after the probe: %v, %v", recs, err)
	}
}

// TestProbeFailures: whatever fails, nothing is left behind, and the
// error says what failed.
func TestProbeFailures(t *testing.T) {
	for _, tc := range []struct {
		name, op, on string
		err          error
		want         string
	}{
		{"no bridge", "", "", nil, "bridge bridge9 does not exist"},
		{"create refused", "create", "", syscall.EPERM, "feth needs root"},
		{"peer refused", "setPeer", "", syscall.EINVAL, "peering"},
		{"join refused", "addMember", "", syscall.EBUSY, "adding feth0 to bridge bridge1"},
		{"membership unreadable", "memberFlags", "", syscall.ENOENT, "BRDGGIFFLGS"},
		{"destroy refused", "destroy", "feth1", syscall.EBUSY, "destroying"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newMacEnv(t)
			e.k.addBridge("bridge1", 1500)
			bridge := "bridge1"
			if tc.op == "" {
				bridge = "bridge9"
			} else {
				e.k.fail(tc.op, tc.on, tc.err)
			}
			_, err := e.sys.probe(context.Background(), bridge, hclog.NewNullLogger())
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want %q", err, tc.want)
			}
			e.k.fail(tc.op, tc.on, nil)
			if tc.op == "destroy" {
				// The record keeps the pair for the next start.
				if recs, _ := e.sys.store.list(); len(recs) != 1 {
					t.Errorf("record: %v, want the pair kept", recs)
				}
				return
			}
			if f := e.k.feths(); len(f) != 0 {
				t.Errorf("left behind: %v", f)
			}
		})
	}
	e := newMacEnv(t)
	e.root.Store(false)
	if _, err := e.sys.probe(context.Background(), "bridge1", hclog.NewNullLogger()); !errors.Is(err, errNeedRoot) {
		t.Errorf("as a user: %v", err)
	}
	e.root.Store(true)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	e.k.addBridge("bridge1", 1500)
	if _, err := e.sys.probe(ctx, "bridge1", hclog.NewNullLogger()); !errors.Is(err, context.Canceled) || len(e.k.feths()) != 0 {
		t.Errorf("interrupted: %v, feths %v", err, e.k.feths())
	}
}
