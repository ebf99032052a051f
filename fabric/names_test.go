package fabric_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/l2fabric/l2fabric/fabric"
	"github.com/l2fabric/l2fabric/fabric/fabrictest"
	"github.com/l2fabric/l2fabric/frames"
)

// socketDevice is a device bound to a socket file.
type socketDevice struct {
	testDevice
	path string
}

func (d *socketDevice) SocketFile() string { return d.path }

// TestOpenNamesItsOwnSocketHolder: a backend's SocketInUseError for a
// file one of the fabric's own devices is bound to names that device.
func TestOpenNamesItsOwnSocketHolder(t *testing.T) {
	path := filepath.Join(t.TempDir(), "s.sock")
	if err := os.WriteFile(path, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	opened := false
	kinds := fabric.Kinds{{Name: "sock", Open: func(_ context.Context, s fabric.Spec, _ fabric.PortConfig, _ fabric.Attacher) (fabric.Opened, error) {
		if opened {
			return fabric.Opened{}, &fabric.SocketInUseError{Path: s.Arg}
		}
		opened = true
		return fabric.Opened{Device: &socketDevice{testDevice: testDevice{name: "first"}, path: s.Arg}}, nil
	}}}
	f := newTestFabric(t, fabric.Config{Kinds: kinds}).f
	if _, err := f.Open("sock:" + path); err != nil {
		t.Fatal(err)
	}
	_, err := f.Open("sock:" + path)
	if err == nil || !strings.Contains(err.Error(), path+" is already the socket of this daemon's device first") {
		t.Errorf("second open of the same socket: %v", err)
	}
	if got := f.SocketHolder(filepath.Join(t.TempDir(), "other")); got != "" {
		t.Errorf("SocketHolder of a file nobody holds = %q", got)
	}
}

// TestPendingStatics: a static entry for a port not attached is shown
// and counted as pending until the port attaches; one on a device is
// refused with what to do instead.
func TestPendingStatics(t *testing.T) {
	k := &openedKinds{}
	f := newTestFabric(t, fabric.Config{Kinds: k.kinds()}).f
	if _, err := f.Open("dev:lab"); err != nil {
		t.Fatal(err)
	}
	mac := frames.MAC{0x52, 0x54, 0, 0, 0, 1}
	err := f.AddStatic(fabric.Static{MAC: mac, Port: "lab"}, false)
	if err == nil || !strings.Contains(err.Error(), "lab is a listening socket; its VMs are ports lab/<name>") {
		t.Errorf("static on a device: %v", err)
	}
	if err := f.AddStatic(fabric.Static{MAC: mac, Port: "later"}, true); err != nil {
		t.Fatal(err)
	}
	es := f.Entries()
	if len(es) != 1 || !es[0].Pending || es[0].Port != "later" || es[0].MAC != mac || !es[0].Static {
		t.Errorf("entries with a pending static: %+v", es)
	}
	if st := f.Stats(); st.PendingStatics != 1 || st.Devices != 1 || st.Ports != 0 {
		t.Errorf("stats: %d pending, %d devices, %d ports; want 1, 1, 0", st.PendingStatics, st.Devices, st.Ports)
	}
	if err := f.Attach(fabrictest.New(1), fabric.PortConfig{Name: "later"}); err != nil {
		t.Fatal(err)
	}
	es = f.Entries()
	if len(es) != 1 || es[0].Pending || es[0].Port != "later" {
		t.Errorf("entries once the port attached: %+v", es)
	}
	if st := f.Stats(); st.PendingStatics != 0 || st.Ports != 1 {
		t.Errorf("stats once attached: %d pending, %d ports", st.PendingStatics, st.Ports)
	}
}
