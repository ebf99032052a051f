package linkwatch

import (
	"encoding/binary"
	"fmt"
	"testing"
)

func TestListing(t *testing.T) {
	ls := newListing()
	en0 := Link{Index: 4, Name: "en0", Up: true, Running: true}
	feth := Link{Index: 7, Name: "feth0", Up: true}
	for _, c := range []struct {
		what string
		now  []Link
		want string
	}{
		{"first listing", []Link{en0, feth}, "[+en0#4 +feth0#7]"},
		{"nothing changed", []Link{en0, feth}, "[]"},
		{"feth0 set down", []Link{en0, {Index: 7, Name: "feth0"}}, "[+feth0#7]"},
		{"feth0 destroyed", []Link{en0}, "[-feth0#7]"},
		{"feth0 back, index recycled", []Link{en0, feth}, "[+feth0#7]"},
		{"feth0 left its bridge (IFF_PROMISC cleared)", []Link{en0, {Index: 7, Name: "feth0", Up: true, Flags: 0x1}}, "[+feth0#7]"},
		{"index 7 taken by feth1 between listings", []Link{en0, {Index: 7, Name: "feth1"}}, "[-feth0#7 +feth1#7]"},
		{"everything gone", nil, "[-en0#4 -feth1#7]"},
	} {
		if got := describe(ls.update(c.now)); got != c.want {
			t.Errorf("%s: %s, want %s", c.what, got, c.want)
		}
	}
}

// TestListingLateMessage: the RTM_IFINFO of a departure read after the
// interface was re-created with the same index and flags: the message's
// flags still report it down, then the listing up.
func TestListingLateMessage(t *testing.T) {
	ls := newListing()
	feth := Link{Index: 7, Name: "feth0", Up: true, Running: true, Flags: 0x41}
	ls.update([]Link{feth})
	us := ls.message(7, 0) // if_down's message
	us = append(us, ls.update([]Link{feth})...)
	if len(us) != 2 || us[0].Link.Up || !us[1].Link.Up || us[0].Deleted || us[1].Deleted {
		t.Errorf("late message: %+v, want down then up", us)
	}
	if us := ls.message(9, 0); us != nil {
		t.Errorf("a message for an unknown index: %+v", us)
	}
	if us := ls.message(7, 0x41); us != nil {
		t.Errorf("a message with nothing new: %+v", us)
	}
}

func TestIfInfoHeader(t *testing.T) {
	// An RTM_IFINFO as xnu's rt_ifmsg sends it: an if_msghdr without
	// addresses (112 bytes on 64-bit darwin), index 7, IFF_UP|IFF_RUNNING.
	b := make([]byte, 112)
	binary.NativeEndian.PutUint16(b[0:], 112)
	b[2], b[3] = 5, rtmIfInfo
	binary.NativeEndian.PutUint32(b[8:], 0x41)
	binary.NativeEndian.PutUint16(b[12:], 7)
	if i, f, ok := ifInfoHeader(b); !ok || i != 7 || f != 0x41 {
		t.Errorf("ifInfoHeader = %d, %#x, %v", i, f, ok)
	}
	b[3] = rtmIfInfo2
	if _, _, ok := ifInfoHeader(b); !ok {
		t.Error("RTM_IFINFO2 not read")
	}
	for name, bad := range map[string][]byte{
		"short":          b[:13],
		"another type":   append([]byte{112, 0, 5, 0xc}, b[4:]...),
		"length too big": append([]byte{0xff, 0xff}, b[2:]...),
	} {
		if _, _, ok := ifInfoHeader(bad); ok {
			t.Errorf("%s: read", name)
		}
	}
}

func describe(us []Update) string {
	s := "["
	for i, u := range us {
		if i > 0 {
			s += " "
		}
		sign := "+"
		if u.Deleted {
			sign = "-"
		}
		s += fmt.Sprintf("%s%s#%d", sign, u.Link.Name, u.Link.Index)
	}
	return s + "]"
}

func TestTable(t *testing.T) {
	tb := newTable([]string{"eth0", "br0"})
	ev := func(evs []Event) string {
		s := "["
		for i, e := range evs {
			if i > 0 {
				s += " "
			}
			sign := "+"
			if e.Gone {
				sign = "-"
			}
			s += fmt.Sprintf("%s%s#%d", sign, e.Link.Name, e.Link.Index)
		}
		return s + "]"
	}
	for _, c := range []struct {
		what string
		u    Update
		want string
	}{
		{"eth0 listed", Update{Link: Link{Index: 2, Name: "eth0"}}, "[+eth0#2]"},
		{"another interface", Update{Link: Link{Index: 3, Name: "eth1"}}, "[]"},
		{"eth0 changes", Update{Link: Link{Index: 2, Name: "eth0", Up: true}}, "[+eth0#2]"},
		{"eth0 renamed away", Update{Link: Link{Index: 2, Name: "lan"}}, "[-eth0#2]"},
		{"eth1 renamed eth0", Update{Link: Link{Index: 3, Name: "eth0"}}, "[+eth0#3]"},
		{"eth0 with a new index, its deletion missed", Update{Link: Link{Index: 9, Name: "eth0"}}, "[-eth0#3 +eth0#9]"},
		{"an old deletion", Update{Link: Link{Index: 3, Name: "eth0"}, Deleted: true}, "[]"},
		{"br0 listed", Update{Link: Link{Index: 5, Name: "br0"}}, "[+br0#5]"},
		{"br0 deleted", Update{Link: Link{Index: 5, Name: "br0"}, Deleted: true}, "[-br0#5]"},
	} {
		if got := ev(tb.apply(c.u)); got != c.want {
			t.Errorf("%s: %s, want %s", c.what, got, c.want)
		}
	}
	if got := ev(tb.forget()); got != "[-eth0#9]" {
		t.Errorf("forget: %s", got)
	}
	if len(tb.links) != 0 {
		t.Error("forget kept links")
	}
}
