package privdrop

import (
	"errors"
	"os/user"
	"slices"
	"strings"
	"testing"
)

func TestParseSpec(t *testing.T) {
	for _, tc := range []struct{ in, user, group, err string }{
		{"nobody", "nobody", "", ""},
		{"nobody:nogroup", "nobody", "nogroup", ""},
		{"1000:1000", "1000", "1000", ""},
		{"", "", "", "no user"},
		{":staff", "", "", "no user"},
		{"nobody:", "", "", "empty group"},
		{"a:b:c", "", "", "more than one"},
	} {
		u, g, err := ParseSpec(tc.in)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) || !strings.Contains(err.Error(), "USER:GROUP") {
				t.Errorf("ParseSpec(%q) = %v, want an error with %q and the form", tc.in, err, tc.err)
			}
			continue
		}
		if err != nil || u != tc.user || g != tc.group {
			t.Errorf("ParseSpec(%q) = %q, %q, %v", tc.in, u, g, err)
		}
	}
}

// TestLookup resolves the user every Unix system has, nobody, by name
// and by number, and with a group.
func TestLookup(t *testing.T) {
	nobody, err := user.Lookup("nobody")
	if err != nil {
		t.Skip("no user nobody here:", err)
	}
	c, err := Lookup("nobody")
	if err != nil {
		t.Fatal(err)
	}
	if c.User != "nobody" || c.UID == 0 || c.Group == "" || !slices.Contains(c.Groups, c.GID) {
		t.Errorf("Lookup(nobody) = %+v", c)
	}
	byID, err := Lookup(nobody.Uid)
	if err != nil || byID.UID != c.UID || byID.User != "nobody" {
		t.Errorf("Lookup(%s) = %+v, %v", nobody.Uid, byID, err)
	}
	withGroup, err := Lookup("nobody:12345")
	if err != nil || withGroup.GID != 12345 || withGroup.Groups[0] != 12345 {
		t.Errorf("Lookup(nobody:12345) = %+v, %v", withGroup, err)
	}
	if !strings.Contains(c.String(), "nobody:") {
		t.Errorf("String() = %q", c.String())
	}
	// A user ID with no entry is still a user the kernel takes.
	num, err := Lookup("4242")
	if err != nil || num.UID != 4242 || num.GID != 4242 {
		t.Errorf("Lookup(4242) = %+v, %v", num, err)
	}
}

func TestLookupErrors(t *testing.T) {
	for in, want := range map[string]string{
		"no-such-user-l2f":         `no user "no-such-user-l2f"`,
		"nobody:no-such-group-l2f": `no group "no-such-group-l2f"`,
		"root":                     "that is root",
		"0":                        "that is root",
	} {
		if _, err := Lookup(in); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Lookup(%q) = %v, want %q", in, err, want)
		}
	}
}

func TestNeedsRoot(t *testing.T) {
	for _, k := range []string{"host", "tap", "feth"} {
		if what, ok := NeedsRoot(k); !ok || what == "" {
			t.Errorf("NeedsRoot(%s) = %q, %v", k, what, ok)
		}
	}
	for _, k := range []string{"dgram", "vm", "stream", ""} {
		if _, ok := NeedsRoot(k); ok {
			t.Errorf("NeedsRoot(%s) = true", k)
		}
		if err := CheckKind(k, Credential{User: "nobody"}); err != nil {
			t.Errorf("CheckKind(%s) = %v", k, err)
		}
	}
	err := CheckKind("host", Credential{User: "nobody"})
	var nr *NeedRootError
	if !errors.As(err, &nr) || nr.Kind != "host" {
		t.Fatalf("CheckKind(host) = %v", err)
	}
	for _, want := range []string{"host ports need root", "nobody", "--user", "open at start", "without --user"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("%q lacks %q", err, want)
		}
	}
}
