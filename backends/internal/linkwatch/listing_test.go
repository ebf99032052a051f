package linkwatch

import (
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
